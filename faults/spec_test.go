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
			spec:   network("orders->payments", ToxicLatency, map[string]int64{"latency": 200, "jitter": 50}),
			kind:   KindNetwork,
			target: "orders->payments",
			str:    "network orders->payments latency stream=downstream toxicity=1 jitter=50 latency=200",
		},
		{
			name: "bandwidth upstream on some connections",
			spec: Spec{Network: &NetworkFault{Edge: "gateway->inventory", Toxic: ToxicBandwidth, Stream: Upstream,
				Toxicity: 0.5, Attributes: map[string]int64{"rate": 10}}},
			kind: KindNetwork, target: "gateway->inventory",
			str: "network gateway->inventory bandwidth stream=upstream toxicity=0.5 rate=10",
		},
		{name: "slow_close", spec: network("client->gateway", ToxicSlowClose, map[string]int64{"delay": 100}),
			kind: KindNetwork, target: "client->gateway", str: "network client->gateway slow_close stream=downstream toxicity=1 delay=100"},
		{name: "blackhole", spec: network("orders->payments", ToxicTimeout, map[string]int64{"timeout": 0}),
			kind: KindNetwork, target: "orders->payments", str: "network orders->payments timeout stream=downstream toxicity=1 timeout=0"},
		{name: "reset_peer without timeout", spec: network("orders->payments", ToxicResetPeer, nil),
			kind: KindNetwork, target: "orders->payments", str: "network orders->payments reset_peer stream=downstream toxicity=1"},
		{name: "slicer", spec: network("gateway->inventory", ToxicSlicer, map[string]int64{"average_size": 64, "size_variation": 32, "delay": 2000}),
			kind: KindNetwork, target: "gateway->inventory",
			str: "network gateway->inventory slicer stream=downstream toxicity=1 average_size=64 delay=2000 size_variation=32"},
		{name: "limit_data", spec: network("gateway->orders", ToxicLimitData, map[string]int64{"bytes": 1024}),
			kind: KindNetwork, target: "gateway->orders", str: "network gateway->orders limit_data stream=downstream toxicity=1 bytes=1024"},
		{name: "down", spec: network("orders->inventory", ToxicDown, nil),
			kind: KindNetwork, target: "orders->inventory", str: "network orders->inventory down"},
		{name: "kill with restart", spec: Spec{Process: &ProcessFault{Service: Orders, Action: ActionKill, RestartAfter: 3 * time.Second}},
			kind: KindProcess, target: "orders", str: "process orders kill restart_after=3s"},
		{name: "pause", spec: Spec{Process: &ProcessFault{Service: Payments, Action: ActionPause}},
			kind: KindProcess, target: "payments", str: "process payments pause"},
		{name: "restart", spec: Spec{Process: &ProcessFault{Service: Gateway, Action: ActionRestart}},
			kind: KindProcess, target: "gateway", str: "process gateway restart"},
		{name: "grpc error", spec: Spec{Request: request(Payments, "/payments.v1.PaymentsService/Charge")},
			kind: KindRequest, target: "payments",
			str: "request payments /payments.v1.PaymentsService/Charge grpc_code=UNAVAILABLE probability=0.1"},
		{name: "http latency and status on every route",
			spec: Spec{Request: &RequestFault{Service: Gateway, Method: "*", Latency: 50 * time.Millisecond, HTTPStatus: 503, Probability: 1}},
			kind: KindRequest, target: "gateway", str: "request gateway * latency=50ms http_status=503 probability=1"},
		{name: "abort on a route",
			spec: Spec{Request: &RequestFault{Service: Gateway, Method: "GET /v1/orders/{id}", Abort: true, Probability: 0.5}},
			kind: KindRequest, target: "gateway", str: "request gateway GET /v1/orders/{id} abort probability=0.5"},
		{name: "container stop", spec: Spec{Container: &ContainerFault{Service: Orders, Action: ContainerStop}},
			kind: KindContainer, target: "orders", str: "container orders stop"},
		{name: "container kill", spec: Spec{Container: &ContainerFault{Service: Inventory, Action: ContainerKill}},
			kind: KindContainer, target: "inventory", str: "container inventory kill"},
		{name: "container pause", spec: Spec{Container: &ContainerFault{Service: Gateway, Action: ContainerPause}},
			kind: KindContainer, target: "gateway", str: "container gateway pause"},
		{name: "container disconnect", spec: Spec{Container: &ContainerFault{Service: Payments, Action: ContainerDisconnect}},
			kind: KindContainer, target: "payments", str: "container payments disconnect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.spec.Validate())
			assert.Empty(t, tt.spec.Problems())
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
		{name: "a process and a container fault", spec: Spec{Process: &ProcessFault{Service: Orders, Action: ActionKill},
			Container: &ContainerFault{Service: Orders, Action: ContainerKill}},
			want: []FieldError{{Msg: "set only one of network, process, request or container per fault: list them as separate faults", Allowed: Kinds()}}},
		{name: "empty container", spec: Spec{Container: &ContainerFault{}}, want: []FieldError{
			{Field: "container.service", Msg: "service is missing: name the service the fault is on", Allowed: Services()},
			{Field: "container.action", Msg: "action is missing: say what happens to the container", Allowed: ContainerActions()},
		}},
		{name: "unknown container service and action", spec: Spec{Container: &ContainerFault{Service: "toxiproxy", Action: "restart"}},
			want: []FieldError{
				{Field: "container.service", Msg: `unknown service "toxiproxy"`, Allowed: Services()},
				{Field: "container.action", Msg: `unknown action "restart"`, Allowed: []string{"stop", "kill", "pause", "disconnect"}},
			}},
		{name: "empty network", spec: Spec{Network: &NetworkFault{}}, want: []FieldError{
			{Field: "network.edge", Msg: "edge is missing: name the edge the fault is on", Allowed: Edges()},
			{Field: "network.toxic", Msg: "toxic is missing: name the kind of network fault", Allowed: Toxics()},
			{Field: "network.stream", Msg: "stream is missing: say which direction the toxic acts on", Allowed: Streams()},
			{Field: "network.toxicity", Msg: "toxicity 0: must be in (0, 1], the fraction of connections hit (1 for all)"},
		}},
		{name: "unknown edge, toxic and stream",
			spec: Spec{Network: &NetworkFault{Edge: "payments->orders", Toxic: "jitter", Stream: "sideways", Toxicity: 1.5,
				Attributes: map[string]int64{"jitter": 5}}},
			want: []FieldError{
				{Field: "network.edge", Msg: `unknown edge "payments->orders"`, Allowed: Edges()},
				{Field: "network.toxic", Msg: `unknown toxic "jitter"`, Allowed: Toxics()},
				{Field: "network.stream", Msg: `unknown stream "sideways"`, Allowed: Streams()},
				{Field: "network.toxicity", Msg: "toxicity 1.5: must be in (0, 1], the fraction of connections hit (1 for all)"},
			}},
		{name: "latency missing, jitter out of range, unknown attribute",
			spec: network("orders->payments", ToxicLatency, map[string]int64{"jitter": -1, "rate": 5}),
			want: []FieldError{
				{Field: "network.attributes", Msg: "latency needs attribute latency (ms)"},
				{Field: "network.attributes.jitter", Msg: "jitter -1: must be from 0 to 3600000 (ms)"},
				{Field: "network.attributes.rate", Msg: `latency has no attribute "rate"`, Allowed: []string{"latency", "jitter"}},
			}},
		{name: "latency zero", spec: network("orders->payments", ToxicLatency, map[string]int64{"latency": 0}),
			want: []FieldError{{Field: "network.attributes.latency", Msg: "latency 0: must be from 1 to 3600000 (ms)"}}},
		{name: "bandwidth needs a rate", spec: network("gateway->inventory", ToxicBandwidth, nil),
			want: []FieldError{{Field: "network.attributes", Msg: "bandwidth needs attribute rate (KB/s)"}}},
		{name: "timeout needs its timeout", spec: network("orders->payments", ToxicTimeout, nil),
			want: []FieldError{{Field: "network.attributes", Msg: "timeout needs attribute timeout (ms)"}}},
		{name: "slicer variation not below average",
			spec: network("gateway->inventory", ToxicSlicer, map[string]int64{"average_size": 10, "size_variation": 10}),
			want: []FieldError{{Field: "network.attributes.size_variation",
				Msg: "size_variation 10: must be below average_size (10), or chunks could be empty"}}},
		{name: "limit_data zero bytes", spec: network("gateway->orders", ToxicLimitData, map[string]int64{"bytes": 0}),
			want: []FieldError{{Field: "network.attributes.bytes", Msg: "bytes 0: must be from 1 to 1099511627776 (bytes)"}}},
		{name: "down with attributes, upstream and partial toxicity",
			spec: Spec{Network: &NetworkFault{Edge: "orders->inventory", Toxic: ToxicDown, Stream: Upstream, Toxicity: 0.5,
				Attributes: map[string]int64{"latency": 5}}},
			want: []FieldError{
				{Field: "network.stream", Msg: "down disables the whole proxy, both streams: remove stream"},
				{Field: "network.toxicity", Msg: "down disables the whole proxy, every connection: remove toxicity"},
				{Field: "network.attributes.latency", Msg: "down takes no attributes: remove latency"},
			}},
		{name: "empty process", spec: Spec{Process: &ProcessFault{}}, want: []FieldError{
			{Field: "process.service", Msg: "service is missing: name the service the fault is on", Allowed: Services()},
			{Field: "process.action", Msg: "action is missing: say what happens to the process", Allowed: Actions()},
		}},
		{name: "unknown service and action", spec: Spec{Process: &ProcessFault{Service: "catalog", Action: "stop"}}, want: []FieldError{
			{Field: "process.service", Msg: `unknown service "catalog"`, Allowed: Services()},
			{Field: "process.action", Msg: `unknown action "stop"`, Allowed: Actions()},
		}},
		{name: "restart_after on pause", spec: Spec{Process: &ProcessFault{Service: Orders, Action: ActionPause, RestartAfter: time.Second}},
			want: []FieldError{{Field: "process.restart_after", Msg: "restart_after applies to kill only: pause ends with the phase"}}},
		{name: "negative restart_after", spec: Spec{Process: &ProcessFault{Service: Orders, Action: ActionKill, RestartAfter: -time.Second}},
			want: []FieldError{{Field: "process.restart_after", Msg: "restart_after -1s: must be from 0 (at the end of the phase) to 1h0m0s"}}},
		{name: "method of another service", spec: Spec{Request: request(Payments, "/inventory.v1.InventoryService/Reserve")},
			want: []FieldError{{Field: "request.method", Msg: `payments has no method "/inventory.v1.InventoryService/Reserve"`,
				Allowed: []string{"*", "/payments.v1.PaymentsService/Charge", "/payments.v1.PaymentsService/Refund", "/payments.v1.PaymentsService/ListCharges"}}}},
		{name: "a wrong method hides the rules that depend on it",
			spec: Spec{Request: &RequestFault{Service: Payments, Method: "Charge", GRPCCode: "UNAVAILABLE", Probability: 1}},
			want: []FieldError{{Field: "request.method", Msg: `payments has no method "Charge"`,
				Allowed: append([]string{"*"}, Methods(Payments)...)}}},
		{name: "unknown service of a request fault", spec: Spec{Request: request("catalog", "*")},
			want: []FieldError{{Field: "request.service", Msg: `unknown service "catalog"`, Allowed: Services()}}},
		{name: "missing method and probability",
			spec: Spec{Request: &RequestFault{Service: Orders, GRPCCode: "UNAVAILABLE"}},
			want: []FieldError{
				{Field: "request.method", Msg: `method is missing: name the method or route to hit, or "*" for all`,
					Allowed: append([]string{"*"}, Methods(Orders)...)},
				{Field: "request.probability", Msg: "probability 0: must be in (0, 1], the fraction of matching requests hit (1 for all)"},
			}},
		{name: "grpc_code on the gateway", spec: Spec{Request: &RequestFault{Service: Gateway, Method: "*", GRPCCode: "UNAVAILABLE", Probability: 1}},
			want: []FieldError{{Field: "request.grpc_code", Msg: "grpc_code applies to gRPC services; the gateway serves HTTP: use http_status"}}},
		{name: "http_status on a gRPC service", spec: Spec{Request: &RequestFault{Service: Payments, Method: "*", HTTPStatus: 503, Probability: 1}},
			want: []FieldError{{Field: "request.http_status", Msg: "http_status applies to the gateway's HTTP routes; payments serves gRPC: use grpc_code"}}},
		{name: "faultinject's own rules, by field",
			spec: Spec{Request: &RequestFault{Service: Payments, Method: "/payments.v1.PaymentsService/Charge",
				GRPCCode: "NOPE", Latency: 2 * time.Hour, Probability: 1}},
			want: []FieldError{
				{Field: "request.latency", Msg: "latency 2h0m0s: must be from 0 to 1h0m0s"},
				{Field: "request.grpc_code", Msg: `grpc_code "NOPE": not a gRPC status code name; use a canonical name like UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL or RESOURCE_EXHAUSTED`},
			}},
		{name: "a fault that does nothing", spec: Spec{Request: &RequestFault{Service: Payments, Method: "*", Probability: 1}},
			want: []FieldError{{Field: "request", Msg: "the fault does nothing: set a latency, a grpc_code, an http_status or abort"}}},
		{name: "abort with a code", spec: Spec{Request: &RequestFault{Service: Payments, Method: "*", Abort: true, GRPCCode: "INTERNAL", Probability: 1}},
			want: []FieldError{{Field: "request.abort", Msg: "abort closes the connection without any response: do not combine it with grpc_code or http_status"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.spec.Problems())
			err := tt.spec.Validate()
			require.Error(t, err)
			var first FieldError
			require.ErrorAs(t, err, &first)
			assert.Equal(t, tt.want[0], first)
			assert.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), len(tt.want))
		})
	}
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
	r := RequestFault{Service: Payments, Method: "/payments.v1.PaymentsService/Charge", Latency: 20 * time.Millisecond,
		GRPCCode: "UNAVAILABLE", Probability: 0.1}
	assert.Equal(t, faultinject.Fault{Method: "/payments.v1.PaymentsService/Charge",
		Latency: faultinject.Duration(20 * time.Millisecond), GRPCCode: "UNAVAILABLE", Probability: 0.1}, r.ToFaultinject())
	require.NoError(t, r.ToFaultinject().Validate())
}

