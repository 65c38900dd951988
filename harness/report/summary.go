package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	"github.com/chaoslab/chaoslab/harness/journal"
)

// Counts are how a run's scenarios ended.
type Counts struct {
	Scenarios    int `json:"scenarios"`
	AsExpected   int `json:"as_expected"`
	Unexpected   int `json:"unexpected"`
	Inconclusive int `json:"inconclusive"`
	Errors       int `json:"errors"`
}

// Count tallies the verdicts of js.
func Count(js []*journal.Journal) Counts {
	c := Counts{Scenarios: len(js)}
	for _, j := range js {
		switch verdict(j) {
		case journal.AsExpected:
			c.AsExpected++
		case journal.Unexpected:
			c.Unexpected++
		case journal.VerdictInconclusive:
			c.Inconclusive++
		default:
			c.Errors++
		}
	}
	return c
}

// String is the closing line of the summary.
func (c Counts) String() string {
	noun := "scenarios"
	if c.Scenarios == 1 {
		noun = "scenario"
	}
	return fmt.Sprintf("%d %s: %d as expected, %d unexpected, %d inconclusive, %d errors",
		c.Scenarios, noun, c.AsExpected, c.Unexpected, c.Inconclusive, c.Errors)
}

// Summary writes the terminal summary of a run: a table of the scenarios,
// then every failed or inconclusive check (and infrastructure error), then
// one line of counts.
func Summary(w io.Writer, js []*journal.Journal) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tEXPECT\tOUTCOME\tVERDICT\tCHECKS\tDURATION")
	for _, j := range js {
		o := outcome(j)
		if j.Error != "" {
			o = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\n", oneLine(j.Scenario), expect(j), o,
			strings.ReplaceAll(verdict(j), "_", " "), passed(j), len(j.Checks), roundDuration(duration(j)))
	}
	_ = tw.Flush()

	var lines []string
	for _, j := range js {
		if j.Error != "" {
			lines = append(lines, fmt.Sprintf("  ERROR         %s / run: %s", oneLine(j.Scenario), oneLine(j.Error)))
		}
		for _, c := range j.Checks {
			var tag string
			switch {
			case expectedFailure(j, c):
				tag = "FAIL expected"
			case c.Outcome == journal.Fail && !c.OnData:
				tag = "FAIL no data"
			case c.Outcome == journal.Fail:
				tag = "FAIL"
			case c.Outcome == journal.Pass:
				continue
			default:
				tag = "INCONCLUSIVE"
			}
			lines = append(lines, fmt.Sprintf("  %-13s %s / %s/%s: %s", tag, oneLine(j.Scenario), c.Kind, oneLine(c.Name), oneLine(c.Detail)))
		}
		if len(j.Checks) == 0 && j.Error == "" {
			lines = append(lines, fmt.Sprintf("  %-13s %s: no checks", "INCONCLUSIVE", oneLine(j.Scenario)))
		} else if j.VerdictReason != "" && j.Error == "" {
			lines = append(lines, fmt.Sprintf("  %-13s %s: %s", "VERDICT", oneLine(j.Scenario), oneLine(j.VerdictReason)))
		}
	}
	if len(lines) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Failed or inconclusive checks:")
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, Count(js).String())
}

// passed counts the checks of j that passed.
func passed(j *journal.Journal) int {
	n := 0
	for _, c := range j.Checks {
		if c.Outcome == journal.Pass {
			n++
		}
	}
	return n
}

// roundDuration rounds d for people: to 100ms under 10s, else to seconds.
func roundDuration(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// suiteSummary is summary.json: the run at a glance, for tools.
type suiteSummary struct {
	RunID    string        `json:"run_id"`
	Started  time.Time     `json:"started,omitzero"`
	Finished time.Time     `json:"finished,omitzero"`
	ExitCode exitcode.Code `json:"exit_code"`
	// Shard is the run's part of a sharded library, when every journal
	// ran in the same one (chaoslab chaos -shard K/N).
	Shard     *journal.Shard    `json:"shard,omitempty"`
	Counts    Counts            `json:"counts"`
	Scenarios []scenarioSummary `json:"scenarios"`
}

// scenarioSummary is one scenario in summary.json.
type scenarioSummary struct {
	Scenario      string   `json:"scenario"`
	Expect        string   `json:"expect"`
	Outcome       string   `json:"outcome"`
	Verdict       string   `json:"verdict"`
	ChecksPassed  int      `json:"checks_passed"`
	ChecksTotal   int      `json:"checks_total"`
	DurationSec   float64  `json:"duration_seconds"`
	Error         string   `json:"error,omitempty"`
	Report        string   `json:"report"`
	Journal       string   `json:"journal"`
	FailedChecks  []string `json:"failed_checks,omitempty"`
	Inconclusives []string `json:"inconclusive_checks,omitempty"`
}

func summarize(js []*journal.Journal) suiteSummary {
	s := suiteSummary{ExitCode: ExitCode(js), Counts: Count(js), Scenarios: []scenarioSummary{}}
	for i, j := range js {
		switch {
		case i == 0:
			s.Shard = j.Shard
		case s.Shard != nil && (j.Shard == nil || j.Shard.String() != s.Shard.String()):
			s.Shard = nil
		}
		if s.RunID == "" {
			s.RunID = j.RunID
		}
		if !j.Started.IsZero() && (s.Started.IsZero() || j.Started.Before(s.Started)) {
			s.Started = j.Started
		}
		if j.Finished.After(s.Finished) {
			s.Finished = j.Finished
		}
		ss := scenarioSummary{
			Scenario: j.Scenario, Expect: expect(j), Outcome: outcome(j), Verdict: verdict(j),
			ChecksPassed: passed(j), ChecksTotal: len(j.Checks), DurationSec: duration(j).Seconds(),
			Error: j.Error, Report: j.Scenario + "/report.html", Journal: j.Scenario + "/journal.json",
		}
		for _, c := range j.Checks {
			switch c.Outcome {
			case journal.Fail:
				ss.FailedChecks = append(ss.FailedChecks, c.Kind+"/"+c.Name)
			case journal.Inconclusive:
				ss.Inconclusives = append(ss.Inconclusives, c.Kind+"/"+c.Name)
			}
		}
		s.Scenarios = append(s.Scenarios, ss)
	}
	return s
}
