package report

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/journal"
)

func TestJUnitGolden(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeJUnit(&b, sampleRun()))
	golden(t, "junit.xml", b.Bytes())
}

// The JUnit schema as CI tools read it, declared independently of the
// writer's types so that the round trip checks the shape, not the code.
type xSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Time     string   `xml:"time,attr"`
	Suites   []xSuite `xml:"testsuite"`
}

type xSuite struct {
	Name      string  `xml:"name,attr"`
	Tests     int     `xml:"tests,attr"`
	Failures  int     `xml:"failures,attr"`
	Errors    int     `xml:"errors,attr"`
	Time      string  `xml:"time,attr"`
	Timestamp string  `xml:"timestamp,attr"`
	Props     []xProp `xml:"properties>property"`
	Cases     []xCase `xml:"testcase"`
}

type xProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type xCase struct {
	ClassName string    `xml:"classname,attr"`
	Name      string    `xml:"name,attr"`
	Time      string    `xml:"time,attr"`
	Failure   *xProblem `xml:"failure"`
	Error     *xProblem `xml:"error"`
	Skipped   *struct{} `xml:"skipped"`
	SystemOut string    `xml:"system-out"`
}

type xProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func decodeJUnit(t *testing.T, js []*journal.Journal) xSuites {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, writeJUnit(&b, js))
	require.True(t, strings.HasPrefix(b.String(), `<?xml version="1.0" encoding="UTF-8"?>`))
	var doc xSuites
	require.NoError(t, xml.Unmarshal(b.Bytes(), &doc))
	return doc
}

func TestJUnitShape(t *testing.T) {
	doc := decodeJUnit(t, sampleRun())

	// Counts add up, at every level, to what the testcases say.
	var tests, failures, errors int
	require.Len(t, doc.Suites, 5)
	for _, s := range doc.Suites {
		var f, e int
		for _, c := range s.Cases {
			assert.Equal(t, s.Name, c.ClassName)
			assert.Nil(t, c.Skipped, "nothing is skipped: inconclusive is an error")
			assert.False(t, c.Failure != nil && c.Error != nil, "%s: failure and error", c.Name)
			if c.Failure != nil {
				f++
			}
			if c.Error != nil {
				e++
			}
		}
		assert.Equal(t, len(s.Cases), s.Tests, s.Name)
		assert.Equal(t, f, s.Failures, s.Name)
		assert.Equal(t, e, s.Errors, s.Name)
		assert.NotEmpty(t, s.Timestamp)
		tests, failures, errors = tests+s.Tests, failures+f, errors+e
	}
	assert.Equal(t, tests, doc.Tests)
	assert.Equal(t, failures, doc.Failures)
	assert.Equal(t, errors, doc.Errors)
	assert.Equal(t, "302.000", doc.Time, "the sum of the scenarios' durations")

	byName := map[string]xSuite{}
	for _, s := range doc.Suites {
		byName[s.Name] = s
	}
	find := func(suite, name string) xCase {
		t.Helper()
		for _, c := range byName[suite].Cases {
			if c.Name == name {
				return c
			}
		}
		t.Fatalf("no testcase %s in %s", name, suite)
		return xCase{}
	}

	t.Run("a passing scenario", func(t *testing.T) {
		s := byName["baseline"]
		assert.Equal(t, 2, s.Tests)
		assert.Zero(t, s.Failures+s.Errors)
		assert.Equal(t, "72.000", s.Time)
		assert.Equal(t, "2025-03-14T09:26:53Z", s.Timestamp)
		assert.Contains(t, s.Props, xProp{Name: "verdict", Value: journal.AsExpected})
		assert.Contains(t, find("baseline", "slo/p99 latency").SystemOut, "histogram_quantile")
	})
	t.Run("a failed check", func(t *testing.T) {
		c := find("latency-payments", "slo/p99 relative")
		require.NotNil(t, c.Failure)
		assert.Equal(t, "p99 0.613s > 2 × baseline 0.048s + 0.25s = 0.346s", c.Failure.Message)
		assert.Contains(t, c.Failure.Text, "window: 30s")
		assert.Contains(t, c.Failure.Text, "result: 0.6127")
		assert.Contains(t, byName["latency-payments"].Props, xProp{Name: "knob.orders.-payments-timeout", Value: "1s"})
	})
	t.Run("failed as expected", func(t *testing.T) {
		s := byName["payments-errors-no-retries"]
		assert.Zero(t, s.Failures+s.Errors)
		c := find("payments-errors-no-retries", "slo/availability")
		assert.Nil(t, c.Failure)
		assert.Contains(t, c.SystemOut, "failed on data, as expected (expect: fail)")
		v := find("payments-errors-no-retries", "verdict")
		assert.Nil(t, v.Failure)
		assert.Nil(t, v.Error)
	})
	t.Run("inconclusive is an error, not skipped", func(t *testing.T) {
		c := find("inventory-down", "slo/fail fast")
		require.NotNil(t, c.Error)
		assert.Equal(t, "inconclusive", c.Error.Type)
		assert.Contains(t, c.Error.Text, "result: empty")
	})
	t.Run("infrastructure error", func(t *testing.T) {
		c := find("orders-kill9", "run")
		require.NotNil(t, c.Error)
		assert.Equal(t, "infrastructure", c.Error.Type)
		assert.Contains(t, c.Error.Message, "executable file not found")
		assert.Equal(t, 1, byName["orders-kill9"].Tests)
	})
}

