package cli

import (
	"encoding/xml"
	"github.com/chaoslab/chaoslab/harness/exitcode"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/report"
)

// scenarioJournal is a finished scenario with one check.
func scenarioJournal(name, expect, checkOutcome, infraErr string, started time.Time) *journal.Journal {
	j := &journal.Journal{
		RunID: "run-1", Scenario: name, Expect: expect, Started: started, Finished: started.Add(30 * time.Second),
		Phases: []journal.Phase{{Name: "steady", Start: started, End: started.Add(30 * time.Second)}},
		Checks: []journal.Check{{Name: "p99", Kind: journal.KindSLO, Outcome: checkOutcome, OnData: checkOutcome != journal.Inconclusive, Detail: "p99 measured"}},
		Error:  infraErr,
	}
	j.Outcome = journal.Combine(j.Checks)
	j.Verdict = journal.Decide(expect, j.Checks).Verdict
	if infraErr != "" {
		j.Verdict = journal.VerdictError
	}
	return j
}

func writeJournals(t *testing.T, runDir string, js ...*journal.Journal) {
	t.Helper()
	for _, j := range js {
		require.NoError(t, journal.Write(filepath.Join(runDir, j.Scenario), j))
	}
}

func TestReport(t *testing.T) {
	start := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	ok := scenarioJournal("baseline", journal.Pass, journal.Pass, "", start)
	failedAsExpected := scenarioJournal("no-retries", journal.Fail, journal.Fail, "", start.Add(time.Minute))
	unexpected := scenarioJournal("latency", journal.Pass, journal.Fail, "", start.Add(2*time.Minute))
	inconclusive := scenarioJournal("inventory-down", journal.Pass, journal.Inconclusive, "", start.Add(3*time.Minute))
	infra := scenarioJournal("kill9", journal.Pass, journal.Pass, "toxiproxy died", start.Add(4*time.Minute))

	tests := []struct {
		name     string
		js       []*journal.Journal
		wantCode exitcode.Code
		wantErr  string
	}{
		{name: "all as expected", js: []*journal.Journal{ok, failedAsExpected}, wantCode: exitcode.OK},
		{name: "unexpected", js: []*journal.Journal{ok, unexpected, inconclusive}, wantCode: exitcode.CheckFailed,
			wantErr: "2 of 3 scenarios did not end as expected (1 unexpected, 1 inconclusive, 0 errors)"},
		{name: "inconclusive", js: []*journal.Journal{ok, inconclusive}, wantCode: exitcode.Inconclusive, wantErr: "1 inconclusive"},
		{name: "infrastructure", js: []*journal.Journal{unexpected, infra}, wantCode: exitcode.Infra, wantErr: "1 errors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runDir := t.TempDir()
			writeJournals(t, runDir, tt.js...)
			env, out, errOut := testEnv(nil)
			code := Run(t.Context(), env, []string{"report", runDir})
			require.Equal(t, tt.wantCode, code, errOut.String())
			if tt.wantErr != "" {
				assert.Contains(t, errOut.String(), tt.wantErr)
			}
			assert.Contains(t, out.String(), "SCENARIO")
			assert.Contains(t, out.String(), report.Count(tt.js).String())
			assert.Contains(t, out.String(), "report: "+filepath.Join(runDir, "index.html"))

			for _, f := range []string{"junit.xml", "index.html", "summary.json"} {
				assert.FileExists(t, filepath.Join(runDir, f))
			}
			for _, j := range tt.js {
				assert.FileExists(t, filepath.Join(runDir, j.Scenario, "report.html"))
			}
			b, err := os.ReadFile(filepath.Join(runDir, "junit.xml"))
			require.NoError(t, err)
			var suites struct {
				Suites []struct {
					Name string `xml:"name,attr"`
				} `xml:"testsuite"`
			}
			require.NoError(t, xml.Unmarshal(b, &suites))
			assert.Len(t, suites.Suites, len(tt.js))
		})
	}
}

func TestReportLatestRun(t *testing.T) {
	wd := t.TempDir()
	root := filepath.Join(wd, "reports", "chaos")
	start := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	writeJournals(t, filepath.Join(root, "old"), scenarioJournal("old-scenario", journal.Pass, journal.Fail, "", start))
	past := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(filepath.Join(root, "old", "old-scenario", "journal.json"), past, past))
	writeJournals(t, filepath.Join(root, "new"), scenarioJournal("new-scenario", journal.Pass, journal.Pass, "", start))

	env, out, errOut := testEnv(nil)
	env.Getwd = func() (string, error) { return wd, nil }
	require.Equal(t, exitcode.OK, Run(t.Context(), env, []string{"report"}), errOut.String())
	assert.Contains(t, out.String(), "new-scenario")
	assert.NotContains(t, out.String(), "old-scenario")
	assert.NoFileExists(t, filepath.Join(root, "old", "index.html"), "the old run is left alone")

	// -reports points elsewhere; a relative run directory is relative to
	// the working directory.
	env, out, errOut = testEnv(nil)
	env.Getwd = func() (string, error) { return wd, nil }
	require.Equal(t, exitcode.CheckFailed, Run(t.Context(), env, []string{"report", filepath.Join("reports", "chaos", "old")}), errOut.String())
	assert.Contains(t, out.String(), "old-scenario")
}

func TestReportBadInput(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "no run at all", args: []string{"-reports", empty}, wantErr: "no run with journals"},
		{name: "a run without journals", args: []string{empty}, wantErr: "no journals in"},
		{name: "a missing run", args: []string{filepath.Join(empty, "nope")}, wantErr: "reading the run directory"},
		{name: "two runs", args: []string{empty, empty}, wantErr: "one run directory at most"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "-nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _, errOut := testEnv(nil)
			assert.Equal(t, exitcode.Usage, Run(t.Context(), env, append([]string{"report"}, tt.args...)))
			assert.Contains(t, errOut.String(), tt.wantErr)
		})
	}
}

func TestReportScenarioOutsideItsDirectory(t *testing.T) {
	// A journal whose scenario name is not its directory's (or would lead
	// out of the run) gets no report.html anywhere else.
	runDir := filepath.Join(t.TempDir(), "run")
	j := scenarioJournal("../escape", journal.Pass, journal.Pass, "", time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC))
	require.NoError(t, journal.Write(filepath.Join(runDir, "somewhere"), j))

	env, _, errOut := testEnv(nil)
	require.Equal(t, exitcode.OK, Run(t.Context(), env, []string{"report", runDir}), errOut.String())
	assert.Contains(t, errOut.String(), `scenario "../escape" has no directory of its own`)
	assert.NoFileExists(t, filepath.Join(runDir, "..", "escape", "report.html"))
	assert.NoFileExists(t, filepath.Join(runDir, "somewhere", "report.html"))
	assert.FileExists(t, filepath.Join(runDir, "index.html"))
	assert.True(t, strings.HasSuffix(errOut.String(), "report.html for it\n"))
}
