package faults

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/services/faultinject"
)

func network(edge, toxic string, attrs map[string]int64) Spec {
	return Spec{Network: &NetworkFault{Edge: edge, Toxic: toxic, Stream: Downstream, Toxicity: 1, Attributes: attrs}}
}

func request(service, method string) *RequestFault {
	return &RequestFault{Service: service, Method: method, GRPCCode: "UNAVAILABLE", Probability: 0.1}
}

func TestSpecValid(t *testing.T) {
	tests := []struct {
		name       string
		spec       Spec
		kind       string
		target     string
		str        string
		wantString string
	}{
		{
			name:   "latency with jitter",
			spec:   network("store->ledger", ToxicLatency, map[string]int64{"latency": 200, "jitter": 50}),
			kind:   KindNetwork,
			target: "store->ledger",
			str:    "network store->ledger latency stream=downstream toxicity=1 jitter=50 latency=200",
		},
		{
			name: "bandwidth upstream on some connections",
			spec: Spec{Network: &NetworkFault{Edge: "api->cache", Toxic: ToxicBandwidth, Stream: Upstream,
				Toxicity: 0.5, Attributes: map[string]int64{"rate": 10}}},
			kind: KindNetwork, target: "api->cache",
			str: "network api->cache bandwidth stream=upstream toxicity=0.5 rate=10",
		},
		{name: "slow_close", spec: network("client->api", ToxicSlowClose, map[string]int64{"delay": 100}),
			kind: KindNetwork, target: "client->api", str: "network client->api slow_close stream=downstream toxicity=1 delay=100"},
		{name: "blackhole", spec: network("store->ledger", ToxicTimeout, map[string]int64{"timeout": 0}),
			kind: KindNetwork, target: "store->ledger", str: "network store->ledger timeout stream=downstream toxicity=1 timeout=0"},
		{name: "reset_peer without timeout", spec: network("store->ledger", ToxicResetPeer, nil),
			kind: KindNetwork, target: "store->ledger", str: "network store->ledger reset_peer stream=downstream toxicity=1"},
		{name: "slicer", spec: network("api->cache", ToxicSlicer, map[string]int64{"average_size": 64, "size_variation": 32, "delay": 2000}),
			kind: KindNetwork, target: "api->cache",
			str: "network api->cache slicer stream=downstream toxicity=1 average_size=64 delay=2000 size_variation=32"},
		{name: "limit_data", spec: network("api->store", ToxicLimitData, map[string]int64{"bytes": 1024}),
			kind: KindNetwork, target: "api->store", str: "network api->store limit_data stream=downstream toxicity=1 bytes=1024"},
		{name: "down", spec: network("store->cache", ToxicDown, nil),
			kind: KindNetwork, target: "store->cache", str: "network store->cache down"},
		{name: "kill with restart", spec: Spec{Process: &ProcessFault{Service: svcStore, Action: ActionKill, RestartAfter: 3 * time.Second}},
			kind: KindProcess, target: "store", str: "process store kill restart_after=3s"},
		{name: "pause", spec: Spec{Process: &ProcessFault{Service: svcLedger, Action: ActionPause}},
			kind: KindProcess, target: "ledger", str: "process ledger pause"},
		{name: "restart", spec: Spec{Process: &ProcessFault{Service: svcAPI, Action: ActionRestart}},
			kind: KindProcess, target: "api", str: "process api restart"},
		{name: "grpc error", spec: Spec{Request: request(svcLedger, "/ledger.v1.LedgerService/Debit")},
			kind: KindRequest, target: "ledger",
			str: "request ledger /ledger.v1.LedgerService/Debit grpc_code=UNAVAILABLE probability=0.1"},
		{name: "http latency and status on every route",
			spec: Spec{Request: &RequestFault{Service: svcAPI, Method: "*", Latency: 50 * time.Millisecond, HTTPStatus: 503, Probability: 1}},
			kind: KindRequest, target: "api", str: "request api * latency=50ms http_status=503 probability=1"},
		{name: "abort on a route",
			spec: Spec{Request: &RequestFault{Service: svcAPI, Method: "GET /v1/items/{id}", Abort: true, Probability: 0.5}},
			kind: KindRequest, target: "api", str: "request api GET /v1/items/{id} abort probability=0.5"},
		{name: "container stop", spec: Spec{Container: &ContainerFault{Service: svcStore, Action: ContainerStop}},
			kind: KindContainer, target: "store", str: "container store stop"},
		{name: "container kill", spec: Spec{Container: &ContainerFault{Service: svcCache, Action: ContainerKill}},
			kind: KindContainer, target: "cache", str: "container cache kill"},
		{name: "container pause", spec: Spec{Container: &ContainerFault{Service: svcAPI, Action: ContainerPause}},
			kind: KindContainer, target: "api", str: "container api pause"},
		{name: "container disconnect", spec: Spec{Container: &ContainerFault{Service: svcLedger, Action: ContainerDisconnect}},
			kind: KindContainer, target: "ledger", str: "container ledger disconnect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.spec.Validate(testTopology()))
			assert.Empty(t, tt.spec.Problems(testTopology()))
			assert.Equal(t, tt.kind, tt.spec.Kind())
			assert.Equal(t, tt.target, tt.spec.Target())
			assert.Equal(t, tt.str, tt.spec.String())
		})
	}
}

