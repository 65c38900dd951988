package promql

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseWindowed(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		windows int
		kind    string
		wantErr string
	}{
		{name: "a windowed rate", query: `sum(rate(x{code=~"5.."}[$window]))`, windows: 1, kind: "an instant vector"},
		{name: "two windows", query: `sum(rate(a[$window])) / sum(rate(b[$window]))`, windows: 2, kind: "an instant vector"},
		{name: "a subquery over the window", query: `max_over_time((sum(x))[$window:1s])`, windows: 1, kind: "an instant vector"},
		{name: "an instant query", query: `up`, kind: "an instant vector"},
		{name: "a scalar", query: `scalar(sum(up)) * 2`, kind: "a scalar"},
		{name: "a range vector", query: `x[$window]`, windows: 1, kind: "a range vector"},
		{name: "a string", query: `"up"`, kind: "a string"},
		// $ inside strings is PromQL's (label_replace), not a placeholder,
		// and so is any text in a comment.
		{name: "$1 in a string", query: `label_replace(rate(x[$window]), "a", "$1", "b", "(.*)")`, windows: 1, kind: "an instant vector"},
		{name: "$window in a string is not a window", query: `label_replace(x, "w", "$window", "", "")`, kind: "an instant vector"},
		{name: "comments", query: "sum(rate(x[$window])) # don't count $other (or this)\n", windows: 1, kind: "an instant vector"},

		{name: "unknown placeholder", query: `rate(x[$window]) / rate(y[$windows])`,
			wantErr: `unknown placeholder "$windows" (only $window is replaced) at column 27: rate(x[$window]) / rate(y[$windows ⟵ here`},
		{name: "Grafana's syntax", query: `rate(x[${window}])`,
			wantErr: `unknown placeholder "$" (only $window is replaced) at column 8: rate(x[$ ⟵ here`},
		{name: "unclosed", query: `sum(rate(x{code=~"5.."}[$window])`,
			wantErr: `unclosed left parenthesis at the end: sum(rate(x{code=~"5.."}[$window]) ⟵ here`},
		{name: "positions after $window are in the query as written", query: `rate(x[$window]) + (y`,
			wantErr: `unclosed left parenthesis at the end: rate(x[$window]) + (y ⟵ here`},
		{name: "a zero step", query: `rate(x[$window:0s])`,
			wantErr: `duration must be greater than 0 at column 16: rate(x[$window:0s ⟵ here`},
		{name: "misspelt function", query: `histogram_quantil(0.99, rate(x[$window]))`,
			wantErr: `unknown function with name "histogram_quantil" at column 1: histogram_quantil ⟵ here`},
		{name: "by without parentheses", query: `sum by (le) rate(x[$window])`,
			wantErr: `unexpected identifier "rate" in aggregation at column 13: sum by (le) rate ⟵ here`},
		{name: "range of a function", query: `rate(sum(x)[$window])`,
			wantErr: `ranges only allowed for vector selectors at column 12`},
		{name: "multi-line", query: "sum(\n  rate(x[$window]\n)",
			wantErr: `unclosed left parenthesis at the end: ) ⟵ here`},
		{name: "multi-line, inside", query: "sum(\n  rate(x{a=\"b}[$window])\n)",
			wantErr: `unterminated quoted string at line 2, column 12:   rate(x{a="b}[$window]) ⟵ here`},
		{name: "experimental functions stay off", query: `limitk(1, rate(x[$window]))`,
			wantErr: `limitk() is experimental`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := ParseWindowed(tt.query)
			require.NotNil(t, q)
			if tt.wantErr != "" {
				require.Error(t, err)
				var perr *Error
				require.True(t, errors.As(err, &perr), "%T", err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Equal(t, tt.query, perr.Query)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.windows, q.Windows)
			assert.Equal(t, tt.kind, q.Kind())
			assert.Equal(t, tt.kind == "an instant vector" || tt.kind == "a scalar", q.Instant())
		})
	}
}

// The cases of the dashboards' former bracket checker: the parser agrees.
func TestParseSyntax(t *testing.T) {
	for expr, ok := range map[string]bool{
		`sum by (a) (rate(x{b=~"(c|d)"}[4s]))`: true,
		`rate(x{b="]"}[4s])`:                   true,
		`sum(rate(x[4s])`:                      false,
		`x{a="b}`:                              false,
		`x{a="b"]`:                             false,
		// What the hand-written checkers let through.
		`rate(x[4s]) + `:        false,
		`sum(x) by`:             false,
		`rate(x[4s]) by (a)`:    false,
		`histogram_quantile(x)`: false,
		`rate(x[0s])`:           false,
		// And what they refused: a quote or a bracket in a comment.
		"sum(rate(x[4s])) # don't (\n": true,
	} {
		t.Run(expr, func(t *testing.T) {
			_, err := Parse(expr)
			assert.Equal(t, ok, err == nil, "%v", err)
		})
	}
}

