package cli

import (
	"encoding/json"
	"github.com/chaoslab/chaoslab/harness/exitcode"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	toxiserver "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/stack/local"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
	"github.com/chaoslab/chaoslab/services/faultinject"
)

func TestCleanNoLab(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{name: "no state", setup: func(*testing.T, string) {}, want: "no lab in"},
		{name: "lab no longer running", setup: func(t *testing.T, dir string) {
			writeState(t, local.State{RunDir: dir, Procs: []local.Proc{{Name: "toxiproxy", PID: 0}}})
		}, want: "not running any more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			env, out, errOut := testEnv(nil)
			code := Run(t.Context(), env, []string{"clean", "-run-dir", dir})
			assert.Equal(t, exitcode.Infra, code)
			assert.Contains(t, errOut.String(), tt.want)
			assert.Contains(t, errOut.String(), dir)
			assert.Empty(t, out.String())
		})
	}
}

// TestCleanAfterCrash: a run applied faults and died; clean removes them
// from a lab found through its state file (here the lab is the real
// Toxiproxy server and faultinject admin APIs, in this process).
func TestCleanAfterCrash(t *testing.T) {
	dir := t.TempDir()
	srv := toxiserver.NewServer(toxiserver.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	api := httptest.NewServer(srv.Routes())
	t.Cleanup(func() {
		api.Close()
		_ = srv.Collection.Clear()
	})
	tp := toxiproxy.New(api.URL)
	var specs []toxiproxy.ProxySpec
	shop, err := loadLabFile(libraryLab)
	require.NoError(t, err)
	for _, e := range shop.Edges {
		specs = append(specs, toxiproxy.ProxySpec{Name: e.Proxy(), Listen: "127.0.0.1:0", Upstream: "127.0.0.1:1"})
	}
	require.NoError(t, tp.Populate(t.Context(), specs))
	ep := stack.Endpoints{ToxiproxyURL: api.URL, Services: map[string]stack.Service{}, ServiceOrder: shopServices(t)}
	injectors := map[string]*faultinject.Injector{}
	for _, svc := range shopServices(t) {
		in := faultinject.NewInjector(nil, nil)
		s := httptest.NewServer(in.AdminHandler())
		t.Cleanup(s.Close)
		injectors[svc] = in
		ep.Services[svc] = stack.Service{AdminURL: s.URL}
	}
	// The lab's state: this test's process stands for a running component.
	st := local.State{StartedAt: time.Now(), RunDir: dir, Endpoints: ep,
		Procs: []local.Proc{{Name: "toxiproxy", PID: os.Getpid()}}}
	writeState(t, st)
	lab, err := local.Attach(local.Config{RunDir: dir})
	require.NoError(t, err)

	ledger, err := faults.OpenLedger(faults.LedgerPath(dir))
	require.NoError(t, err)
	crashed := faults.NewInjector(stack.FaultEnv(lab, nil), ledger)
	for _, s := range []faults.Spec{
		{Network: &faults.NetworkFault{Edge: "orders->payments", Toxic: faults.ToxicLatency, Stream: faults.Downstream, Toxicity: 1,
			Attributes: map[string]int64{"latency": 200}}},
		{Network: &faults.NetworkFault{Edge: "gateway->inventory", Toxic: faults.ToxicDown, Stream: faults.Downstream, Toxicity: 1}},
		{Request: &faults.RequestFault{Service: "payments", Method: "*", GRPCCode: "UNAVAILABLE", Probability: 0.1}},
	} {
		_, err := crashed.Apply(t.Context(), "run-42", "latency", "fault", s)
		require.NoError(t, err)
	}
	require.NoError(t, ledger.Close())

	env, out, errOut := testEnv(nil)
	code := Run(t.Context(), env, []string{"clean", "-run-dir", dir})
	require.Equal(t, exitcode.OK, code, errOut.String())
	assert.Equal(t, []string{
		"rolled back request fault * on payments (from run run-42, phase fault)",
		"rolled back network down on gateway->inventory (from run run-42, phase fault)",
		"rolled back network latency on orders->payments (from run run-42, phase fault)",
		"lab is clean",
	}, strings.Split(strings.TrimSpace(out.String()), "\n"))

	proxies, err := tp.Proxies(t.Context())
	require.NoError(t, err)
	for name, p := range proxies {
		assert.Empty(t, p.Toxics, name)
		assert.True(t, p.Enabled, name)
	}
	assert.Empty(t, injectors["payments"].List())

	out.Reset()
	code = Run(t.Context(), env, []string{"clean", "-run-dir", dir})
	require.Equal(t, exitcode.OK, code, errOut.String())
	assert.Equal(t, "no fault pending in the ledger\nlab is clean\n", out.String())
}

// shopServices are the services of the shop's lab file, dependencies first.
func shopServices(t *testing.T) []string {
	t.Helper()
	shop, err := loadLabFile(libraryLab)
	require.NoError(t, err)
	return shop.StartOrder()
}

// writeState writes a lab state file into st.RunDir.
func writeState(t *testing.T, st local.State) {
	t.Helper()
	b, err := json.Marshal(st)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(st.RunDir, "state.json"), b, 0o644))
}
