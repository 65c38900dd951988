package slodef

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoad(t *testing.T) {
	set, err := Load(filepath.Join("testdata", "slos.yaml"))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join("testdata", "slos.yaml"), set.File)
	assert.Equal(t, 60, set.TimeScale)
	require.Len(t, set.SLOs, 3)
	assert.Equal(t, SLO{
		Name:        "alpha-bad",
		Description: "Bad events among all, from selectors.",
		Objective:   0.999,
		SLI:         SLI{Bad: `requests_total{code=~"5.."}`, Total: "requests_total"},
	}, set.SLOs[0])
	assert.InDelta(t, 0.001, set.SLOs[0].ErrorBudget(), 1e-12)
	assert.Equal(t, SLI{
		Good:  `sum(rate(jobs_total{result="done"}[$window])) + sum(rate(jobs_total{result="skipped"}[$window]))`,
		Total: "sum(rate(jobs_total[$window]))",
	}, set.SLOs[2].SLI)

	_, err = Load(filepath.Join("testdata", "missing.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestParseProblems checks that every problem is reported, with
// file:line:col, the field and what to do.
func TestParseProblems(t *testing.T) {
	const valid = `
  - name: ok
    description: fine
    objective: 99%
    sli:
      good: a_total{code="ok"}
      total: a_total
`
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"empty", ``, []string{"f.yaml: the file is empty: want time_scale and slos"}},
		{"syntax", "time_scale: 60\nslos: [\n", []string{"f.yaml:3:1: did not find expected node content: fix the YAML syntax"}},
		{"not a mapping", "- 1\n", []string{`f.yaml:1:1: want a mapping of field: value, got a list`}},
		{"missing everything", "other: 1\n", []string{
			"f.yaml:1:1: other: unknown field; allowed: time_scale, slos",
			"f.yaml:1:1: time_scale: missing",
			"f.yaml:1:1: slos: missing",
		}},
		{"time scale not a number", "time_scale: 1/720\nslos:" + valid, []string{
			`f.yaml:1:13: time_scale: want a whole number that divides the workbook's windows (60: one lab second for a minute), got "1/720"`,
		}},
		{"time scale 720", "time_scale: 720\nslos:" + valid, []string{
			"f.yaml:1:13: time_scale: 5m / 720 is not a whole number of seconds: use a divisor of 300 (the 5m window in seconds)",
		}},
		{"time scale 100", "time_scale: 100\nslos:" + valid, []string{
			"f.yaml:1:13: time_scale: 5m / 100 = 3s is shorter than 4s: rate() over it would see too few of the lab's 1 s scrapes; use at most 75",
		}},
		{"slos not a list", "time_scale: 60\nslos: checkout\n", []string{
			`f.yaml:2:7: slos: want a list of SLOs (name, description, objective, sli), got "checkout"`,
		}},
		{"objective not a number", "time_scale: 60\nslos:" + strings.Replace(valid, "99%", "NaN%", 1), []string{
			`f.yaml:5:16: slos[0].objective: want a percentage like 99.5%, got "NaN%"`,
		}},
		{"time scale 0", "time_scale: 0\nslos:" + valid, []string{
			"f.yaml:1:13: time_scale: must be at least 1 (1: the workbook's own windows)",
		}},
		{"no slos", "time_scale: 60\nslos: []\n", []string{
			"f.yaml:2:7: slos: is empty: define at least one SLO (name, description, objective, sli)",
		}},
		{"slo fields", `time_scale: 60
slos:
  - name: Checkout_Availability
    description: ""
    objective: 0.99
    owner: me
    sli:
      good: a_total
      bad: b_total
      total: sum(rate(a_total[5m]))
  - name: x
    description: y
    objective: 100%
    sli:
      total: a_total{code="ok}
  - name: y
    description: y
    objective: 90%
    sli: [a]
  - name: y
    description: dup
    objective: 99%
    sli:
      good: a_total
      total: b_total
`, []string{
			`f.yaml:3:11: slos[0].name: "Checkout_Availability": want 1–63 of a-z 0-9 -, starting with a letter (it is a label value and a scenario's slo:)`,
			"f.yaml:4:18: slos[0].description: is empty",
			`f.yaml:5:16: slos[0].objective: want a percentage like 99.5%, got "0.99"`,
			"f.yaml:6:5: slos[0].owner: unknown field; allowed: name, description, objective, sli",
			"f.yaml:9:7: slos[0].sli.bad: set good or bad, not both",
			"f.yaml:10:14: slos[0].sli.total: a query must have $window where the range goes: sum(rate(metric[$window]))",
			"f.yaml:13:16: slos[1].objective: 100% leaves no error budget: want less than 100%",
			"f.yaml:15:7: slos[1].sli: missing good or bad: the events that meet the objective, or those that do not",
			`f.yaml:15:14: slos[1].sli.total: unterminated quoted string at column 14: a_total{code="ok} ⟵ here`,
			"f.yaml:18:16: slos[2].objective: 90%: with an error budget of 10%, the page alert (14.4× the budget) could never fire; want more than 93.06%",
			"f.yaml:19:10: slos[2].sli: want a mapping of field: value, got a list",
			`f.yaml:20:11: slos[3].name: SLO "y" is already defined on line 16: names must be unique`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tt.doc))
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			var got []string
			for _, p := range verr.Problems {
				got = append(got, p.String())
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestSelectors checks which SLI expressions are accepted.
func TestSelectors(t *testing.T) {
	for _, ok := range []string{
		"a_total",
		"a:b_total{}",
		`a_total{code="ok"}`,
		`a_total{ code = "ok" , route!~"GET /x|POST /y", le="0.25", }`,
		`a_total{msg="say \"hi\""}`,
		`sum(rate(a_total[$window]))`,
		// Refused by the former regex, valid PromQL: other quotes, a
		// selector by __name__.
		`a_total{code='ok'}`,
		"a_total{code=`ok`}",
		`{__name__="a_total", code="ok"}`,
		`label_replace(sum(rate(a_total[$window])), "x", "$1", "y", "(.*)")`,
	} {
		assert.NoError(t, checkExpr(ok), ok)
	}
	for bad, want := range map[string]string{
		`a_total{code=ok}`:     "unexpected identifier",
		`a_total{code="ok"`:    "unexpected end of input inside braces at the end",
		`1a_total`:             "",
		`rate(a_total[5m])`:    "a query must have $window where the range goes",
		`a_total{code="ok"} b`: "unexpected identifier \"b\" at column 20",
		// Accepted by the former check, which only looked for $window.
		`sum(rate(a_total[$window])) / sum(rate(b_total[$windw]))`: `unknown placeholder "$windw" (only $window is replaced) at column 48`,
		`sum(rate(a_total[$window])) by le`:                        "unexpected identifier \"le\"",
		`a_total[$window]`:                                         "returns a range vector, not one value",
		`sum(rate(a_total[$window])) # all of them`:                "has a # comment",
		`a_total offset 5m`:                                        "has an offset or @",
	} {
		err := checkExpr(bad)
		if assert.Error(t, err, bad) {
			assert.Contains(t, err.Error(), want, bad)
		}
	}
}
