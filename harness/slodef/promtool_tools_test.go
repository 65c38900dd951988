//go:build tools

package slodef

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// promtool returns the path of promtool: the pinned one of make tools
// (.tools/bin), else the one on PATH (Debian's prometheus package). It
// fails the test when there is none: CI must have it.
func promtool(t *testing.T, root string) string {
	t.Helper()
	pinned := filepath.Join(root, ".tools", "bin", "promtool")
	if info, err := os.Stat(pinned); err == nil && info.Mode().IsRegular() {
		return pinned
	}
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found in %s nor on PATH: install prometheus (apt-get install prometheus) or run make tools", filepath.Dir(pinned))
	}
	return path
}

// runPromtool runs promtool with args in dir and returns its output; it
// fails the test when promtool fails.
func runPromtool(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

// TestRulesWithPromtool checks the lab's SLO rules with the real promtool:
// the committed files are what the generator writes, `promtool check rules`
// accepts them (and every SLI query), and the unit tests of the burn-rate
// alerts in slo/tests pass.
func TestRulesWithPromtool(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	bin := promtool(t, root)

	// Load as `chaoslab slo generate` does, from the repository's root, so
	// that the generated files name the definitions the same way.
	t.Chdir(root)
	set, err := Load(filepath.Join("slo", "slos.yaml"))
	require.NoError(t, err)
	files, err := set.Files()
	require.NoError(t, err)

	t.Run("committed rules are up to date", func(t *testing.T) {
		for name, want := range files {
			have, err := os.ReadFile(filepath.Join("slo", "rules", name))
			require.NoError(t, err)
			assert.Equal(t, string(want), string(have), "slo/rules/%s is out of date: run `chaoslab slo generate`", name)
		}
	})

	t.Run("promtool check rules", func(t *testing.T) {
		golden, err := Load(filepath.Join("harness", "slodef", "testdata", "slos.yaml"))
		require.NoError(t, err)
		dir := t.TempDir()
		rules := map[string]int{} // file → rules it must hold
		for name, data := range files {
			p := filepath.Join(dir, name)
			require.NoError(t, os.WriteFile(p, data, 0o644))
			rules[p] = len(set.SLOs) * 2 // alerts: page and ticket
			if name == RecordingFile {
				rules[p] = len(set.SLOs) * (len(set.Windows()) + 5)
			}
		}
		for _, name := range []string{RecordingFile, AlertFile} {
			rules[filepath.Join("harness", "slodef", "testdata", "golden", name)] = -1
		}
		// Every SLI query, as the runner and the dashboards use it.
		var q strings.Builder
		q.WriteString("groups:\n  - name: queries\n    rules:\n")
		n := 0
		for _, s := range []*Set{set, golden} {
			for _, name := range s.Names() {
				for _, w := range []string{"15s", "5m"} {
					query, err := s.Query(name, w)
					require.NoError(t, err)
					fmt.Fprintf(&q, "      - record: chaoslab:sli:%d\n        expr: %q\n", n, query)
					n++
				}
			}
		}
		queries := filepath.Join(dir, "queries.yml")
		require.NoError(t, os.WriteFile(queries, []byte(q.String()), 0o644))
		rules[queries] = n

		for file, count := range rules {
			out := runPromtool(t, bin, root, "check", "rules", file)
			if count >= 0 {
				assert.Contains(t, out, fmt.Sprintf("SUCCESS: %d rules found", count), file)
			} else {
				assert.Contains(t, out, "SUCCESS", file)
			}
		}
	})

	t.Run("promtool test rules", func(t *testing.T) {
		tests, err := filepath.Glob(filepath.Join("slo", "tests", "*.yml"))
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(tests), 3, "the burn-rate unit tests: no burn, fast burn, slow burn")
		out := runPromtool(t, bin, root, append([]string{"test", "rules"}, tests...)...)
		assert.Equal(t, len(tests), strings.Count(out, "SUCCESS"), out)
	})
}

// TestPromtoolCatchesBrokenAlerts proves the unit tests can fail: with the
// page factor of the alerts changed, promtool test rules fails.
func TestPromtoolCatchesBrokenAlerts(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	bin := promtool(t, root)

	dir := t.TempDir()
	for _, sub := range []string{"rules", "tests"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, sub), 0o755))
	}
	copyFile := func(from, to string, edit func(string) string) {
		data, err := os.ReadFile(filepath.Join(root, from))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, to), []byte(edit(string(data))), 0o644))
	}
	same := func(s string) string { return s }
	copyFile(filepath.Join("slo", "rules", RecordingFile), filepath.Join("rules", RecordingFile), same)
	copyFile(filepath.Join("slo", "rules", AlertFile), filepath.Join("rules", AlertFile), func(s string) string {
		require.Contains(t, s, "(14.4 * ")
		return strings.ReplaceAll(s, "(14.4 * ", "(30 * ")
	})
	copyFile(filepath.Join("slo", "tests", "fast-burn.yml"), filepath.Join("tests", "fast-burn.yml"), same)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "test", "rules", filepath.Join("tests", "fast-burn.yml"))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "promtool test rules passed with a page at 30× the budget:\n%s", out)
	assert.Contains(t, string(out), "FAILED")
	assert.Contains(t, string(out), "alertname: ErrorBudgetBurn, time: 6m10s")
}
