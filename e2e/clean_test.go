//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/stack/local"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
	"github.com/chaoslab/chaoslab/services/faultinject"
)

// A runner killed with -9 while its faults are applied leaves them in the
// lab; `chaoslab clean` reads the ledger and restores a clean lab.
func TestCleanRestoresTheLabAfterTheRunnerWasKilled(t *testing.T) {
	cfg := labConfig(t, 3000)
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	lab, err := local.Up(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { local.Down(context.Background(), cfg) })
	e := lab.Endpoints()
	args := labArgs(cfg)

	run := exec.Command(filepath.Join(root, "bin", "chaoslab"),
		append(append([]string{"run"}, args...), "-reports", t.TempDir(), filepath.Join(root, "e2e", "testdata", "long-fault.yaml"))...)
	run.Dir = root
	run.Stdout, run.Stderr = os.Stderr, os.Stderr
	require.NoError(t, run.Start())
	runDone := make(chan struct{})
	go func() { run.Wait(); close(runDone) }()

	// Wait until all three faults are applied, then kill the runner.
	ledgerPath := faults.LedgerPath(st(t, cfg).RunDir)
	require.Eventually(t, func() bool {
		l, err := faults.OpenLedger(ledgerPath)
		if err != nil {
			return false
		}
		defer l.Close()
		p, err := l.Pending()
		return err == nil && len(p) == 3
	}, 30*time.Second, 50*time.Millisecond, "the runner applies the three faults")
	time.Sleep(300 * time.Millisecond) // the last one acts right after its intent is recorded
	require.NoError(t, run.Process.Signal(syscall.SIGKILL))
	<-runDone

	tp := toxiproxy.New(e.ToxiproxyURL)
	// payments and inventory run replicas: each replica's admin API holds
	// the request fault, each replica is paused, each payments proxy has
	// the toxic.
	var admins []*faultinject.Client
	for _, i := range e.Services["payments"].Instances {
		admins = append(admins, faultinject.NewClient(i.AdminURL, http.DefaultClient))
	}
	require.Len(t, admins, 2, "payments runs two replicas")
	var inventory []local.Proc
	for _, i := range e.Services["inventory"].Instances {
		inventory = append(inventory, procOf(t, cfg, i.Name))
	}
	require.Len(t, inventory, 2, "inventory runs two replicas")
	require.Equal(t, 2, chaoslabToxics(t, tp), "the latency toxic outlived the runner, on both payments proxies")
	for _, admin := range admins {
		inService, err := admin.List(ctx)
		require.NoError(t, err)
		require.Len(t, inService, 1, "the in-service fault outlived the runner")
	}
	for _, p := range inventory {
		require.Equal(t, "T", procState(t, p.PID), "%s is still paused (SIGSTOP)", p.Name)
	}

	clean := exec.Command(filepath.Join(root, "bin", "chaoslab"), append([]string{"clean"}, args...)...)
	out, err := clean.CombinedOutput()
	require.NoError(t, err, string(out))
	t.Logf("chaoslab clean:\n%s", out)
	assert.Contains(t, string(out), "lab is clean")

	assert.Zero(t, chaoslabToxics(t, tp), "no chaoslab toxic left")
	for _, admin := range admins {
		inService, err := admin.List(ctx)
		require.NoError(t, err)
		assert.Empty(t, inService, "no in-service fault left")
	}
	for _, p := range inventory {
		assert.NotEqual(t, "T", procState(t, p.PID), "%s resumed", p.Name)
	}
	comps, _, err := local.Status(ctx, cfg)
	require.NoError(t, err)
	for _, c := range comps {
		assert.NoError(t, c.Ready, "%s ready after clean", c.Name)
	}
}

func st(t *testing.T, cfg local.Config) *local.State {
	t.Helper()
	s, err := local.ReadState(cfg.RunDir)
	require.NoError(t, err)
	return s
}

func procOf(t *testing.T, cfg local.Config, name string) local.Proc {
	t.Helper()
	s := st(t, cfg)
	for i := len(s.Procs) - 1; i >= 0; i-- {
		if s.Procs[i].Name == name {
			return s.Procs[i]
		}
	}
	t.Fatalf("no process %s in the lab", name)
	return local.Proc{}
}

// procState is the state letter of /proc/<pid>/stat ("S", "R", "T" stopped…).
func procState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	require.NoError(t, err)
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}

func chaoslabToxics(t *testing.T, tp *toxiproxy.Client) int {
	t.Helper()
	ps, err := tp.Proxies(t.Context())
	require.NoError(t, err)
	n := 0
	for _, p := range ps {
		for _, tx := range p.Toxics {
			if strings.HasPrefix(tx.Name, "chaoslab-") {
				n++
			}
		}
	}
	return n
}
