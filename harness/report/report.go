// Package report renders the journals of a chaos run for people and for CI:
// a self-contained HTML report per scenario (plots in inline SVG, no
// scripts, no network resources), an index of the run, JUnit XML with one
// testcase per check, a summary.json, the terminal summary table, and the
// process exit code that the run's verdicts call for.
//
// A run directory holds one directory per scenario, named after it:
//
//	reports/chaos/<run-id>/<scenario>/journal.json   (written by the runner)
//	reports/chaos/<run-id>/<scenario>/report.html    (WriteScenario)
//	reports/chaos/<run-id>/{junit.xml,index.html,summary.json}  (WriteSuite)
package report

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	"github.com/chaoslab/chaoslab/harness/journal"
)

// ExitCode is the process exit code for the journals of a run:
// exitcode.Infra if any scenario has an infrastructure error, else
// CheckFailed if any verdict is unexpected, else Inconclusive if any is
// inconclusive, else OK. A run without any journal reached no verdict:
// Inconclusive.
func ExitCode(js []*journal.Journal) exitcode.Code {
	if len(js) == 0 {
		return exitcode.Inconclusive
	}
	var unexpected, inconclusive bool
	for _, j := range js {
		switch verdict(j) {
		case journal.VerdictError:
			return exitcode.Infra
		case journal.Unexpected:
			unexpected = true
		case journal.VerdictInconclusive:
			inconclusive = true
		}
	}
	switch {
	case unexpected:
		return exitcode.CheckFailed
	case inconclusive:
		return exitcode.Inconclusive
	}
	return exitcode.OK
}

// outcome is j's combined outcome, computed from its checks when the runner
// did not record it.
func outcome(j *journal.Journal) string {
	if j.Outcome != "" {
		return j.Outcome
	}
	return journal.Combine(j.Checks)
}

// verdict is j's verdict: VerdictError when the run failed, else the
// recorded verdict, else the one its outcome and expectation call for.
func verdict(j *journal.Journal) string {
	switch {
	case j.Error != "":
		return journal.VerdictError
	case j.Verdict != "":
		return j.Verdict
	}
	return journal.Decide(expect(j), j.Checks).Verdict
}

// expect is j's expectation; a scenario expects to pass unless it says not.
func expect(j *journal.Journal) string {
	if j.Expect == "" {
		return journal.Pass
	}
	return j.Expect
}

// expectedFailure reports whether c failed on data in a scenario that
// expects to fail: the gate doing its job, not a failure of the run. A
// failure on missing data is not that (it leaves such a scenario
// inconclusive).
func expectedFailure(j *journal.Journal, c journal.Check) bool {
	return c.Outcome == journal.Fail && c.OnData && expect(j) == journal.Fail
}

// basis says what a check's outcome rests on, for people: "on data" (a
// measurement) or "without data" (an empty result, NaN, too few traces,
// nothing examined, an error).
func basis(c journal.Check) string {
	if c.OnData {
		return "on data"
	}
	return "without data"
}

// duration is how long j's scenario ran (0 if it has not finished).
func duration(j *journal.Journal) time.Duration {
	if j.Finished.IsZero() || j.Finished.Before(j.Started) {
		return 0
	}
	return j.Finished.Sub(j.Started)
}

// Load reads every <runDir>/*/journal.json, sorted by start time (then by
// scenario name). A run directory without any journal is an error.
func Load(runDir string) ([]*journal.Journal, error) {
	dirs, err := journalDirs(runDir)
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no journals in %s (expected %s)", runDir, filepath.Join(runDir, "<scenario>", "journal.json"))
	}
	js := make([]*journal.Journal, 0, len(dirs))
	for _, d := range dirs {
		j, err := journal.Read(d)
		if err != nil {
			return nil, fmt.Errorf("loading the run %s: %w", runDir, err)
		}
		js = append(js, j)
	}
	sort.SliceStable(js, func(a, b int) bool {
		if !js[a].Started.Equal(js[b].Started) {
			return js[a].Started.Before(js[b].Started)
		}
		return js[a].Scenario < js[b].Scenario
	})
	return js, nil
}

// journalDirs lists the directories of runDir that hold a journal.json.
func journalDirs(runDir string) ([]string, error) {
	entries, err := os.ReadDir(runDir)
	if err != nil {
		return nil, fmt.Errorf("reading the run directory: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		d := filepath.Join(runDir, e.Name())
		if _, err := os.Stat(filepath.Join(d, "journal.json")); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("reading the run directory: %w", err)
		}
		dirs = append(dirs, d)
	}
	return dirs, nil
}

// Latest returns the run directory under root (e.g. reports/chaos) whose
// journals were written last. Regenerating the reports of an older run does
// not make it the latest: only journal.json files count.
func Latest(root string) (string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return "", fmt.Errorf("finding the latest run: %w", err)
	}
	var (
		best     string
		bestTime time.Time
	)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		runDir := filepath.Join(root, e.Name())
		dirs, err := journalDirs(runDir)
		if err != nil {
			return "", fmt.Errorf("finding the latest run: %w", err)
		}
		for _, d := range dirs {
			info, err := os.Stat(filepath.Join(d, "journal.json"))
			if err != nil {
				return "", fmt.Errorf("finding the latest run: %w", err)
			}
			if best == "" || info.ModTime().After(bestTime) || (info.ModTime().Equal(bestTime) && runDir > best) {
				best, bestTime = runDir, info.ModTime()
			}
		}
	}
	if best == "" {
		return "", fmt.Errorf("no run with journals under %s", root)
	}
	return best, nil
}
