package local

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
)

// The local lab tells the fault injector's rollback whether a service runs
// and with which knobs.
var (
	_ faults.ProcessStatus = (*Lab)(nil)
	_ faults.KnobStatus    = (*Lab)(nil)
)

// TestRestartRecordsOverrides: a restart with flags records them in the
// state file with the new process, where a later process (`chaoslab
// clean`, the next run) reads them; a restart with the defaults clears
// them.
func TestRestartRecordsOverrides(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "logs"), 0o755))
	ready := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(ready.Close)
	// A "service" whose extra arguments (the knobs) land in its command
	// line as positional parameters of the shell.
	defaults := []string{"-c", "while :; do sleep 0.1; done", "ledger"}
	p, wait, err := spawn("ledger", "/bin/sh", defaults, []string{"LEDGER_MODE=test"}, dir, filepath.Join(dir, "logs", "ledger.log"))
	require.NoError(t, err)
	go wait()
	p.Ready = ready.URL
	st := &State{StartedAt: time.Now(), RunDir: dir, Procs: []Proc{p}, ServiceArgs: map[string][]string{"ledger": defaults}}
	require.NoError(t, st.write())
	cfg := Config{Lab: testLab(t), RunDir: dir, StopGrace: 2 * time.Second, ReadyTimeout: 5 * time.Second}
	t.Cleanup(func() { _ = Down(context.Background(), cfg) })

	lab, err := Attach(cfg)
	require.NoError(t, err)
	assert.Nil(t, lab.Overrides("ledger"), "a fresh lab runs with its defaults")

	knobs := map[string]string{"fsync": "false"}
	require.NoError(t, lab.Restart(t.Context(), "ledger", knobs))
	assert.Equal(t, knobs, lab.Overrides("ledger"))
	assert.Nil(t, lab.Overrides("store"))
	saved, err := ReadState(dir)
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]string{"ledger": knobs}, saved.Overrides)
	withKnobs := latest(t, saved, "ledger")
	assert.NotEqual(t, p.PID, withKnobs.PID)
	assert.Equal(t, append(append([]string(nil), defaults...), "--fsync=false"), withKnobs.Args, "the lab's knob_arg")
	assert.Contains(t, cmdline(t, withKnobs.PID), "ledger --fsync=false", "the process runs with the knobs the state records")

	again, err := Attach(cfg)
	require.NoError(t, err)
	assert.Equal(t, knobs, again.Overrides("ledger"), "another process (chaoslab clean) reads them from the state file")
	knobs["fsync"] = "true"
	assert.Equal(t, "false", lab.Overrides("ledger")["fsync"], "the lab keeps its own copy")
	assert.Equal(t, []string{"LEDGER_MODE=test"}, withKnobs.Env, "a restart keeps the service's environment")
	assert.Equal(t, dir, withKnobs.Dir, "and its working directory")

	require.NoError(t, again.Restart(t.Context(), "ledger", nil))
	assert.Nil(t, again.Overrides("ledger"))
	saved, err = ReadState(dir)
	require.NoError(t, err)
	assert.Empty(t, saved.Overrides)
	withDefaults := latest(t, saved, "ledger")
	assert.False(t, withKnobs.Alive())
	assert.Equal(t, defaults, withDefaults.Args)
	assert.NotContains(t, cmdline(t, withDefaults.PID), "--fsync")
	assert.Len(t, saved.Procs, 1, "one process per service")
}

func latest(t *testing.T, st *State, name string) Proc {
	t.Helper()
	i, ok := st.proc(name)
	require.True(t, ok, "no process %s", name)
	return st.Procs[i]
}

// cmdline is /proc/<pid>/cmdline with spaces between the arguments.
func cmdline(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	require.NoError(t, err)
	return strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
}
