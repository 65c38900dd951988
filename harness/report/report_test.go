package report

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	"github.com/chaoslab/chaoslab/harness/journal"
)

func TestExitCode(t *testing.T) {
	j := func(expect, outcome, verdict, err string) *journal.Journal {
		return &journal.Journal{Scenario: "s", Expect: expect, Outcome: outcome, Verdict: verdict, Error: err}
	}
	asExpected := j(journal.Pass, journal.Pass, journal.AsExpected, "")
	failedAsExpected := j(journal.Fail, journal.Fail, journal.AsExpected, "")
	gateFailed := j(journal.Pass, journal.Fail, journal.Unexpected, "")
	gateVacuous := j(journal.Fail, journal.Pass, journal.Unexpected, "")
	inconclusive := j(journal.Pass, journal.Inconclusive, journal.VerdictInconclusive, "")
	infra := j(journal.Pass, journal.Inconclusive, journal.VerdictError, "lab died")
	// The error alone decides, whatever verdict the runner wrote.
	infraNoVerdict := j(journal.Pass, "", "", "toxiproxy unreachable")

	tests := []struct {
		name string
		js   []*journal.Journal
		want exitcode.Code
	}{
		{"no scenario reached a verdict", nil, exitcode.Inconclusive},
		{"all as expected", []*journal.Journal{asExpected, failedAsExpected}, exitcode.OK},
		{"a gate failed that should pass", []*journal.Journal{asExpected, gateFailed}, exitcode.CheckFailed},
		{"a fail-expected scenario passed", []*journal.Journal{failedAsExpected, gateVacuous}, exitcode.CheckFailed},
		{"inconclusive", []*journal.Journal{asExpected, inconclusive}, exitcode.Inconclusive},
		{"unexpected beats inconclusive", []*journal.Journal{inconclusive, gateFailed}, exitcode.CheckFailed},
		{"infrastructure beats everything", []*journal.Journal{gateFailed, inconclusive, infra}, exitcode.Infra},
		{"an error without a verdict", []*journal.Journal{asExpected, infraNoVerdict}, exitcode.Infra},
		{"verdict computed when not recorded", []*journal.Journal{{Scenario: "s", Expect: journal.Pass,
			Checks: []journal.Check{{Name: "c", Kind: journal.KindSLO, Outcome: journal.Fail}}}}, exitcode.CheckFailed},
		{"no checks is inconclusive", []*journal.Journal{{Scenario: "s", Expect: journal.Pass}}, exitcode.Inconclusive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ExitCode(tt.js))
		})
	}
}

func writeRun(t *testing.T, runDir string, js []*journal.Journal) {
	t.Helper()
	for _, j := range js {
		require.NoError(t, journal.Write(filepath.Join(runDir, j.Scenario), j))
	}
}

func TestLoad(t *testing.T) {
	runDir := t.TempDir()
	js := sampleRun()
	// Written out of order: Load sorts by start time.
	writeRun(t, runDir, []*journal.Journal{js[3], js[0], js[4], js[2], js[1]})
	require.NoError(t, os.MkdirAll(filepath.Join(runDir, "not-a-scenario"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(runDir, "junit.xml"), []byte("<testsuites/>"), 0o644))

	got, err := Load(runDir)
	require.NoError(t, err)
	var names []string
	for _, j := range got {
		names = append(names, j.Scenario)
	}
	assert.Equal(t, []string{"baseline", "latency-payments", "payments-errors-no-retries", "inventory-down", "orders-kill9"}, names)
	assert.Equal(t, js[1].Checks, got[1].Checks, "a journal survives the round trip")

	t.Run("empty run", func(t *testing.T) {
		_, err := Load(t.TempDir())
		assert.ErrorContains(t, err, "no journals")
	})
	t.Run("missing run", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "nope"))
		assert.Error(t, err)
	})
	t.Run("corrupt journal", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "s"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "s", "journal.json"), []byte("{"), 0o644))
		_, err := Load(dir)
		assert.ErrorContains(t, err, "reading journal")
	})
}

func TestLatest(t *testing.T) {
	root := t.TempDir()
	old, newer := filepath.Join(root, "b-old"), filepath.Join(root, "a-new")
	js := sampleRun()
	writeRun(t, old, js[:1])
	writeRun(t, newer, js[1:2])
	past := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(filepath.Join(old, "baseline", "journal.json"), past, past))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "z-empty"), 0o755))

	got, err := Latest(root)
	require.NoError(t, err)
	assert.Equal(t, newer, got)

	// Regenerating the old run's reports does not make it the latest.
	require.NoError(t, WriteSuite(old, js[:1]))
	got, err = Latest(root)
	require.NoError(t, err)
	assert.Equal(t, newer, got)

	_, err = Latest(filepath.Join(root, "z-empty"))
	assert.ErrorContains(t, err, "no run")
}
