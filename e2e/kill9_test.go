//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/stack/local"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
	"github.com/chaoslab/chaoslab/services/faultinject"
)

// TestKill9AtEveryStageThenClean kills the runner with -9 at each stage of
// a run of a scenario with knobs — right after the knobs were applied,
// while its faults are in place, in the settle after the load — and checks
// on the real lab that `chaoslab clean` leaves no chaoslab toxic, no
// in-service fault, no service running with flags other than the lab's
// defaults and no k6 behind. The stages share one lab: each clean must
// leave it fit for the next run.
func TestKill9AtEveryStageThenClean(t *testing.T) {
	cfg := labConfig(t, 5000)
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	lab, err := local.Up(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { local.Down(context.Background(), cfg) })
	t.Logf("lab up in %s", time.Since(start).Round(time.Millisecond))
	e := lab.Endpoints()
	tp := toxiproxy.New(e.ToxiproxyURL)
	ledgerPath := faults.LedgerPath(lab.RunDir())
	knobs := map[string]string{"retries": "false", "breaker": "false"}

	stages := []struct {
		name string
		// killAt returns once the runner is at the stage to kill it in.
		killAt func(t *testing.T, out *lineWatch) bool
		// left checks what the kill left behind, before clean: proof that
		// the runner died at the stage meant.
		left func(t *testing.T, reports string)
	}{
		{
			name: "right after its knobs were applied",
			killAt: func(t *testing.T, _ *lineWatch) bool {
				return slices.ContainsFunc(readLedger(t, ledgerPath).knobs, func(k faults.Knobs) bool {
					return k.Service == "orders" && !k.AppliedAt.IsZero()
				})
			},
			left: func(t *testing.T, _ string) {
				assert.Equal(t, knobs, st(t, cfg).Overrides["orders"], "orders runs with the knobs")
				assert.Empty(t, readLedger(t, ledgerPath).faults, "no fault yet")
			},
		},
		{
			name: "while a fault is applied",
			killAt: func(t *testing.T, _ *lineWatch) bool {
				n := 0
				for _, a := range readLedger(t, ledgerPath).faults {
					if !a.AppliedAt.IsZero() {
						n++
					}
				}
				return n == 2
			},
			left: func(t *testing.T, reports string) {
				assert.Equal(t, knobs, st(t, cfg).Overrides["orders"], "orders runs with the knobs")
				assert.Equal(t, 2, chaoslabToxics(t, tp), "the latency toxic outlived the runner, on each payments replica's proxy")
				for _, i := range e.Services["payments"].Instances {
					list, err := faultinject.NewClient(i.AdminURL, http.DefaultClient).List(t.Context())
					require.NoError(t, err)
					assert.Len(t, list, 1, "the in-service fault outlived the runner on %s", i.Name)
				}
			},
		},
		{
			name:   "during the settle after the load",
			killAt: func(t *testing.T, out *lineWatch) bool { return out.saw("load done:") },
			left: func(t *testing.T, reports string) {
				assert.Equal(t, knobs, st(t, cfg).Overrides["orders"], "orders still runs with the knobs")
				assert.Empty(t, readLedger(t, ledgerPath).faults, "the runner removed its faults at the end of their phase")
				assert.Zero(t, chaoslabToxics(t, tp))
			},
		},
	}
	for _, stage := range stages {
		t.Run(stage.name, func(t *testing.T) {
			stageStart := time.Now()
			reports := t.TempDir()
			out := &lineWatch{prefix: "  run| "}
			run := exec.Command(filepath.Join(root, "bin", "chaoslab"), append(append([]string{"run"}, labArgs(cfg)...),
				"-reports", reports, filepath.Join(root, "e2e", "testdata", "kill9-knobs.yaml"))...)
			run.Dir = root
			run.Stdout, run.Stderr = out, os.Stderr
			require.NoError(t, run.Start())
			runDone := make(chan error, 1)
			go func() { runDone <- run.Wait() }()
			killed := false
			defer func() {
				if !killed {
					run.Process.Kill()
					<-runDone
				}
			}()

			deadline := time.Now().Add(60 * time.Second)
			for !stage.killAt(t, out) {
				select {
				case err := <-runDone:
					killed = true
					t.Fatalf("the runner ended (%v) before the stage to kill it in", err)
				default:
				}
				require.True(t, time.Now().Before(deadline), "the runner did not reach the stage in 60s")
				time.Sleep(20 * time.Millisecond)
			}
			if stage.name == "while a fault is applied" {
				assert.NotEmpty(t, k6Of(t, reports), "k6 runs (the scan below finds it)")
			}
			require.NoError(t, run.Process.Signal(syscall.SIGKILL))
			<-runDone
			killed = true
			t.Logf("runner killed %s after its start", time.Since(stageStart).Round(time.Millisecond))
			stage.left(t, reports)

			cleanStart := time.Now()
			clean := exec.Command(filepath.Join(root, "bin", "chaoslab"), append([]string{"clean"}, labArgs(cfg)...)...)
			cleanOut, err := clean.CombinedOutput()
			require.NoError(t, err, string(cleanOut))
			t.Logf("chaoslab clean (%s):\n%s", time.Since(cleanStart).Round(time.Millisecond), cleanOut)
			assert.Contains(t, string(cleanOut), "restored orders's defaults: -breaker=false -retries=false were set by run ")
			assert.Contains(t, string(cleanOut), ", scenario kill9-knobs\n")
			assert.Contains(t, string(cleanOut), "lab is clean")

			assertLabClean(t, cfg, reports)
			t.Logf("stage done in %s", time.Since(stageStart).Round(time.Millisecond))
		})
	}
}

