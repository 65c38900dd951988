package stack

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestProxyName(t *testing.T) {
	tests := map[string]string{
		"orders->payments": "orders_to_payments",
		"client->gateway":  "client_to_gateway",
		"plain":            "plain",
	}
	for edge, want := range tests {
		assert.Equal(t, want, ProxyName(edge), edge)
	}
	for _, e := range EdgeNames() {
		assert.NotContains(t, ProxyName(e), "->")
	}
}
