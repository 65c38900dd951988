package report

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	"github.com/chaoslab/chaoslab/harness/journal"
)

// templateFS holds the HTML templates (read-only, compiled in).
//
//go:embed templates/*.tmpl
var templateFS embed.FS

// parseTemplates parses the templates with the helpers they use.
func parseTemplates() (*template.Template, error) {
	t, err := template.New("report").Funcs(template.FuncMap{
		"f1":  func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
		"add": func(a, b float64) float64 { return a + b },
	}).ParseFS(templateFS, "templates/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parsing the report templates: %w", err)
	}
	return t, nil
}

// WriteScenario writes <dir>/report.html, the self-contained HTML report of
// one scenario: header, timeline, plots, checks, faults and load.
func WriteScenario(dir string, j *journal.Journal) error {
	t, err := parseTemplates()
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "scenario.html.tmpl", newScenarioPage(j)); err != nil {
		return fmt.Errorf("rendering the report of %s: %w", j.Scenario, err)
	}
	return writeFile(filepath.Join(dir, "report.html"), b.Bytes())
}

// WriteSuite writes the run's <runDir>/junit.xml, <runDir>/index.html and
// <runDir>/summary.json. The index links to each scenario's report.html
// in <runDir>/<scenario>/.
func WriteSuite(runDir string, js []*journal.Journal) error {
	var x bytes.Buffer
	if err := writeJUnit(&x, js); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(runDir, "junit.xml"), x.Bytes()); err != nil {
		return err
	}

	t, err := parseTemplates()
	if err != nil {
		return err
	}
	var h bytes.Buffer
	if err := t.ExecuteTemplate(&h, "index.html.tmpl", newIndexPage(js)); err != nil {
		return fmt.Errorf("rendering the run's index: %w", err)
	}
	if err := writeFile(filepath.Join(runDir, "index.html"), h.Bytes()); err != nil {
		return err
	}

	s, err := json.MarshalIndent(summarize(js), "", "  ")
	if err != nil {
		return fmt.Errorf("encoding summary.json: %w", err)
	}
	return writeFile(filepath.Join(runDir, "summary.json"), append(s, '\n'))
}

// writeFile writes b to path, creating its directory.
func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// scenarioPage is what scenario.html.tmpl renders.
type scenarioPage struct {
	J                         *journal.Journal
	Expect, Outcome, Verdict  string
	Started, Finished, Length string
	Passed                    int
	HasObjective              bool
	Timeline                  timeline
	Charts                    []chart
	Checks                    []checkRow
	Faults                    []faultRow
	Load                      *loadView
}

// checkRow is one row of the checks table.
type checkRow struct {
	Name, Kind, Phase           string
	Outcome, OutcomeLabel       string
	Basis                       string // "on data" or "without data"
	FailedWithoutData           bool
	Objective, Value, Threshold string
	Recovery, Detail            string
	Queries                     []queryRow
}

// queryRow is one PromQL evaluation.
type queryRow struct {
	PromQL, Window, At, Result string
	Problem                    bool
}

// faultRow is one row of the faults table.
type faultRow struct {
	ID, Phase, Kind, Target, Spec string
	Applied, Removed, Active      string
	RemoveError                   string
	NoOp                          bool
}

// loadView is the load summary.
type loadView struct {
	L          *journal.Load
	FailedPct  string
	P50, P95   string
	P99        string
	Thresholds string
}

