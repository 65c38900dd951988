package explore

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chaoslab/chaoslab/harness/journal"
)

// Write saves the result in dir: explore.json, junit.xml (a test case per
// point and check) and index.html (the matrix).
func Write(dir string, r *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "explore.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	var x bytes.Buffer
	if err := writeJUnit(&x, r); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "junit.xml"), x.Bytes(), 0o644); err != nil {
		return err
	}
	var h bytes.Buffer
	if err := writeHTML(&h, dir, r); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "index.html"), h.Bytes(), 0o644)
}

// Summary prints the matrix's totals and the failed points, for the
// terminal.
func Summary(w io.Writer, r *Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POINT\tSTATUS\tWHY")
	for _, p := range r.Points {
		why := p.Reason
		if p.Status == StatusPass && why == "" {
			why = "every check passed on data"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.ID(), p.Status, oneLine(why, 110))
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d points reached: %d ran (%d failed, %d passed, %d inconclusive, %d errors), %d skipped by the reduction, %d not run (budget); %d declared but unreached or not runnable\n",
		len(r.Points), r.Count(StatusFail)+r.Count(StatusPass)+r.Count(StatusInconclusive)+r.Count(StatusError),
		r.Count(StatusFail), r.Count(StatusPass), r.Count(StatusInconclusive), r.Count(StatusError),
		r.Count(StatusSkipped), r.Count(StatusNotRun), len(r.Unreached))
	if n := r.Count(StatusFail); n > 0 {
		fmt.Fprintf(w, "\n%d findings, each with a scenario that reproduces it (chaoslab run FILE):\n", n)
		for _, p := range r.Points {
			if p.Status == StatusFail {
				fmt.Fprintf(w, "  %s\n    %s\n", p.Scenario, p.Reason)
			}
		}
	}
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		return s[:max-1] + "…"
	}
	return s
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// writeJUnit writes one test suite per point: a test case per check (a
// failure when it failed on data, skipped when it could not decide), or one
// skipped case for a point that did not run.
func writeJUnit(w io.Writer, r *Result) error {
	doc := junitSuites{}
	for _, p := range r.Points {
		s := junitSuite{Name: "explore." + p.Name, Time: strconv.FormatFloat(p.Seconds, 'f', 1, 64)}
		if len(p.Checks) == 0 {
			c := junitCase{Name: p.ID(), Classname: s.Name, Time: "0"}
			switch p.Status {
			case StatusError:
				c.Failure = &junitMessage{Message: "error", Text: p.Reason}
				s.Failures++
			default:
				c.Skipped = &junitMessage{Message: p.Status, Text: p.Reason}
				s.Skipped++
			}
			s.Cases = append(s.Cases, c)
		}
		for _, ch := range p.Checks {
			c := junitCase{Name: ch.Name, Classname: s.Name, Time: "0"}
			switch {
			case ch.Outcome == journal.Fail && ch.OnData:
				c.Failure = &junitMessage{Message: ch.Detail, Text: p.ID() + ": " + ch.Detail}
				s.Failures++
			case ch.Outcome != journal.Pass || !ch.OnData:
				c.Skipped = &junitMessage{Message: "inconclusive", Text: ch.Detail}
				s.Skipped++
			}
			s.Cases = append(s.Cases, c)
		}
		s.Tests = len(s.Cases)
		doc.Suites = append(doc.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

//go:embed matrix.html.tmpl
var matrixTemplate string

type matrixPage struct {
	R       *Result
	Columns []string
	Rows    []matrixRow
	Took    string
	Counts  []matrixCount
	// Baseline links the baseline's report.
	Baseline string
}

// NCols is how many check columns the matrix has.
func (p matrixPage) NCols() int { return len(p.Columns) }

type matrixCount struct {
	Status string
	N      int
}

type matrixRow struct {
	P        PointResult
	Describe string
	Cells    []matrixCell
	Report   string // relative link to the point's scenario report
	Scenario string // relative link to its scenario file
}

type matrixCell struct {
	Status string // pass, fail, inconclusive, "" (not run)
	Text   string
	Title  string
}

func writeHTML(w io.Writer, dir string, r *Result) error {
	t, err := template.New("matrix").Funcs(template.FuncMap{"slug": slug, "add": func(a, b int) int { return a + b }}).Parse(matrixTemplate)
	if err != nil {
		return err
	}
	page := matrixPage{R: r, Took: r.Finished.Sub(r.Started).Round(time.Second).String(),
		Baseline: rel(dir, filepath.Join(r.Baseline, "report.html"), r.Baseline)}
	for _, s := range []string{StatusFail, StatusPass, StatusInconclusive, StatusError, StatusSkipped, StatusNotRun} {
		page.Counts = append(page.Counts, matrixCount{Status: s, N: r.Count(s)})
	}
	for _, p := range r.Points {
		for _, c := range p.Checks {
			if !slices.Contains(page.Columns, c.Name) {
				page.Columns = append(page.Columns, c.Name)
			}
		}
	}
	for _, p := range r.Points {
		row := matrixRow{P: p, Report: rel(dir, filepath.Join(p.Report, "report.html"), p.Report), Scenario: rel(dir, p.Scenario, p.Scenario)}
		var what []string
		for _, pt := range p.Points {
			what = append(what, pt.What)
		}
		row.Describe = strings.Join(what, "; ")
		for _, col := range page.Columns {
			if len(p.Checks) == 0 {
				break // a point that did not run: its reason spans the columns
			}
			i := slices.IndexFunc(p.Checks, func(c journal.Check) bool { return c.Name == col })
			if i < 0 {
				row.Cells = append(row.Cells, matrixCell{})
				continue
			}
			c := p.Checks[i]
			cell := matrixCell{Status: c.Outcome, Title: c.Detail}
			if c.Outcome == journal.Pass && !c.OnData {
				cell.Status = journal.Inconclusive
			}
			switch {
			case c.RecoverySeconds != nil:
				cell.Text = strconv.FormatFloat(*c.RecoverySeconds, 'f', 1, 64) + " s"
			case c.Value != nil:
				cell.Text = strconv.FormatFloat(*c.Value, 'g', 3, 64)
			default:
				cell.Text = "—"
			}
			row.Cells = append(row.Cells, cell)
		}
		page.Rows = append(page.Rows, row)
	}
	return t.Execute(w, page)
}

// rel is target relative to dir, or "" when there is no such file (when
// marker, the field the link stands for, is empty).
func rel(dir, target, marker string) string {
	if marker == "" {
		return ""
	}
	r, err := filepath.Rel(dir, target)
	if err != nil {
		return target
	}
	return filepath.ToSlash(r)
}
