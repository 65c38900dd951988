package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/exitcode"
)

// sloDefs is a small definitions file.
const sloDefs = `time_scale: 60
slos:
  - name: web-availability
    description: Requests answered without a 5xx.
    objective: 99.5%
    sli:
      bad: http_requests_total{code=~"5.."}
      total: http_requests_total
`

// TestSLOCommittedRules runs `chaoslab slo check` as make does, from the
// repository's root with the default paths: the committed rules are what
// generate writes.
func TestSLOCommittedRules(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	env, out, errOut := testEnv(nil)
	code := Run(t.Context(), env, []string{"slo", "check"})
	require.Equal(t, exitcode.OK, code, errOut.String())
	assert.Equal(t, "ok  slo/rules/slo-alerts.yml\nok  slo/rules/slo-recording.yml\n", out.String())
}

func TestSLOGenerateAndCheck(t *testing.T) {
	dir := t.TempDir()
	defs := filepath.Join(dir, "slos.yaml")
	require.NoError(t, os.WriteFile(defs, []byte(sloDefs), 0o644))
	rules := filepath.Join(dir, "out", "rules") // created by generate
	recording, alerts := filepath.Join(rules, "slo-recording.yml"), filepath.Join(rules, "slo-alerts.yml")
	run := func(args ...string) (exitcode.Code, string, string) {
		env, out, errOut := testEnv(nil)
		code := Run(t.Context(), env, append([]string{"slo"}, args...))
		return code, out.String(), errOut.String()
	}

	// Nothing generated yet: check fails, naming both files.
	code, _, errOut := run("check", "-defs", defs, "-out", rules)
	assert.Equal(t, exitcode.CheckFailed, code)
	assert.Contains(t, errOut, recording+": missing\n")
	assert.Contains(t, errOut, alerts+": missing\n")
	assert.Contains(t, errOut, "chaoslab slo: 2 rule files are out of date with "+defs+": run `chaoslab slo generate` (make slo) and commit them\n")

	code, out, errOut := run("generate", "-defs", defs, "-out", rules)
	require.Equal(t, exitcode.OK, code, errOut)
	assert.Equal(t, "wrote "+alerts+"\nwrote "+recording+"\n1 SLOs: web-availability\n", out)
	rec, err := os.ReadFile(recording)
	require.NoError(t, err)
	assert.Contains(t, string(rec), "record: slo:sli_error:ratio_rate5s\n")
	assert.Contains(t, string(rec), `(sum(rate(http_requests_total{code=~"5.."}[5s])) or vector(0))`)
	al, err := os.ReadFile(alerts)
	require.NoError(t, err)
	assert.Contains(t, string(al), `slo:sli_error:ratio_rate1m{slo="web-availability"} > (14.4 * 0.005)`)
	info, err := os.Stat(alerts)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm())
	entries, err := os.ReadDir(rules)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "no temporary file left behind")

	code, out, errOut = run("check", "-defs", defs, "-out", rules)
	require.Equal(t, exitcode.OK, code, errOut)
	assert.Equal(t, "ok  "+alerts+"\nok  "+recording+"\n", out)

	// A hand edit of a generated file is caught, with its line.
	edited := strings.Replace(string(al), "(14.4 * 0.005)", "(10 * 0.005)", 1)
	require.NoError(t, os.WriteFile(alerts, []byte(edited), 0o644))
	code, out, errOut = run("check", "-defs", defs, "-out", rules)
	assert.Equal(t, exitcode.CheckFailed, code)
	assert.Equal(t, "ok  "+recording+"\n", out)
	line := 1 + strings.Count(string(al[:strings.Index(string(al), "(14.4 * 0.005)")]), "\n")
	assert.Contains(t, errOut, alerts+":"+strconv.Itoa(line)+": differs from what generate writes from "+defs+"\n")

	// So is a change of the definitions that was not generated.
	require.NoError(t, os.WriteFile(alerts, al, 0o644))
	require.NoError(t, os.WriteFile(defs, []byte(strings.Replace(sloDefs, "99.5%", "99.9%", 1)), 0o644))
	code, _, errOut = run("check", "-defs", defs, "-out", rules)
	assert.Equal(t, exitcode.CheckFailed, code)
	assert.Contains(t, errOut, recording+":")
	assert.Contains(t, errOut, alerts+":")
	code, _, errOut = run("generate", "-defs", defs, "-out", rules)
	require.Equal(t, exitcode.OK, code, errOut)
	code, _, errOut = run("check", "-defs", defs, "-out", rules)
	assert.Equal(t, exitcode.OK, code, errOut)
}

func TestSLOUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("time_scale: 720\nslos:\n  - name: X\n"), 0o644))
	tests := []struct {
		name string
		args []string
		code exitcode.Code
		want []string
	}{
		{"no subcommand", nil, exitcode.Usage, []string{"Usage: chaoslab slo generate|check", "chaoslab slo: want a subcommand: generate or check"}},
		{"unknown subcommand", []string{"render"}, exitcode.Usage, []string{`chaoslab slo: unknown subcommand "render": want generate or check`}},
		{"stray argument", []string{"check", "extra"}, exitcode.Usage, []string{`unexpected arguments ["extra"]`}},
		{"bad flag", []string{"generate", "-nope"}, exitcode.Usage, []string{"flag provided but not defined: -nope"}},
		{"missing definitions", []string{"check", "-defs", filepath.Join(dir, "none.yaml")}, exitcode.Usage, []string{"reading SLO definitions:", "no such file"}},
		{"invalid definitions", []string{"generate", "-defs", bad, "-out", dir}, exitcode.Usage, []string{
			bad + ":1:13: time_scale: 5m / 720 is not a whole number of seconds",
			bad + `:3:11: slos[0].name: "X": want 1–63 of a-z 0-9 -`,
			bad + ":3:5: slos[0].description: missing",
			"chaoslab slo: " + bad + " has 5 problems",
		}},
		{"help", []string{"generate", "-help"}, exitcode.OK, []string{"-defs string", "-out string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _, errOut := testEnv(nil)
			code := Run(t.Context(), env, append([]string{"slo"}, tt.args...))
			assert.Equal(t, tt.code, code, errOut.String())
			for _, w := range tt.want {
				assert.Contains(t, errOut.String(), w)
			}
		})
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "invalid definitions write nothing")
}
