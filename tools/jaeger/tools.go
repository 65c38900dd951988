//go:build tools

// Package tools records the Jaeger command this module builds.
package tools

import _ "github.com/jaegertracing/jaeger/cmd/jaeger"
