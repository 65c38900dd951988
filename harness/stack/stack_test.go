package stack

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/chaoslab/chaoslab/harness/toxiproxy"
)

// The proxies Toxiproxy is populated with are the endpoints' edges, in a
// stable order.
func TestProxySpecsAreTheEdgesSorted(t *testing.T) {
	e := Endpoints{Edges: map[string]Edge{
		"client->api": {Name: "client->api", Proxy: "client_to_api", Listen: "127.0.0.1:7000", Upstream: "127.0.0.1:7080"},
		"api->store":  {Name: "api->store", Proxy: "api_to_store", Listen: "127.0.0.1:7010", Upstream: "127.0.0.1:7090"},
	}}
	assert.Equal(t, []string{"api->store", "client->api"}, e.EdgeOrder())
	assert.Equal(t, []toxiproxy.ProxySpec{
		{Name: "api_to_store", Listen: "127.0.0.1:7010", Upstream: "127.0.0.1:7090"},
		{Name: "client_to_api", Listen: "127.0.0.1:7000", Upstream: "127.0.0.1:7080"},
	}, e.ProxySpecs())
}
