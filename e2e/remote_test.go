//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/stack/local"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
	"github.com/chaoslab/chaoslab/services/faultinject"
)

// A local lab presented as remote: `chaoslab remote-file` writes its
// endpoints, and `chaoslab run -stack remote` reaches it through them
// only — a network fault through its Toxiproxy, a request fault through an
// admin API — with real verdicts, every fault rolled back; a process
// fault is refused before anything runs.
func TestRemoteStackRunsALabItDoesNotOwn(t *testing.T) {
	cfg := labConfig(t, 8000)
	root := repoRoot(t)
	chaoslab := filepath.Join(root, "bin", "chaoslab")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	lab, err := local.Up(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { local.Down(context.Background(), cfg) })
	e := lab.Endpoints()
	t.Logf("local lab up in %s", time.Since(start).Round(time.Millisecond))

	remoteFile := filepath.Join(t.TempDir(), "remote.yaml")
	rf := exec.CommandContext(ctx, chaoslab, append(append([]string{"remote-file"}, labArgs(cfg)...), "-o", remoteFile)...)
	rf.Dir = root // the default -lab, labs/shop/lab.yaml
	out, err := rf.CombinedOutput()
	require.NoError(t, err, string(out))
	doc, err := os.ReadFile(remoteFile)
	require.NoError(t, err)
	require.Contains(t, string(doc), "toxiproxy: "+e.ToxiproxyURL)

	remoteRunDir := t.TempDir()
	remoteArgs := []string{"-stack", "remote", "-remote", remoteFile, "-remote-run-dir", remoteRunDir}
	runRemote := func(t *testing.T, reports string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.CommandContext(ctx, chaoslab, append(append(append([]string{"run"}, remoteArgs...), "-reports", reports), args...)...)
		cmd.Dir = root // the default -lab, labs/shop/lab.yaml
		b, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return string(b), code
	}

	t.Run("a process fault is refused before anything runs", func(t *testing.T) {
		reports := t.TempDir()
		out, code := runRemote(t, reports, filepath.Join("scenarios", "orders-kill9.yaml"))
		assert.Equal(t, 2, code, out)
		assert.Contains(t, out, "scenarios/orders-kill9.yaml:22:9: phases[1].faults[0].process: stack remote cannot apply process faults: it owns no process of the lab")
		assert.Contains(t, out, "allowed: network faults (Toxiproxy), request faults (admin APIs)")
		assert.NotContains(t, out, "running ", "no scenario started")
		entries, err := os.ReadDir(reports)
		require.NoError(t, err)
		assert.Empty(t, entries, "no report: nothing ran")
	})

	t.Run("a network fault and a request fault, through the endpoints", func(t *testing.T) {
		reports := t.TempDir()
		runStart := time.Now()
		out, code := runRemote(t, reports, filepath.Join("scenarios", "products-slicer.yaml"), filepath.Join("scenarios", "payments-errors-10pct.yaml"))
		t.Logf("chaoslab run -stack remote (%s):\n%s", time.Since(runStart).Round(time.Second), out)
		require.Equal(t, 0, code, "both scenarios end as expected")

		for _, tt := range []struct{ scenario, kind, target string }{
			{"products-slicer", "network", "gateway->inventory"},
			{"payments-errors-10pct", "request", "payments"},
		} {
			j := readJournal(t, reports, tt.scenario)
			assert.Equal(t, "remote", j.Stack)
			assert.Equal(t, journal.AsExpected, j.Verdict, "%s: %s", tt.scenario, j.VerdictReason)
			require.Len(t, j.Faults, 1, tt.scenario)
			f := j.Faults[0]
			assert.Equal(t, tt.kind, f.Kind)
			assert.Equal(t, tt.target, f.Target)
			assert.False(t, f.Applied.IsZero(), "%s: applied", tt.scenario)
			assert.True(t, f.Removed.After(f.Applied), "%s: removed after it was applied", tt.scenario)
			assert.Empty(t, f.RemoveError)
			for _, c := range j.Checks {
				assert.True(t, c.OnData, "%s: check %s decided on data", tt.scenario, c.Name)
			}
		}

		// The ledger is the remote stack's, in its own run dir: the run went
		// through the file, not the local lab's state.
		assert.FileExists(t, faults.LedgerPath(remoteRunDir))
		assert.NoFileExists(t, faults.LedgerPath(cfg.RunDir))
		l, err := faults.OpenLedger(faults.LedgerPath(remoteRunDir))
		require.NoError(t, err)
		pending, err := l.Pending()
		require.NoError(t, err)
		assert.Empty(t, pending, "no fault pending in the remote stack's ledger")
		require.NoError(t, l.Close())

		// Rolled back in the lab itself, not just in the journal.
		proxies, err := toxiproxy.New(e.ToxiproxyURL).Proxies(ctx)
		require.NoError(t, err)
		for name, p := range proxies {
			assert.Empty(t, p.Toxics, "no toxic left on %s", name)
			assert.True(t, p.Enabled, "%s enabled", name)
		}
		for _, svc := range e.ServiceOrder {
			if e.Services[svc].AdminURL == "" {
				continue // no fault admin API (the broker)
			}
			list, err := faultinject.NewClient(e.Services[svc].AdminURL, http.DefaultClient).List(ctx)
			require.NoError(t, err)
			assert.Empty(t, list, "no in-service fault left on %s", svc)
		}
	})

	t.Run("down leaves the lab running", func(t *testing.T) {
		down := exec.CommandContext(ctx, chaoslab, append([]string{"down"}, remoteArgs...)...)
		down.Dir = root
		out, err := down.CombinedOutput()
		require.NoError(t, err, string(out))
		assert.Contains(t, string(out), "runs on: chaoslab owns none of its processes")
		comps, _, err := local.Status(ctx, cfg)
		require.NoError(t, err)
		for _, c := range comps {
			assert.True(t, c.Running, "%s still runs", c.Name)
		}
	})
}

// readJournal reads the journal of scenario in the one run directory of
// reports.
func readJournal(t *testing.T, reports, scenario string) *journal.Journal {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(reports, "*", scenario))
	require.NoError(t, err)
	require.Len(t, dirs, 1, "one report directory of %s in %s", scenario, reports)
	j, err := journal.Read(dirs[0])
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(j.File, scenario+".yaml"))
	return j
}
