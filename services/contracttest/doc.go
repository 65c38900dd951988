// Package contracttest holds the shop's contract tests that need the
// services themselves; it has no code of its own, only tests.
//
//   - consumer_test.go runs the real gateway against a recording fake orders
//     service over gRPC and writes what the gateway needs of orders to the
//     pact contracts/testdata/gateway-orders.pact.json (with -update; without
//     it, the test fails when the committed pact is stale).
//   - provider_test.go replays that pact against the real orders service,
//     with real inventory and payments, and checks every field the gateway
//     reads.
//   - rest_test.go drives the real gateway through every status of its
//     OpenAPI document, docs/openapi.yaml, and validates each answer
//     (status, content type, headers, body) against the document.
package contracttest
