package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/harness/journal"
)

// The JUnit XML shape read by Jenkins, GitLab, GitHub annotations and
// gotestsum: a <testsuites> root with counts, one <testsuite> per scenario,
// one <testcase> per check.

// junitSuites is the root element of junit.xml.
type junitSuites struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Name     string           `xml:"name,attr"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Errors   int              `xml:"errors,attr"`
	Time     string           `xml:"time,attr"`
	Suites   []junitTestSuite `xml:"testsuite"`
}

// junitTestSuite is one scenario.
type junitTestSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

// junitProperty is a name/value pair of a suite.
type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// junitCase is one check (or the scenario's verdict, or its run).
type junitCase struct {
	ClassName string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

// junitText is element text, kept as CDATA so that its lines stay lines.
type junitText struct {
	Text string `xml:",cdata"`
}

// junitProblem is a <failure> or an <error>.
type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// Types of <failure> and <error>.
const (
	junitTypeFailed       = "failed"
	junitTypeInconclusive = "inconclusive"
	junitTypeInfra        = "infrastructure"
	junitTypeUnexpected   = "unexpected"
)

// junitDoc builds the JUnit document of a run.
//
//   - A failed check is a <failure>, an inconclusive one an <error
//     type="inconclusive"> (so CI shows it; it is not skipped).
//   - In a scenario that expects to fail, failed checks are the gate doing
//     its job: they pass, with a <system-out> saying so, and a "verdict"
//     testcase fails unless the verdict is as expected. A scenario without
//     checks gets the "verdict" testcase too.
//   - An infrastructure error is a "run" testcase with an <error>.
func junitDoc(js []*journal.Journal) junitSuites {
	root := junitSuites{Name: "chaoslab"}
	var total time.Duration
	for _, j := range js {
		s := junitSuite(j)
		root.Tests += s.Tests
		root.Failures += s.Failures
		root.Errors += s.Errors
		total += duration(j)
		root.Suites = append(root.Suites, s)
	}
	root.Time = seconds(total)
	return root
}

func junitSuite(j *journal.Journal) junitTestSuite {
	s := junitTestSuite{
		Name:      j.Scenario,
		Time:      seconds(duration(j)),
		Timestamp: j.Started.UTC().Format(time.RFC3339),
		Properties: []junitProperty{
			{Name: "run_id", Value: j.RunID},
			{Name: "file", Value: j.File},
			{Name: "expect", Value: expect(j)},
			{Name: "outcome", Value: outcome(j)},
			{Name: "verdict", Value: verdict(j)},
		},
	}
	for _, k := range j.Knobs {
		s.Properties = append(s.Properties, junitProperty{Name: "knob." + k.Service + "." + k.Flag, Value: k.Value})
	}
	add := func(c junitCase) {
		c.ClassName = j.Scenario
		if c.Time == "" {
			c.Time = "0"
		}
		s.Tests++
		if c.Failure != nil {
			s.Failures++
		}
		if c.Error != nil {
			s.Errors++
		}
		s.Cases = append(s.Cases, c)
	}
	if j.Error != "" {
		add(junitCase{Name: "run", Time: seconds(duration(j)),
			Error: &junitProblem{Message: oneLine(j.Error), Type: junitTypeInfra, Text: xmlText(j.Error)}})
	}
	for _, c := range j.Checks {
		tc := junitCase{Name: c.Kind + "/" + c.Name}
		text := checkText(c)
		switch {
		case expectedFailure(j, c):
			tc.SystemOut = &junitText{xmlText("failed on data, as expected (expect: fail)\n" + text)}
		case c.Outcome == journal.Fail && expect(j) == journal.Fail:
			// A failure without data does not show that the gate catches
			// the fault: the scenario is inconclusive, and so is this case.
			tc.Error = &junitProblem{Message: "failed without data, which does not meet expect: fail: " + oneLine(c.Detail),
				Type: junitTypeInconclusive, Text: xmlText(text)}
		case c.Outcome == journal.Fail:
			tc.Failure = &junitProblem{Message: oneLine(c.Detail), Type: junitTypeFailed, Text: xmlText(text)}
		case c.Outcome == journal.Inconclusive:
			tc.Error = &junitProblem{Message: oneLine(c.Detail), Type: junitTypeInconclusive, Text: xmlText(text)}
		case c.Outcome != journal.Pass:
			tc.Error = &junitProblem{Message: fmt.Sprintf("unknown outcome %q: %s", c.Outcome, oneLine(c.Detail)),
				Type: junitTypeInconclusive, Text: xmlText(text)}
		default:
			tc.SystemOut = &junitText{xmlText(text)}
		}
		add(tc)
	}
	if j.Error == "" && (expect(j) == journal.Fail || len(j.Checks) == 0 || j.VerdictReason != "") {
		add(verdictCase(j))
	}
	return s
}

// verdictCase is the testcase of a scenario's verdict.
func verdictCase(j *journal.Journal) junitCase {
	v := verdict(j)
	msg := fmt.Sprintf("expect: %s, outcome: %s, verdict: %s", expect(j), outcome(j), v)
	if j.VerdictReason != "" {
		msg += " — " + j.VerdictReason
	}
	tc := junitCase{Name: "verdict", Time: seconds(duration(j))}
	switch v {
	case journal.AsExpected:
		tc.SystemOut = &junitText{xmlText(msg)}
	case journal.VerdictInconclusive:
		tc.Error = &junitProblem{Message: msg, Type: junitTypeInconclusive, Text: xmlText(msg)}
	default:
		if expect(j) == journal.Fail && j.VerdictReason == "" {
			msg += " — the scenario was expected to fail but every check passed: the gate did not catch it"
		}
		tc.Failure = &junitProblem{Message: msg, Type: junitTypeUnexpected, Text: xmlText(msg)}
	}
	return tc
}

// checkText describes a check for CI: its detail, what was compared and
// the queries behind it.
func checkText(c journal.Check) string {
	var b strings.Builder
	fmt.Fprintf(&b, "outcome: %s (%s)\n", c.Outcome, basis(c))
	if c.Phase != "" {
		fmt.Fprintf(&b, "phase: %s\n", c.Phase)
	}
	if c.Objective != "" {
		fmt.Fprintf(&b, "objective: %s\n", c.Objective)
	}
	if c.Value != nil {
		fmt.Fprintf(&b, "value: %s\n", num(*c.Value))
	}
	if c.Threshold != nil {
		fmt.Fprintf(&b, "threshold: %s\n", num(*c.Threshold))
	}
	if c.RecoverySeconds != nil {
		fmt.Fprintf(&b, "recovery: %ss\n", num(*c.RecoverySeconds))
	}
	if c.Detail != "" {
		fmt.Fprintf(&b, "detail: %s\n", c.Detail)
	}
	for _, q := range c.Queries {
		fmt.Fprintf(&b, "query: %s\n  window: %s  at: %s  result: %s\n", q.PromQL, orDash(q.Window), q.At.UTC().Format(time.RFC3339), queryResult(q))
	}
	return b.String()
}

// writeJUnit writes the JUnit document of a run to w.
func writeJUnit(w io.Writer, js []*journal.Journal) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("writing junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitDoc(js)); err != nil {
		return fmt.Errorf("writing junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("writing junit: %w", err)
	}
	return nil
}

// seconds formats d as JUnit wants it: seconds with a decimal point.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

// queryResult is a query's value, or why it has none.
func queryResult(q journal.Query) string {
	switch {
	case q.Error != "":
		return "error: " + q.Error
	case q.Empty:
		return "empty"
	case q.NaN:
		return "NaN"
	case q.Value != nil:
		return num(*q.Value)
	}
	return "-"
}

// num formats a measured value compactly.
func num(v float64) string {
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// xmlText replaces the characters XML 1.0 cannot hold (most control
// characters, invalid UTF-8) with U+FFFD; attributes are escaped by
// encoding/xml, CDATA sections are not.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t', r == '\n', r == '\r',
			r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return '\uFFFD'
	}, s)
}

// oneLine joins the lines of s with single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
