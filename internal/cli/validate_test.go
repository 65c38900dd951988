package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/exitcode"
)

// scriptsDir returns a directory holding the k6 scripts the scenario
// library names.
func scriptsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"checkout.js", "products.js", "checkout-fresh-token.js"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("export default function () {}\n"), 0o600))
	}
	return dir
}

// librarySLOs is the lab's SLO definitions file, which the library's
// scenarios name SLOs from.
var librarySLOs = filepath.Join("..", "..", "slo", "slos.yaml")

// okLineRE is what validate prints for a valid file.
var okLineRE = regexp.MustCompile(`^ok  \S+\.yaml \(\d+ phases, \d+ checks\)$`)

// TestValidateLibrary validates the real scenario library.
func TestValidateLibrary(t *testing.T) {
	library := filepath.Join("..", "..", "scenarios")
	files, err := filepath.Glob(filepath.Join(library, "*.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 10)

	env, out, errOut := testEnv(nil)
	code := Run(t.Context(), env, []string{"validate", "-loadtests", scriptsDir(t), "-slos", librarySLOs, "-lab", libraryLab, library})
	require.Equal(t, exitcode.OK, code, errOut.String())
	assert.Empty(t, errOut.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, len(files))
	for _, l := range lines {
		assert.Regexp(t, okLineRE, l)
	}
	assert.Contains(t, out.String(), "ok  "+filepath.Join(library, "baseline.yaml")+" (1 phases, 5 checks)\n")
}

func TestValidate(t *testing.T) {
	scripts := scriptsDir(t)
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(doc), 0o600))
		return p
	}
	good := write("good.yaml", `# Purpose: a valid scenario.
name: good
purpose: A valid scenario.
expect: pass
load: {script: checkout.js, executor: constant-arrival-rate, rate: 5}
phases:
  - {name: steady, duration: 10s}
checks:
  invariants: [no_lost_orders, no_double_charge]
`)
	bad := write("bad.yaml", `# Purpose: an invalid scenario.
name: bad
purpose: An invalid scenario.
expect: maybe
load: {script: missing.js, executor: constant-arrival-rate, rate: 5}
phases:
  - {name: steady, duration: 10s}
checks:
  invariants: [no_lost_orders]
`)
	empty := t.TempDir()
	sloTypo := filepath.Join(t.TempDir(), "slo-typo.yaml")
	require.NoError(t, os.WriteFile(sloTypo, []byte(`# Purpose: an SLO check naming an SLO that is not defined.
name: slo-typo
purpose: An SLO name with a typo.
expect: pass
load: {script: checkout.js, executor: constant-arrival-rate, rate: 5}
phases:
  - {name: steady, duration: 10s}
checks:
  slo:
    - {name: available, phase: steady, slo: checkout-availabilty, objective: ">= 0.99"}
`), 0o600))

	tests := []struct {
		name     string
		args     []string
		wantCode exitcode.Code
		wantOut  string
		wantErr  []string
	}{
		{name: "a valid file", args: []string{"-loadtests", scripts, good}, wantCode: exitcode.OK,
			wantOut: "ok  " + good + " (1 phases, 2 checks)\n"},
		{name: "an invalid file names line, field and what is allowed",
			args: []string{"-loadtests", scripts, good, bad}, wantCode: exitcode.Usage,
			wantOut: "ok  " + good + " (1 phases, 2 checks)\n",
			wantErr: []string{
				bad + `:4:9: expect: unknown value "maybe"; allowed: pass, fail` + "\n",
				bad + `:5:16: load.script: no k6 script "missing.js" in ` + scripts + "; allowed: checkout-fresh-token.js, checkout.js, products.js\n",
				"chaoslab validate: 1 of 2 scenario files are invalid\n",
			}},
		{name: "a directory", args: []string{"-loadtests", scripts, dir}, wantCode: exitcode.Usage,
			wantOut: "ok  " + good + " (1 phases, 2 checks)\n",
			wantErr: []string{bad + ":4:9: expect", "1 of 2 scenario files are invalid"}},
		{name: "scripts are looked for in -loadtests", args: []string{"-loadtests", empty, good}, wantCode: exitcode.Usage,
			wantErr: []string{good + `:5:16: load.script: no k6 script "checkout.js" in ` + empty + ", which has no scripts"}},
		{name: "an SLO check names a defined SLO", args: []string{"-loadtests", scripts, sloTypo}, wantCode: exitcode.Usage,
			wantErr: []string{sloTypo + `:10:45: checks.slo[0].slo: unknown SLO "checkout-availabilty"; defined in ` + librarySLOs + ": checkout-authorized, checkout-availability, "}},
		{name: "the SLO definitions must exist", args: []string{"-slos", filepath.Join(empty, "slos.yaml"), good}, wantCode: exitcode.Usage,
			wantErr: []string{"slos.yaml: no such file or directory"}},
		{name: "a missing file", args: []string{filepath.Join(dir, "nope.yaml")}, wantCode: exitcode.Usage,
			wantErr: []string{"nope.yaml: no such file or directory"}},
		{name: "a directory without scenarios", args: []string{empty}, wantCode: exitcode.Usage,
			wantErr: []string{"no scenario files (*.yaml) in " + empty}},
		{name: "an unknown flag", args: []string{"-nope"}, wantCode: exitcode.Usage,
			wantErr: []string{"flag provided but not defined: -nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, out, errOut := testEnv(nil)
			code := Run(t.Context(), env, append([]string{"validate", "-slos", librarySLOs, "-lab", libraryLab}, tt.args...))
			require.Equal(t, tt.wantCode, code, errOut.String())
			assert.Equal(t, tt.wantOut, out.String())
			for _, w := range tt.wantErr {
				assert.Contains(t, errOut.String(), w)
			}
			if len(tt.wantErr) == 0 {
				assert.Empty(t, errOut.String())
			}
		})
	}
}

// A scenario that would pass just the same if its fault did nothing is
// valid, with a warning that says what to add.
func TestValidateWarnsOnAScenarioThatCannotNoticeItsFault(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "blind.yaml")
	require.NoError(t, os.WriteFile(p, []byte(`name: blind
purpose: a blackhole whose checks a healthy lab passes
expect: pass
load: {script: checkout.js, executor: constant-arrival-rate, rate: 5}
phases:
  - {name: baseline, duration: 10s}
  - name: fault
    duration: 10s
    faults: [{network: {edge: orders->payments, toxic: timeout, attributes: {timeout: 0}}}]
  - {name: recovery, duration: 15s}
checks:
  slo:
    - {name: never-hangs, phase: fault, query: 'max(max_over_time(x[$window]))', objective: "< 3.5", on_empty: fail}
  recovery:
    - {name: recovers, after: fault, slo: checkout-availability, tolerance: ">= 0.99", within: 10s}
  invariants: [no_double_charge]
`), 0o600))
	env, out, errOut := testEnv(nil)
	code := Run(t.Context(), env, []string{"validate", "-loadtests", scriptsDir(t), "-slos", librarySLOs, "-lab", libraryLab, p})
	require.Equal(t, exitcode.OK, code, "a warning is not an error")
	assert.Regexp(t, okLineRE, strings.TrimSpace(out.String()))
	assert.Contains(t, errOut.String(), "warning: "+p+": no check can be seen to notice its faults missing")
	assert.Contains(t, errOut.String(), "chaoslab chaos -sensitivity")
}