func TestErrorPositions(t *testing.T) {
	tests := []struct {
		query        string
		line, column int
		where        string
	}{
		{`x{a="b}`, 1, 5, "at column 5"},
		{`sum(x))`, 1, 8, "at the end"},
		{`x{a="é", b="c}`, 1, 12, "at column 12"},
		{"a +\n b{c=\"d}", 2, 6, "at line 2, column 6"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			_, err := Parse(tt.query)
			var perr *Error
			require.ErrorAs(t, err, &perr)
			assert.Equal(t, tt.line, perr.Line())
			assert.Equal(t, tt.column, perr.Column())
			assert.Contains(t, perr.Error(), tt.where)
		})
	}
}

func TestParseWithSubs(t *testing.T) {
	raw := `sum(rate(x{s=~"$service"}[$__rate_interval])) / $k`
	subs := []Sub{
		{Start: 48, End: 50, Value: "10"},
		{Start: 15, End: 23, Value: "orders|payments"},
		{Start: 26, End: 43, Value: "4s"},
	}
	require.Equal(t, "$service", raw[15:23])
	require.Equal(t, "$__rate_interval", raw[26:42])
	subs[2].End = 42
	q, err := Parse(raw, subs...)
	require.NoError(t, err)
	assert.Equal(t, `sum(rate(x{s=~"orders|payments"}[4s])) / 10`, q.Text)
	assert.Equal(t, []Range{{Text: "$__rate_interval", Start: 26, End: 42, Func: "rate"}}, q.Ranges())
	assert.Equal(t, []Literal{{Start: 14, End: 24, Regex: true}}, q.Literals())
	assert.Equal(t, []string{"x"}, q.Metrics())

	// An error after a substitution is placed in the query as written.
	_, err = Parse(`rate(x[$r]) + (`, Sub{Start: 7, End: 9, Value: "4s"})
	var perr *Error
	require.ErrorAs(t, err, &perr)
	assert.Equal(t, 15, perr.Start)

	// An error in a substituted value points at its placeholder.
	_, err = Parse(`rate(x[$r])`, Sub{Start: 7, End: 9, Value: "0s"})
	assert.EqualError(t, err, `duration must be greater than 0 at column 8: rate(x[$r ⟵ here`)

	_, err = Parse("x", Sub{Start: 0, End: 2})
	assert.ErrorContains(t, err, "outside the query")
}

func TestRanges(t *testing.T) {
	raw := `rate(x{a="[b]"}[ 5m ] offset 1m) + max_over_time((sum(y))[10m:1s]) + irate(w[$i])`
	i := strings.Index(raw, "$i")
	q, err := Parse(raw, Sub{Start: i, End: i + 2, Value: "1s"})
	require.NoError(t, err, "%v", err)
	assert.Equal(t, []Range{
		{Text: "5m", Start: 17, End: 19, Func: "rate"},
		{Text: "10m", Start: 58, End: 61, Func: "max_over_time"},
	}, q.Ranges()[:2])
	r := q.Ranges()
	require.Len(t, r, 3)
	assert.Equal(t, Range{Text: "$i", Start: i, End: i + 2, Func: "irate"}, r[2])
	assert.Equal(t, []Range{{Text: "1m", Start: 2, End: 4}}, mustParse(t, "z[1m]").Ranges())
}

func TestSelectorsAndLiterals(t *testing.T) {
	q, err := Parse(`sum(rate(a_total{code=~"5..", route!~'GET /x' # a comment
	}[1m])) / sum(rate({__name__="b_total", x="y"}[1m])) + on() group_left c offset 1m`)
	require.NoError(t, err)
	assert.Equal(t, []string{"a_total", "b_total", "c"}, q.Metrics())
	sels := q.Selectors()
	require.Len(t, sels, 3)
	assert.False(t, sels[0].Modified)
	assert.True(t, sels[2].Modified)
	lits := q.Literals()
	require.Len(t, lits, 4)
	assert.Equal(t, []bool{true, true, false, false}, []bool{lits[0].Regex, lits[1].Regex, lits[2].Regex, lits[3].Regex})
	assert.Equal(t, `"5.."`, q.Raw[lits[0].Start:lits[0].End])
	assert.True(t, q.Comments())

	sel, ok := mustParse(t, `a_total{code='ok'}`).Selector()
	assert.True(t, ok)
	assert.Equal(t, "a_total", sel.Metric)
	_, ok = mustParse(t, `sum(a_total)`).Selector()
	assert.False(t, ok)
	assert.False(t, mustParse(t, `a_total`).Comments())

	// Literals of a query that does not parse, up to where it stops.
	q, err = Parse(`x{a=~"b"} +`)
	require.Error(t, err)
	assert.Equal(t, []Literal{{Start: 5, End: 8, Regex: true}}, q.Literals())
}

func mustParse(t *testing.T, s string) *Query {
	t.Helper()
	q, err := Parse(s)
	require.NoError(t, err)
	return q
}
