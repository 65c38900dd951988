package stack_test

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"slices"
	"sync"
	"syscall"
	"testing"

	toxiserver "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
)

// recorder logs the calls made to a fake stack.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
}

func (r *recorder) log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// procStack is a stack.Stack of processes: payments alone has an admin API.
type procStack struct{ *recorder }

func (procStack) Endpoints() stack.Endpoints {
	return stack.Endpoints{ToxiproxyURL: "http://127.0.0.1:1", ServiceOrder: []string{"payments", "orders"}, Services: map[string]stack.Service{
		"payments": {AdminURL: "http://127.0.0.1:2"}, "orders": {},
	}}
}

func (s procStack) Signal(_ context.Context, service string, sig syscall.Signal) error {
	s.add("signal %s %s", service, sig)
	return nil
}

func (s procStack) Restart(_ context.Context, service string, _ map[string]string) error {
	s.add("restart %s", service)
	return nil
}

// containerStack is a procStack whose services are containers, always
// running and connected.
type containerStack struct{ procStack }

var _ faults.Containers = containerStack{}

func (s containerStack) op(name, service string) error { s.add("%s %s", name, service); return nil }

func (s containerStack) StopContainer(_ context.Context, svc string) error { return s.op("stop", svc) }
func (s containerStack) StartContainer(_ context.Context, svc string) error {
	return s.op("start", svc)
}
func (s containerStack) KillContainer(_ context.Context, svc string) error { return s.op("kill", svc) }
func (s containerStack) PauseContainer(_ context.Context, svc string) error {
	return s.op("pause", svc)
}
func (s containerStack) UnpauseContainer(_ context.Context, svc string) error {
	return s.op("unpause", svc)
}
func (s containerStack) DisconnectContainer(_ context.Context, svc string) error {
	return s.op("disconnect", svc)
}
func (s containerStack) ConnectContainer(_ context.Context, svc string) error {
	return s.op("connect", svc)
}
func (s containerStack) ContainerState(context.Context, string) (string, bool, error) {
	return "paused", true, nil
}

func TestFaultEnv(t *testing.T) {
	procs := &recorder{}
	env := stack.FaultEnv(procStack{procs}, nil)
	assert.Nil(t, env.Containers, "a lab of processes")
	assert.NotNil(t, env.Processes)
	assert.NotNil(t, env.Toxiproxy)
	u, err := env.AdminURL("payments")
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:2", u)
	_, err = env.AdminURL("orders")
	require.ErrorIs(t, err, faults.ErrNoAdminAPI, "rollback's request sweep skips such a service")
	assert.ErrorContains(t, err, `service "orders"`)

	cs := &recorder{}
	env = stack.FaultEnv(containerStack{procStack{cs}}, nil)
	require.NotNil(t, env.Containers, "a lab of containers")
	ledger, err := faults.OpenLedger(faults.LedgerPath(t.TempDir()))
	require.NoError(t, err)
	t.Cleanup(func() { ledger.Close() })
	in := faults.NewInjector(env, ledger)
	a, err := in.Apply(t.Context(), "r", "sc", "fault", faults.Spec{Container: &faults.ContainerFault{Service: "payments", Action: faults.ContainerPause}})
	require.NoError(t, err)
	require.NoError(t, in.Remove(t.Context(), a))
	assert.Equal(t, []string{"pause payments", "unpause payments"}, cs.log(),
		"container faults go to the containers, not to process signals")
}

// FaultProxies carries what network faults ask of the real Toxiproxy.
func TestFaultProxies(t *testing.T) {
	srv := toxiserver.NewServer(toxiserver.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	api := httptest.NewServer(srv.Routes())
	t.Cleanup(func() {
		api.Close()
		_ = srv.Collection.Clear()
	})
	up, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { up.Close() })
	c := toxiproxy.New(api.URL)
	require.NoError(t, c.Populate(t.Context(), []toxiproxy.ProxySpec{{Name: "a_to_b", Listen: "127.0.0.1:0", Upstream: up.Addr().String()}}))

	p := stack.FaultProxies(c)
	slow := faults.Toxic{Name: "chaoslab-1", Type: faults.ToxicLatency, Stream: faults.Upstream, Toxicity: 0.5,
		Attributes: map[string]int64{"latency": 250, "jitter": 20}}
	require.NoError(t, p.AddToxic(t.Context(), "a_to_b", slow))
	require.NoError(t, p.SetEnabled(t.Context(), "a_to_b", false))
	ps, err := p.Proxies(t.Context())
	require.NoError(t, err)
	assert.Equal(t, map[string]faults.Proxy{"a_to_b": {Enabled: false, Toxics: []faults.Toxic{slow}}}, ps)

	require.NoError(t, p.RemoveToxic(t.Context(), "a_to_b", slow.Name))
	require.NoError(t, p.SetEnabled(t.Context(), "a_to_b", true))
	ps, err = p.Proxies(t.Context())
	require.NoError(t, err)
	assert.Equal(t, map[string]faults.Proxy{"a_to_b": {Enabled: true, Toxics: []faults.Toxic{}}}, ps)
	assert.Error(t, p.AddToxic(t.Context(), "nope", slow), "an unknown proxy is an error")
}