func TestTopology(t *testing.T) {
	tests := []struct{ edge, proxy string }{
		{"client->gateway", "client_to_gateway"},
		{"gateway->orders", "gateway_to_orders"},
		{"gateway->inventory", "gateway_to_inventory"},
		{"orders->inventory", "orders_to_inventory"},
		{"orders->payments", "orders_to_payments"},
	}
	require.Len(t, Edges(), len(tests))
	for i, tt := range tests {
		assert.Equal(t, tt.edge, Edges()[i])
		assert.Equal(t, tt.proxy, ProxyName(tt.edge))
		assert.Equal(t, tt.proxy, NetworkFault{Edge: tt.edge}.Proxy())
	}
	for _, s := range Services() {
		require.NotEmpty(t, Methods(s), s)
		for _, m := range Methods(s) {
			require.NoError(t, faultinject.Fault{Method: m, Latency: faultinject.Duration(time.Millisecond)}.Validate(), m)
		}
	}
	assert.Nil(t, Methods("catalog"))
	for _, toxic := range Toxics() {
		assert.NotNil(t, Attributes(toxic), toxic)
	}
	assert.Nil(t, Attributes("nope"))
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
		{network("orders->payments", ToxicLatency, map[string]int64{"latency": 1}),
			"a latency toxic on orders->payments downstream", "a latency toxic on orders->payments downstream"},
		{network("orders->payments", ToxicDown, nil), "the proxy of orders->payments down", "the proxy of orders->payments down"},
		{Spec{Process: &ProcessFault{Service: Orders, Action: ActionKill}}, "service orders", "a process fault on orders"},
		{Spec{Container: &ContainerFault{Service: Orders, Action: ContainerPause}}, "service orders", "a container fault on orders"},
		{Spec{Request: request(Orders, "*")}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.spec.String(), func(t *testing.T) {
			slot, what := tt.spec.Fault().Occupies()
			assert.Equal(t, tt.slot, slot)
			assert.Equal(t, tt.what, what)
		})
	}
}