func newScenarioPage(j *journal.Journal) scenarioPage {
	t0, _ := span(j)
	p := scenarioPage{
		J: j, Expect: expect(j), Outcome: outcome(j), Verdict: verdict(j),
		Started: stamp(j.Started), Finished: stamp(j.Finished), Length: roundDuration(duration(j)).String(),
		Passed: passed(j), Timeline: newTimeline(j),
	}
	for _, s := range j.Series {
		c := newChart(j, s)
		p.HasObjective = p.HasObjective || c.Objective != nil
		p.Charts = append(p.Charts, c)
	}
	for _, c := range j.Checks {
		r := checkRow{
			Name: c.Name, Kind: c.Kind, Phase: c.Phase, Outcome: c.Outcome, OutcomeLabel: c.Outcome,
			Basis: basis(c), FailedWithoutData: c.Outcome == journal.Fail && !c.OnData,
			Objective: c.Objective, Value: optNum(c.Value), Threshold: optNum(c.Threshold), Detail: c.Detail,
		}
		if expectedFailure(j, c) {
			r.Outcome, r.OutcomeLabel = "expected-fail", "fail (expected)"
		}
		if c.RecoverySeconds != nil {
			r.Recovery = num(*c.RecoverySeconds) + "s"
		}
		for _, q := range c.Queries {
			r.Queries = append(r.Queries, queryRow{
				PromQL: q.PromQL, Window: orDash(q.Window), At: offsetOrStamp(q.At, t0),
				Result: queryResult(q), Problem: q.Error != "" || q.Empty || q.NaN,
			})
		}
		p.Checks = append(p.Checks, r)
	}
	for _, f := range j.Faults {
		r := faultRow{
			ID: f.ID, Phase: f.Phase, Kind: f.Kind, Target: f.Target, Spec: f.Spec,
			Applied: offsetOrStamp(f.Applied, t0), Removed: "never", RemoveError: f.RemoveError, NoOp: f.NoOp,
		}
		if !f.Removed.IsZero() {
			r.Removed = offsetOrStamp(f.Removed, t0)
			r.Active = roundDuration(f.Removed.Sub(f.Applied)).String()
		}
		p.Faults = append(p.Faults, r)
	}
	if l := j.Load; l != nil {
		v := &loadView{L: l, P50: ms(l.P50ms), P95: ms(l.P95ms), P99: ms(l.P99ms), Thresholds: "passed"}
		if l.Requests > 0 {
			v.FailedPct = strconv.FormatFloat(100*float64(l.Failed)/float64(l.Requests), 'f', 2, 64) + "%"
		}
		if l.ThresholdsFailed {
			v.Thresholds = "failed (exit 99)"
		}
		p.Load = v
	}
	return p
}

// indexPage is what index.html.tmpl renders.
type indexPage struct {
	RunID, Started, Length string
	Counts                 Counts
	ExitCode               exitcode.Code
	Verdict                string
	Rows                   []indexRow
}

// indexRow is one scenario in the index.
type indexRow struct {
	Scenario, Purpose, Link  string
	Expect, Outcome, Verdict string
	Passed, Total            int
	Length, Error            string
	Problems                 []string
}

func newIndexPage(js []*journal.Journal) indexPage {
	s := summarize(js)
	p := indexPage{RunID: s.RunID, Started: stamp(s.Started), Counts: s.Counts, ExitCode: s.ExitCode}
	if !s.Started.IsZero() && s.Finished.After(s.Started) {
		p.Length = roundDuration(s.Finished.Sub(s.Started)).String()
	}
	switch s.ExitCode {
	case exitcode.OK:
		p.Verdict = journal.AsExpected
	case exitcode.CheckFailed:
		p.Verdict = journal.Unexpected
	case exitcode.Inconclusive:
		p.Verdict = journal.VerdictInconclusive
	default:
		p.Verdict = journal.VerdictError
	}
	for _, j := range js {
		r := indexRow{
			Scenario: j.Scenario, Purpose: firstSentence(j.Purpose), Link: url.PathEscape(j.Scenario) + "/report.html",
			Expect: expect(j), Outcome: outcome(j), Verdict: verdict(j),
			Passed: passed(j), Total: len(j.Checks), Length: roundDuration(duration(j)).String(), Error: j.Error,
		}
		for _, c := range j.Checks {
			if c.Outcome != journal.Pass && !expectedFailure(j, c) {
				r.Problems = append(r.Problems, c.Kind+"/"+c.Name+": "+oneLine(c.Detail))
			}
		}
		p.Rows = append(p.Rows, r)
	}
	return p
}

// stamp formats a wall-clock time for the reports.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format("2006-01-02 15:04:05 MST")
}

// offsetOrStamp formats t as an offset from the start of the run.
func offsetOrStamp(t time.Time, t0 float64) string {
	if t.IsZero() {
		return "-"
	}
	if t0 == 0 {
		return stamp(t)
	}
	return "t+" + strconv.FormatFloat(unix(t)-t0, 'f', 1, 64) + "s"
}

func optNum(v *float64) string {
	if v == nil {
		return ""
	}
	return num(*v)
}

func ms(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " ms" }

// firstSentence is the first line or sentence of a purpose, for the index.
func firstSentence(s string) string {
	s = oneLine(s)
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return clip(s, 160)
}
