package faults_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	toxiserver "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
	"github.com/chaoslab/chaoslab/services/faultinject"
)

// replicaTopology is api (one replica) calling store (two replicas).
func replicaTopology() faults.Topology {
	return faults.Topology{
		Services: []faults.Service{
			{Name: "api", Protocol: faults.ProtocolHTTP, RequestFaults: true},
			{Name: "store", Protocol: faults.ProtocolGRPC, RequestFaults: true, Replicas: 2},
		},
		Edges: []string{"client->api", "api->store"},
	}
}

func intp(i int) *int { return &i }

func TestReplicaProblems(t *testing.T) {
	tests := []struct {
		name string
		spec faults.Spec
		want []string // the problems' fields; none: valid
	}{
		{"a kill of one replica", faults.Spec{Process: &faults.ProcessFault{Service: "store", Action: faults.ActionKill, Replica: intp(1)}}, nil},
		{"a kill of every replica", faults.Spec{Process: &faults.ProcessFault{Service: "store", Action: faults.ActionKill}}, nil},
		{"a replica the service does not run", faults.Spec{Process: &faults.ProcessFault{Service: "store", Action: faults.ActionPause, Replica: intp(2)}}, []string{"process.replica"}},
		{"a replica of a service of one", faults.Spec{Process: &faults.ProcessFault{Service: "api", Action: faults.ActionPause, Replica: intp(0)}}, []string{"process.replica"}},
		{"a negative replica", faults.Spec{Process: &faults.ProcessFault{Service: "store", Action: faults.ActionPause, Replica: intp(-1)}}, []string{"process.replica"}},
		{"latency to one replica", faults.Spec{Network: &faults.NetworkFault{Edge: "api->store", Toxic: faults.ToxicDown, Stream: faults.Downstream, Toxicity: 1, Replica: intp(1)}}, nil},
		{"a replica of the callee that it does not run", faults.Spec{Network: &faults.NetworkFault{Edge: "api->store", Toxic: faults.ToxicDown, Stream: faults.Downstream, Toxicity: 1, Replica: intp(5)}}, []string{"network.replica"}},
		{"a replica on an edge to a service of one", faults.Spec{Network: &faults.NetworkFault{Edge: "client->api", Toxic: faults.ToxicDown, Stream: faults.Downstream, Toxicity: 1, Replica: intp(0)}}, []string{"network.replica"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fields []string
			for _, p := range tt.spec.Problems(replicaTopology()) {
				fields = append(fields, p.Field)
			}
			assert.Equal(t, tt.want, fields)
		})
	}
}

func TestReplicaNames(t *testing.T) {
	assert.Equal(t, "store", faults.InstanceName("store", 1, 0))
	assert.Equal(t, "store-1", faults.InstanceName("store", 2, 1))
	assert.Equal(t, "api_to_store", faults.ReplicaProxyName("api->store", 0))
	assert.Equal(t, "api_to_store-1", faults.ReplicaProxyName("api->store", 1))
	f := faults.ProcessFault{Service: "store", Action: faults.ActionKill, Replica: intp(1)}
	assert.Equal(t, "process store kill replica=1", f.String())
	slot, _ := f.Occupies()
	assert.Equal(t, "service store-1", slot, "two replicas are two slots")
	n := faults.NetworkFault{Edge: "api->store", Toxic: faults.ToxicDown, Replica: intp(1)}
	assert.Equal(t, "network api->store down replica=1", n.String())
	assert.Equal(t, "api_to_store-1", n.Proxy())
}

// replicaLab is a real Toxiproxy (in memory) with one proxy per replica of
// store, a real admin API per replica and fake process control.
type replicaLab struct {
	tp    *toxiproxy.Client
	admin map[string]*faultinject.Injector // by instance
	procs *fakeProcs
	env   faults.Env
}

