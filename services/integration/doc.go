// Package integration is the integration layer of chaoslab's test pyramid:
// each gRPC service of the shop runs in its own container, built from the
// repository's Dockerfile, behind a Toxiproxy container on a Docker network
// of its own (testcontainers-go, no image pulled). The test process is the
// caller: it dials each service through Toxiproxy with the client stack the
// shop uses (package grpcclient: deadlines, retries under a retry budget, a
// circuit breaker), injects latency, connection resets and outages, and
// measures what the caller sees.
//
// The package holds tests only; see docs/testing-integration.md.
package integration