// assertLabClean checks the real lab: no chaoslab toxic, no in-service
// fault, no pending record in the ledger, every service running (and
// ready) with exactly the lab's default flags, in the state file and in
// /proc/<pid>/cmdline, and no k6 of the run in reports.
func assertLabClean(t *testing.T, cfg local.Config, reports string) {
	t.Helper()
	s := st(t, cfg)
	e := s.Endpoints
	assert.Zero(t, chaoslabToxics(t, toxiproxy.New(e.ToxiproxyURL)), "no chaoslab toxic left")
	for _, inst := range instancesOf(e) {
		svc, ok := e.Instance(inst)
		require.True(t, ok, inst)
		if svc.AdminURL == "" {
			continue // no fault admin API (the broker, the registry): no in-service fault can be left on it
		}
		list, err := faultinject.NewClient(svc.AdminURL, http.DefaultClient).List(t.Context())
		require.NoError(t, err)
		assert.Empty(t, list, "no in-service fault left on %s", inst)
	}
	l := readLedger(t, faults.LedgerPath(s.RunDir))
	assert.Empty(t, l.faults, "no fault pending in the ledger")
	assert.Empty(t, l.knobs, "no knobs pending in the ledger")

	assert.Empty(t, s.Overrides, "the state records no service running with overrides")
	for _, svc := range instancesOf(e) {
		p := procOf(t, cfg, svc)
		require.True(t, p.Alive(), "%s runs", svc)
		args := cmdlineOf(t, p.PID)
		require.NotEmpty(t, args, svc)
		assert.Equal(t, s.ServiceArgs[svc], args[1:], "%s (pid %d) runs with the lab's default flags", svc, p.PID)
	}
	comps, _, err := local.Status(t.Context(), cfg)
	require.NoError(t, err)
	for _, c := range comps {
		assert.NoError(t, c.Ready, "%s ready after clean", c.Name)
	}
	assert.Eventually(t, func() bool { return len(k6Of(t, reports)) == 0 }, 5*time.Second, 50*time.Millisecond,
		"no k6 of the killed run left: %v", k6Of(t, reports))
}

// instancesOf returns every process of the lab's services: each replica
// of a service with replicas ("payments-1"), the service otherwise.
func instancesOf(e stack.Endpoints) []string {
	var out []string
	for _, svc := range e.ServiceOrder {
		if names := e.Services[svc].InstanceNames(); len(names) > 0 {
			out = append(out, names...)
			continue
		}
		out = append(out, svc)
	}
	return out
}

// ledgerState is what the ledger holds pending.
type ledgerState struct {
	faults []faults.Applied
	knobs  []faults.Knobs
}

// readLedger reads the pending faults and knobs of the ledger at path
// without opening it for writing (the runner writes it meanwhile).
func readLedger(t *testing.T, path string) ledgerState {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ledgerState{}
	}
	require.NoError(t, err)
	type entry struct {
		fault *faults.Applied
		knobs *faults.Knobs
	}
	byID := map[string]entry{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var r faults.Record
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.ID == "" {
			continue // a record being written
		}
		switch r.Event {
		case faults.EventIntent, faults.EventApplied:
			if _, ok := byID[r.ID]; !ok {
				order = append(order, r.ID)
			}
			byID[r.ID] = entry{r.Fault, r.Knobs}
		case faults.EventRemoved:
			delete(byID, r.ID)
		}
	}
	var out ledgerState
	for _, id := range order {
		en, ok := byID[id]
		switch {
		case !ok:
		case en.fault != nil:
			out.faults = append(out.faults, *en.fault)
		case en.knobs != nil:
			out.knobs = append(out.knobs, *en.knobs)
		}
	}
	return out
}

// k6Of returns the k6 processes that run in reports (k6 runs in its
// scenario's report directory; its command line holds relative paths
// only), as "pid cmdline".
func k6Of(t *testing.T, reports string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var out []string
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		args := cmdlineOf(t, pid)
		if len(args) == 0 || filepath.Base(args[0]) != "k6" {
			continue
		}
		cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		all := strings.Join(args, " ")
		if strings.HasPrefix(cwd, reports) || strings.Contains(all, reports) {
			out = append(out, fmt.Sprintf("%d %s", pid, all))
		}
	}
	return out
}

// cmdlineOf is /proc/<pid>/cmdline, split; nil for a process that is gone
// (or a zombie).
func cmdlineOf(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// lineWatch is a process's stdout: passed on to the test's stderr, and
// searchable.
type lineWatch struct {
	prefix string
	mu     sync.Mutex
	buf    bytes.Buffer
	lines  []string
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line) // an unfinished line: keep it
			break
		}
		w.lines = append(w.lines, line)
		fmt.Fprint(os.Stderr, w.prefix+line)
	}
	return len(p), nil
}

func (w *lineWatch) saw(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.ContainsFunc(w.lines, func(l string) bool { return strings.Contains(l, s) })
}