func newReplicaLab(t *testing.T) *replicaLab {
	t.Helper()
	srv := toxiserver.NewServer(toxiserver.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	api := httptest.NewServer(srv.Routes())
	t.Cleanup(func() {
		api.Close()
		_ = srv.Collection.Clear()
	})
	lab := &replicaLab{tp: toxiproxy.New(api.URL), admin: map[string]*faultinject.Injector{}, procs: newFakeProcs()}
	echo := startEcho(t)
	proxies := []string{"api_to_store", "api_to_store-1"}
	var specs []toxiproxy.ProxySpec
	for _, p := range proxies {
		specs = append(specs, toxiproxy.ProxySpec{Name: p, Listen: "127.0.0.1:0", Upstream: echo})
	}
	require.NoError(t, lab.tp.Populate(t.Context(), specs))
	urls := map[string]string{}
	for _, inst := range []string{"api", "store-0", "store-1"} {
		in := faultinject.NewInjector(nil, nil)
		s := httptest.NewServer(in.AdminHandler())
		t.Cleanup(s.Close)
		lab.admin[inst], urls[inst] = in, s.URL
		lab.procs.running[inst] = true
	}
	lab.env = faults.Env{
		Services:  []string{"store", "api"},
		Toxiproxy: stack.FaultProxies(lab.tp),
		Processes: lab.procs,
		AdminURL: func(service string) (string, error) {
			if service == "store" {
				service = "store-0"
			}
			return urls[service], nil
		},
		HTTP: &http.Client{Timeout: 5 * time.Second},
		Instances: func(service string) []string {
			if service == "store" {
				return []string{"store-0", "store-1"}
			}
			return nil
		},
		EdgeProxies: func(edge string) []string {
			if edge == "api->store" {
				return proxies
			}
			return nil
		},
	}
	return lab
}

// faulty returns the proxies that carry a toxic, or are disabled.
func (l *replicaLab) faulty(t *testing.T) []string {
	t.Helper()
	ps, err := l.tp.Proxies(t.Context())
	require.NoError(t, err)
	var out []string
	for name, p := range ps {
		if len(p.Toxics) > 0 || !p.Enabled {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func TestFaultsOnReplicas(t *testing.T) {
	latency := map[string]int64{"latency": 50}
	tests := []struct {
		name    string
		spec    faults.Spec
		applied func(t *testing.T, lab *replicaLab)
	}{
		{
			name: "latency on the edge: every replica's proxy",
			spec: faults.Spec{Network: &faults.NetworkFault{Edge: "api->store", Toxic: faults.ToxicLatency, Stream: faults.Downstream, Toxicity: 1, Attributes: latency}},
			applied: func(t *testing.T, lab *replicaLab) {
				assert.Equal(t, []string{"api_to_store", "api_to_store-1"}, lab.faulty(t))
			},
		},
		{
			name: "down on one replica's proxy",
			spec: faults.Spec{Network: &faults.NetworkFault{Edge: "api->store", Toxic: faults.ToxicDown, Stream: faults.Downstream, Toxicity: 1, Replica: intp(1)}},
			applied: func(t *testing.T, lab *replicaLab) {
				assert.Equal(t, []string{"api_to_store-1"}, lab.faulty(t))
			},
		},
		{
			name: "a request fault: every replica's admin API",
			spec: faults.Spec{Request: &faults.RequestFault{Service: "store", Method: "*", GRPCCode: "UNAVAILABLE", Probability: 1}},
			applied: func(t *testing.T, lab *replicaLab) {
				assert.Len(t, lab.admin["store-0"].List(), 1)
				assert.Len(t, lab.admin["store-1"].List(), 1)
				assert.Empty(t, lab.admin["api"].List())
			},
		},
		{
			name: "a pause of one replica",
			spec: faults.Spec{Process: &faults.ProcessFault{Service: "store", Action: faults.ActionPause, Replica: intp(1)}},
			applied: func(t *testing.T, lab *replicaLab) {
				assert.Equal(t, []string{"signal store-1 stopped (signal)"}, lab.procs.log())
			},
		},
		{
			name: "a pause of the service",
			spec: faults.Spec{Process: &faults.ProcessFault{Service: "store", Action: faults.ActionPause}},
			applied: func(t *testing.T, lab *replicaLab) {
				assert.Equal(t, []string{"signal store stopped (signal)"}, lab.procs.log(), "the stack pauses every replica of a service")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab := newReplicaLab(t)
			lab.procs.running["store"] = true
			require.NoError(t, tt.spec.Validate(replicaTopology()))
			in, _ := newInjector(t, lab.env)
			a, err := in.Apply(t.Context(), "run", "scenario", "phase", tt.spec)
			require.NoError(t, err)
			tt.applied(t, lab)
			require.NoError(t, in.Remove(t.Context(), a))
			assert.Empty(t, lab.faulty(t), "removed from every proxy")
			for inst, fi := range lab.admin {
				assert.Empty(t, fi.List(), inst)
			}
			for _, inst := range []string{"store", "store-1"} {
				_, paused := lab.procs.state(inst)
				assert.False(t, paused, inst)
			}
		})
	}
}
