package cli

import (
	"context"
	"github.com/chaoslab/chaoslab/harness/exitcode"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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
	"github.com/chaoslab/chaoslab/services/faultinject"
)

// TestCleanRestoresKnobs: a run restarted orders with knobs and died; clean
// restarts orders with the lab's defaults and says whose knobs they were.
// orders is a shell loop here, whose command line carries its flags.
func TestCleanRestoresKnobs(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "logs"), 0o755))
	srv := toxiserver.NewServer(toxiserver.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	api := httptest.NewServer(srv.Routes())
	t.Cleanup(api.Close)
	ready := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(ready.Close)
	ep := stack.Endpoints{ToxiproxyURL: api.URL, Services: map[string]stack.Service{}, ServiceOrder: shopServices(t)}
	for _, svc := range shopServices(t) {
		s := httptest.NewServer(faultinject.NewInjector(nil, nil).AdminHandler())
		t.Cleanup(s.Close)
		ep.Services[svc] = stack.Service{AdminURL: s.URL}
	}
	defaults := []string{"-c", "while :; do sleep 0.1; done", "orders"}
	cmd := exec.Command("/bin/sh", defaults...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	require.NoError(t, cmd.Start())
	go cmd.Wait()
	st := local.State{StartedAt: time.Now(), RunDir: dir, Endpoints: ep,
		Procs:       []local.Proc{{Name: "orders", PID: cmd.Process.Pid, Path: "/bin/sh", Args: defaults, Ready: ready.URL}},
		ServiceArgs: map[string][]string{"orders": defaults}}
	writeState(t, st)
	shop, err := loadLabFile(libraryLab)
	require.NoError(t, err)
	cfg := local.Config{Lab: shop, RunDir: dir, StopGrace: 2 * time.Second, ReadyTimeout: 5 * time.Second}
	t.Cleanup(func() { _ = local.Down(context.Background(), cfg) })

	lab, err := local.Attach(cfg)
	require.NoError(t, err)
	ledger, err := faults.OpenLedger(faults.LedgerPath(dir))
	require.NoError(t, err)
	crashed := faults.NewInjector(stack.FaultEnv(lab, nil), ledger)
	_, err = crashed.ApplyKnobs(t.Context(), "run-42", "no-retries", "orders", map[string]string{"retries": "false", "breaker": "false"})
	require.NoError(t, err)
	require.NoError(t, ledger.Close())
	after, err := local.ReadState(dir)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"retries": "false", "breaker": "false"}, after.Overrides["orders"])

	env, out, errOut := testEnv(nil)
	code := Run(t.Context(), env, []string{"clean", "-run-dir", dir})
	require.Equal(t, exitcode.OK, code, errOut.String())
	assert.Equal(t, []string{
		"restored orders's defaults: -breaker=false -retries=false were set by run run-42, scenario no-retries",
		"lab is clean",
	}, strings.Split(strings.TrimSpace(out.String()), "\n"))
	after, err = local.ReadState(dir)
	require.NoError(t, err)
	assert.Empty(t, after.Overrides)
	assert.Equal(t, defaults, after.Procs[len(after.Procs)-1].Args, "orders runs with its defaults")

	out.Reset()
	code = Run(t.Context(), env, []string{"clean", "-run-dir", dir})
	require.Equal(t, exitcode.OK, code, errOut.String())
	assert.Equal(t, "no fault pending in the ledger\nlab is clean\n", out.String())
}

func TestRestoredKnobsSaysWhoseKnobsTheyWere(t *testing.T) {
	flags := map[string]string{"retries": "false", "breaker": "false"}
	tests := []struct {
		k    faults.Knobs
		want string
	}{
		{faults.Knobs{ID: "k-1", RunID: "r1", Scenario: "sc", Service: "orders", Flags: flags, AppliedAt: time.Now()},
			"restored orders's defaults: -breaker=false -retries=false were set by run r1, scenario sc"},
		{faults.Knobs{ID: "k-1", RunID: "r1", Scenario: "sc", Service: "orders", Flags: flags},
			"restored orders's defaults: -breaker=false -retries=false were being set by run r1, scenario sc"},
		{faults.Knobs{Service: "orders", Flags: flags},
			"restored orders's defaults: it ran with -breaker=false -retries=false, which no run in the ledger set"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, restoredKnobs(tt.k))
	}
}

// status shows the knobs a service runs with, so that a crashed run's
// leftovers are visible before `chaoslab clean`.
func TestStatusShowsKnobs(t *testing.T) {
	dir := t.TempDir()
	ready := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(ready.Close)
	self := local.Proc{Name: "ledger", PID: os.Getpid(), Ready: ready.URL} // this test stands for both
	other := self
	other.Name = "store"
	writeState(t, local.State{StartedAt: time.Now(), RunDir: dir, LabFile: filepath.Join(dir, "lab.yaml"),
		Procs: []local.Proc{self, other}, Overrides: map[string]map[string]string{"ledger": {"fsync": "false", "batch": "8"}}})

	env, out, errOut := testEnv(nil)
	code := Run(t.Context(), env, []string{"status", "-run-dir", dir})
	require.Equal(t, exitcode.OK, code, errOut.String())
	lines := strings.Split(out.String(), "\n")
	require.GreaterOrEqual(t, len(lines), 4, out.String())
	assert.Regexp(t, `^COMPONENT\s+PID\s+RUNNING\s+READY\s+RSS\s+KNOBS$`, lines[0])
	assert.Regexp(t, `^ledger\s+\d+\s+true\s+yes\s+\d+ MiB\s+-batch=8 -fsync=false$`, lines[1])
	assert.Regexp(t, `^store\s+\d+\s+true\s+yes\s+\d+ MiB\s+-$`, lines[2], "no knobs")
	assert.Contains(t, out.String(), "from "+filepath.Join(dir, "lab.yaml"))
}