func TestSpecProblems(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want []FieldError
	}{
		{name: "empty", spec: Spec{},
			want: []FieldError{{Msg: "the fault is empty: set one of network, process, request or container", Allowed: Kinds()}}},
		{name: "two kinds", spec: Spec{Network: &NetworkFault{}, Process: &ProcessFault{}},
			want: []FieldError{{Msg: "set only one of network, process, request or container per fault: list them as separate faults", Allowed: Kinds()}}},
		{name: "a process and a container fault", spec: Spec{Process: &ProcessFault{Service: svcStore, Action: ActionKill},
			Container: &ContainerFault{Service: svcStore, Action: ContainerKill}},
			want: []FieldError{{Msg: "set only one of network, process, request or container per fault: list them as separate faults", Allowed: Kinds()}}},
		{name: "empty container", spec: Spec{Container: &ContainerFault{}}, want: []FieldError{
			{Field: "container.service", Msg: "service is missing: name the service the fault is on", Allowed: testTopology().ServiceNames()},
			{Field: "container.action", Msg: "action is missing: say what happens to the container", Allowed: ContainerActions()},
		}},
		{name: "unknown container service and action", spec: Spec{Container: &ContainerFault{Service: "toxiproxy", Action: "restart"}},
			want: []FieldError{
				{Field: "container.service", Msg: `unknown service "toxiproxy"`, Allowed: testTopology().ServiceNames()},
				{Field: "container.action", Msg: `unknown action "restart"`, Allowed: []string{"stop", "kill", "pause", "disconnect"}},
			}},
		{name: "empty network", spec: Spec{Network: &NetworkFault{}}, want: []FieldError{
			{Field: "network.edge", Msg: "edge is missing: name the edge the fault is on", Allowed: testTopology().Edges},
			{Field: "network.toxic", Msg: "toxic is missing: name the kind of network fault", Allowed: Toxics()},
			{Field: "network.stream", Msg: "stream is missing: say which direction the toxic acts on", Allowed: Streams()},
			{Field: "network.toxicity", Msg: "toxicity 0: must be in (0, 1], the fraction of connections hit (1 for all)"},
		}},
		{name: "unknown edge, toxic and stream",
			spec: Spec{Network: &NetworkFault{Edge: "ledger->store", Toxic: "jitter", Stream: "sideways", Toxicity: 1.5,
				Attributes: map[string]int64{"jitter": 5}}},
			want: []FieldError{
				{Field: "network.edge", Msg: `unknown edge "ledger->store"`, Allowed: testTopology().Edges},
				{Field: "network.toxic", Msg: `unknown toxic "jitter"`, Allowed: Toxics()},
				{Field: "network.stream", Msg: `unknown stream "sideways"`, Allowed: Streams()},
				{Field: "network.toxicity", Msg: "toxicity 1.5: must be in (0, 1], the fraction of connections hit (1 for all)"},
			}},
		{name: "latency missing, jitter out of range, unknown attribute",
			spec: network("store->ledger", ToxicLatency, map[string]int64{"jitter": -1, "rate": 5}),
			want: []FieldError{
				{Field: "network.attributes", Msg: "latency needs attribute latency (ms)"},
				{Field: "network.attributes.jitter", Msg: "jitter -1: must be from 0 to 3600000 (ms)"},
				{Field: "network.attributes.rate", Msg: `latency has no attribute "rate"`, Allowed: []string{"latency", "jitter"}},
			}},
		{name: "latency zero", spec: network("store->ledger", ToxicLatency, map[string]int64{"latency": 0}),
			want: []FieldError{{Field: "network.attributes.latency", Msg: "latency 0: must be from 1 to 3600000 (ms)"}}},
		{name: "bandwidth needs a rate", spec: network("api->cache", ToxicBandwidth, nil),
			want: []FieldError{{Field: "network.attributes", Msg: "bandwidth needs attribute rate (KB/s)"}}},
		{name: "timeout needs its timeout", spec: network("store->ledger", ToxicTimeout, nil),
			want: []FieldError{{Field: "network.attributes", Msg: "timeout needs attribute timeout (ms)"}}},
		{name: "slicer variation not below average",
			spec: network("api->cache", ToxicSlicer, map[string]int64{"average_size": 10, "size_variation": 10}),
			want: []FieldError{{Field: "network.attributes.size_variation",
				Msg: "size_variation 10: must be below average_size (10), or chunks could be empty"}}},
		{name: "limit_data zero bytes", spec: network("api->store", ToxicLimitData, map[string]int64{"bytes": 0}),
			want: []FieldError{{Field: "network.attributes.bytes", Msg: "bytes 0: must be from 1 to 1099511627776 (bytes)"}}},
		{name: "down with attributes, upstream and partial toxicity",
			spec: Spec{Network: &NetworkFault{Edge: "store->cache", Toxic: ToxicDown, Stream: Upstream, Toxicity: 0.5,
				Attributes: map[string]int64{"latency": 5}}},
			want: []FieldError{
				{Field: "network.stream", Msg: "down disables the whole proxy, both streams: remove stream"},
				{Field: "network.toxicity", Msg: "down disables the whole proxy, every connection: remove toxicity"},
				{Field: "network.attributes.latency", Msg: "down takes no attributes: remove latency"},
			}},
		{name: "empty process", spec: Spec{Process: &ProcessFault{}}, want: []FieldError{
			{Field: "process.service", Msg: "service is missing: name the service the fault is on", Allowed: testTopology().ServiceNames()},
			{Field: "process.action", Msg: "action is missing: say what happens to the process", Allowed: Actions()},
		}},
		{name: "unknown service and action", spec: Spec{Process: &ProcessFault{Service: "catalog", Action: "stop"}}, want: []FieldError{
			{Field: "process.service", Msg: `unknown service "catalog"`, Allowed: testTopology().ServiceNames()},
			{Field: "process.action", Msg: `unknown action "stop"`, Allowed: Actions()},
		}},
		{name: "restart_after on pause", spec: Spec{Process: &ProcessFault{Service: svcStore, Action: ActionPause, RestartAfter: time.Second}},
			want: []FieldError{{Field: "process.restart_after", Msg: "restart_after applies to kill only: pause ends with the phase"}}},
		{name: "negative restart_after", spec: Spec{Process: &ProcessFault{Service: svcStore, Action: ActionKill, RestartAfter: -time.Second}},
			want: []FieldError{{Field: "process.restart_after", Msg: "restart_after -1s: must be from 0 (at the end of the phase) to 1h0m0s"}}},
		{name: "method of another service", spec: Spec{Request: request(svcLedger, "/cache.v1.CacheService/Get")},
			want: []FieldError{{Field: "request.method", Msg: `ledger has no method "/cache.v1.CacheService/Get"`,
				Allowed: []string{"*", "/ledger.v1.LedgerService/Debit", "/ledger.v1.LedgerService/Credit", "/ledger.v1.LedgerService/ListEntries"}}}},
		{name: "a wrong method hides the rules that depend on it",
			spec: Spec{Request: &RequestFault{Service: svcLedger, Method: "Debit", GRPCCode: "UNAVAILABLE", Probability: 1}},
			want: []FieldError{{Field: "request.method", Msg: `ledger has no method "Debit"`,
				Allowed: append([]string{"*"}, methods(t, svcLedger)...)}}},
		{name: "a service without a fault admin API takes no request faults",
			spec: Spec{Request: request(svcCache, "/cache.v1.CacheService/Get")},
			want: []FieldError{{Field: "request.service", Msg: "cache takes no request faults: it has no fault admin API",
				Allowed: []string{svcAPI, svcStore, svcLedger}}}},
		{name: "no topology: unknown names pass, the values do not", spec: Spec{Request: request("anything", "nope")},
			want: []FieldError{
				{Field: "request.method", Msg: `method "nope" is not an HTTP route: write "<VERB> <path pattern>", like "POST /v1/orders", or "*"`},
				{Field: "request.grpc_code", Msg: `grpc_code applies to gRPC methods, not to the HTTP route "nope": use http_status`},
			}},
		{name: "unknown service of a request fault", spec: Spec{Request: request("catalog", "*")},
			want: []FieldError{{Field: "request.service", Msg: `unknown service "catalog"`, Allowed: testTopology().ServiceNames()}}},
		{name: "missing method and probability",
			spec: Spec{Request: &RequestFault{Service: svcStore, GRPCCode: "UNAVAILABLE"}},
			want: []FieldError{
				{Field: "request.method", Msg: `method is missing: name the method or route to hit, or "*" for all`,
					Allowed: append([]string{"*"}, methods(t, svcStore)...)},
				{Field: "request.probability", Msg: "probability 0: must be in (0, 1], the fraction of matching requests hit (1 for all)"},
			}},
		{name: "grpc_code on the api", spec: Spec{Request: &RequestFault{Service: svcAPI, Method: "*", GRPCCode: "UNAVAILABLE", Probability: 1}},
			want: []FieldError{{Field: "request.grpc_code", Msg: "grpc_code applies to gRPC services; api serves HTTP: use http_status"}}},
		{name: "http_status on a gRPC service", spec: Spec{Request: &RequestFault{Service: svcLedger, Method: "*", HTTPStatus: 503, Probability: 1}},
			want: []FieldError{{Field: "request.http_status", Msg: "http_status applies to HTTP services; ledger serves gRPC: use grpc_code"}}},
		{name: "faultinject's own rules, by field",
			spec: Spec{Request: &RequestFault{Service: svcLedger, Method: "/ledger.v1.LedgerService/Debit",
				GRPCCode: "NOPE", Latency: 2 * time.Hour, Probability: 1}},
			want: []FieldError{
				{Field: "request.latency", Msg: "latency 2h0m0s: must be from 0 to 1h0m0s"},
				{Field: "request.grpc_code", Msg: `grpc_code "NOPE": not a gRPC status code name; use a canonical name like UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL or RESOURCE_EXHAUSTED`},
			}},
		{name: "a fault that does nothing", spec: Spec{Request: &RequestFault{Service: svcLedger, Method: "*", Probability: 1}},
			want: []FieldError{{Field: "request", Msg: "the fault does nothing: set a latency, a grpc_code, an http_status or abort"}}},
		{name: "abort with a code", spec: Spec{Request: &RequestFault{Service: svcLedger, Method: "*", Abort: true, GRPCCode: "INTERNAL", Probability: 1}},
			want: []FieldError{{Field: "request.abort", Msg: "abort closes the connection without any response: do not combine it with grpc_code or http_status"}}},
	}
	top := testTopology()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.HasPrefix(tt.name, "no topology") {
				assert.Equal(t, tt.want, tt.spec.problems(nil))
				return
			}
			assert.Equal(t, tt.want, tt.spec.Problems(top))
			err := tt.spec.Validate(top)
			require.Error(t, err)
			var first FieldError
			require.ErrorAs(t, err, &first)
			assert.Equal(t, tt.want[0], first)
			assert.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), len(tt.want))
		})
	}
}