func TestJUnitVerdictCase(t *testing.T) {
	check := func(outcome string) journal.Check {
		return journal.Check{Name: "availability", Kind: journal.KindSLO, Outcome: outcome, OnData: outcome != journal.Inconclusive, Detail: "availability 99.9%"}
	}
	withoutData := journal.Check{Name: "availability", Kind: journal.KindSLO, Outcome: journal.Fail, Detail: "fault: no series (empty result) → on_empty: fail"}
	tests := []struct {
		name                 string
		j                    *journal.Journal
		wantFailure, wantErr bool
		wantType             string
	}{
		{name: "expected to fail but passed",
			j:           &journal.Journal{Scenario: "s", Expect: journal.Fail, Checks: []journal.Check{check(journal.Pass)}, Outcome: journal.Pass, Verdict: journal.Unexpected},
			wantFailure: true, wantType: "unexpected"},
		{name: "expected to fail and failed",
			j: &journal.Journal{Scenario: "s", Expect: journal.Fail, Checks: []journal.Check{check(journal.Fail)}, Outcome: journal.Fail, Verdict: journal.AsExpected}},
		{name: "expected to fail, inconclusive",
			j:       &journal.Journal{Scenario: "s", Expect: journal.Fail, Checks: []journal.Check{check(journal.Inconclusive)}, Outcome: journal.Inconclusive, Verdict: journal.VerdictInconclusive},
			wantErr: true, wantType: "inconclusive"},
		{name: "expected to fail, failed only without data",
			j: &journal.Journal{Scenario: "s", Expect: journal.Fail, Checks: []journal.Check{withoutData}, Outcome: journal.Fail, Verdict: journal.VerdictInconclusive,
				VerdictReason: "expected to fail, but no check failed on a measurement: availability failed on missing data"},
			wantErr: true, wantType: "inconclusive"},
		{name: "no checks at all",
			j:       &journal.Journal{Scenario: "s", Expect: journal.Pass},
			wantErr: true, wantType: "inconclusive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := decodeJUnit(t, []*journal.Journal{tt.j})
			require.Len(t, doc.Suites, 1)
			cases := doc.Suites[0].Cases
			v := cases[len(cases)-1]
			require.Equal(t, "verdict", v.Name)
			assert.Equal(t, tt.wantFailure, v.Failure != nil)
			assert.Equal(t, tt.wantErr, v.Error != nil)
			switch {
			case v.Failure != nil:
				assert.Equal(t, tt.wantType, v.Failure.Type)
				assert.Contains(t, v.Failure.Message, "verdict: unexpected")
			case v.Error != nil:
				assert.Equal(t, tt.wantType, v.Error.Type)
				assert.Contains(t, v.Error.Message, tt.j.VerdictReason, "the verdict's reason is in its case")
			}
			for _, c := range cases[:len(cases)-1] {
				if tt.j.Checks[0].Outcome == journal.Fail && !tt.j.Checks[0].OnData {
					require.NotNil(t, c.Error, "a failure without data is no expected failure")
					assert.Contains(t, c.Error.Message, "failed without data")
				}
			}
			// A fail-expected scenario's checks never count as failures.
			for _, c := range cases[:len(cases)-1] {
				assert.Nil(t, c.Failure, c.Name)
			}
		})
	}
}

func TestJUnitEscapesHostileText(t *testing.T) {
	j := hostile()
	j.Checks[1].Detail += " ]]> <![CDATA[ & \x01"
	doc := decodeJUnit(t, []*journal.Journal{j})
	require.Len(t, doc.Suites, 1)
	s := doc.Suites[0]
	assert.Equal(t, j.Scenario, s.Name)
	assert.Contains(t, s.Props, xProp{Name: "run_id", Value: j.RunID})
	for _, c := range s.Cases {
		assert.Equal(t, j.Scenario, c.ClassName)
		if c.Name == "slo/"+j.Checks[1].Name {
			require.NotNil(t, c.Failure)
			// Text survives the CDATA section intact (the control
			// character is replaced: XML cannot hold it).
			assert.Contains(t, c.Failure.Text, "detail: </td></tr></table><script>alert(4)</script> ]]> <![CDATA[ & ")
			assert.Contains(t, c.Failure.Text, `query: up{job="</code><script>alert(5)</script>"}`)
			return
		}
	}
	t.Fatal("the hostile check is missing")
}
