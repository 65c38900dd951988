package faults

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/services/faultinject"
)

// The services of the topology the tests run against: a system that is not
// the shop. api (HTTP) calls store and cache; store calls cache and ledger;
// cache has no fault admin API.
const (
	svcAPI    = "api"
	svcStore  = "store"
	svcCache  = "cache"
	svcLedger = "ledger"
)

// testTopology is the tests' lab as faults see it.
func testTopology() Topology {
	return Topology{
		Services: []Service{
			{Name: svcAPI, Protocol: ProtocolHTTP, RequestFaults: true,
				Methods: []string{"POST /v1/items", "GET /v1/items/{id}", "GET /v1/catalog"}},
			{Name: svcStore, Protocol: ProtocolGRPC, RequestFaults: true,
				Methods: []string{"/store.v1.StoreService/Put", "/store.v1.StoreService/Get", "/store.v1.StoreService/List"}},
			{Name: svcCache, Protocol: ProtocolGRPC},
			{Name: svcLedger, Protocol: ProtocolGRPC, RequestFaults: true,
				Methods: []string{"/ledger.v1.LedgerService/Debit", "/ledger.v1.LedgerService/Credit", "/ledger.v1.LedgerService/ListEntries"}},
		},
		Edges: []string{"client->api", "api->store", "api->cache", "store->cache", "store->ledger"},
	}
}

// methods returns the methods of service in the test topology.
func methods(t *testing.T, service string) []string {
	t.Helper()
	s, ok := testTopology().Service(service)
	require.True(t, ok, service)
	return s.Methods
}

func TestTopology(t *testing.T) {
	top := testTopology()
	assert.Equal(t, []string{svcAPI, svcStore, svcCache, svcLedger}, top.ServiceNames())
	assert.Equal(t, []string{svcAPI, svcStore, svcLedger}, top.WithRequestFaults())
	s, ok := top.Service(svcLedger)
	require.True(t, ok)
	assert.Equal(t, ProtocolGRPC, s.Protocol)
	_, ok = top.Service("catalog")
	assert.False(t, ok)
	assert.Empty(t, Topology{}.ServiceNames())
	assert.Empty(t, Topology{}.WithRequestFaults())

	tests := []struct{ edge, proxy string }{
		{"client->api", "client_to_api"},
		{"api->store", "api_to_store"},
		{"api->cache", "api_to_cache"},
		{"store->cache", "store_to_cache"},
		{"store->ledger", "store_to_ledger"},
	}
	require.Len(t, top.Edges, len(tests))
	for i, tt := range tests {
		assert.Equal(t, tt.edge, top.Edges[i])
		assert.Equal(t, tt.proxy, ProxyName(tt.edge))
		assert.Equal(t, tt.proxy, NetworkFault{Edge: tt.edge}.Proxy())
	}
	for _, s := range top.Services {
		for _, m := range s.Methods {
			require.NoError(t, faultinject.Fault{Method: m, Latency: faultinject.Duration(time.Millisecond)}.Validate(), m)
		}
	}
	for _, toxic := range Toxics() {
		assert.NotNil(t, Attributes(toxic), toxic)
	}
	assert.Nil(t, Attributes("nope"))
}