// A service that takes request faults but lists no methods takes them on
// "*" only.
func TestRequestFaultWithoutMethods(t *testing.T) {
	top := Topology{Services: []Service{{Name: "plain", Protocol: ProtocolGRPC, RequestFaults: true}}}
	assert.Empty(t, Spec{Request: request("plain", "*")}.Problems(top))
	assert.Equal(t, []FieldError{{Field: "request.method", Msg: `plain has no method "/plain.v1.Plain/Do"`, Allowed: []string{"*"}}},
		Spec{Request: request("plain", "/plain.v1.Plain/Do")}.Problems(top))
}

func TestFieldErrorText(t *testing.T) {
	assert.Equal(t, "network.edge: unknown edge \"x\"; allowed: a, b",
		FieldError{Field: "network.edge", Msg: `unknown edge "x"`, Allowed: []string{"a", "b"}}.Error())
	assert.Equal(t, "the fault is empty", FieldError{Msg: "the fault is empty"}.Error())
	assert.Equal(t, "invalid fault: 0 of network, process, request, container set", Spec{}.String())
	assert.Equal(t, []string{"network", "process", "request", "container"}, Kinds())
	assert.Empty(t, Spec{}.Kind())
	assert.Empty(t, Spec{}.Target())
}

func TestToFaultinject(t *testing.T) {
	r := RequestFault{Service: svcLedger, Method: "/ledger.v1.LedgerService/Debit", Latency: 20 * time.Millisecond,
		GRPCCode: "UNAVAILABLE", Probability: 0.1}
	assert.Equal(t, faultinject.Fault{Method: "/ledger.v1.LedgerService/Debit",
		Latency: faultinject.Duration(20 * time.Millisecond), GRPCCode: "UNAVAILABLE", Probability: 0.1}, r.ToFaultinject())
	require.NoError(t, r.ToFaultinject().Validate())
}

// The envelope lists every field of Spec, in order, each holding the kind
// its JSON name says: adding a kind of fault is its file, its field and its
// line in envelope, and this test catches a field without its line.
func TestEnvelopeHoldsEveryField(t *testing.T) {
	typ := reflect.TypeFor[Spec]()
	kinds := envelope()
	require.Len(t, kinds, typ.NumField(), "one line of envelope per field of Spec")
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		require.Equal(t, reflect.Pointer, f.Type.Kind(), f.Name)
		var s Spec
		reflect.ValueOf(&s).Elem().Field(i).Set(reflect.New(f.Type.Elem()))
		got := s.Fault()
		require.NotNil(t, got, "Spec.%s is in the envelope", f.Name)
		assert.Equal(t, name, got.Kind(), "Spec.%s holds the kind its JSON names", f.Name)
		assert.Equal(t, name, kinds[i].zero.Kind(), "envelope line %d", i)
		assert.Equal(t, name, Kinds()[i])
		assert.Equal(t, reflect.ValueOf(got).Type(), f.Type.Elem(), "Spec.Fault returns the field's value")
		assert.True(t, strings.HasPrefix(got.String(), name+" "), "String starts with the kind: %q", got.String())
	}
	assert.Nil(t, Spec{}.Fault(), "no fault")
	assert.Nil(t, Spec{Network: &NetworkFault{}, Request: &RequestFault{}}.Fault(), "two faults are not one")
}

func TestOccupies(t *testing.T) {
	tests := []struct {
		spec       Spec
		slot, what string
	}{
		{network("store->ledger", ToxicLatency, map[string]int64{"latency": 1}),
			"a latency toxic on store->ledger downstream", "a latency toxic on store->ledger downstream"},
		{network("store->ledger", ToxicDown, nil), "the proxy of store->ledger down", "the proxy of store->ledger down"},
		{Spec{Process: &ProcessFault{Service: svcStore, Action: ActionKill}}, "service store", "a process fault on store"},
		{Spec{Container: &ContainerFault{Service: svcStore, Action: ContainerPause}}, "service store", "a container fault on store"},
		{Spec{Request: request(svcStore, "*")}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.spec.String(), func(t *testing.T) {
			slot, what := tt.spec.Fault().Occupies()
			assert.Equal(t, tt.slot, slot)
			assert.Equal(t, tt.what, what)
		})
	}
}
