// Package promql checks the PromQL that chaoslab reads — scenario checks,
// SLO definitions, dashboard queries — with Prometheus's own parser
// (github.com/prometheus/prometheus/promql/parser), so that the three agree
// with each other and with the Prometheus that will run the queries.
//
// A query may hold placeholders that are not PromQL: chaoslab's $window, or
// Grafana's variables. The caller says what each stands for (a Sub), or
// lets ParseWindowed find the $window ones; the query is parsed with the
// values in place, and every position the package reports — in an Error,
// a Range, a Literal — is an offset in the query as written.
package promql

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// WindowVar is chaoslab's placeholder for the window of a scenario check or
// of an SLI: rate(x[$window]). The runner replaces it with the phase's
// length, the rules generator with each alert window.
const WindowVar = "$window"

// windowValue is what $window stands for while a query is parsed: a
// duration, like every value the runner and the generator put there.
const windowValue = "1m"

// promParser is Prometheus's parser with its defaults: no experimental
// functions or syntax, as a Prometheus started without feature flags (the
// lab's) would parse.
var promParser = parser.NewParser(parser.Options{})

// Sub replaces the placeholder at Raw[Start:End] of a query with Value
// before the query is parsed.
type Sub struct {
	Start, End int
	Value      string
}

// Query is a query as written (Raw) and as parsed (Text, Expr).
type Query struct {
	// Raw is the query as written.
	Raw string
	// Text is Raw with every Sub applied: what was parsed.
	Text string
	// Expr is the parsed query; nil when it does not parse.
	Expr parser.Expr
	// Windows is the number of $window placeholders that ParseWindowed
	// replaced (those outside string literals and comments); 0 for Parse.
	Windows int
	subs    []placed
}

// placed is a Sub with the offsets of its Value in Text.
type placed struct {
	Sub
	textStart, textEnd int
}

// Error is a query that does not parse, positioned in the query as written.
type Error struct {
	// Query is the query as written.
	Query string
	// Start and End are the byte offsets of the mistake in Query; Start is
	// len(Query) when the query ends too early.
	Start, End int
	// Msg says what is wrong, in the parser's words.
	Msg string
}

// Error is the message, where it is and the query up to there:
// `unclosed left parenthesis at the end: sum(rate(x[5m]) ⟵ here`.
func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: %s ⟵ here", e.Msg, e.where(), e.snippet())
}

// Line and Column are the 1-based line and column (in characters) of
// Start in Query.
func (e *Error) Line() int { return strings.Count(e.Query[:e.start()], "\n") + 1 }

// Column is the 1-based column, in characters, of Start on its line.
func (e *Error) Column() int {
	before := e.Query[:e.start()]
	return utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:]) + 1
}

func (e *Error) start() int { return min(max(e.Start, 0), len(e.Query)) }

func (e *Error) where() string {
	switch {
	case e.start() >= len(strings.TrimRight(e.Query, " \t\n")):
		return "at the end"
	case strings.Contains(e.Query, "\n"):
		return fmt.Sprintf("at line %d, column %d", e.Line(), e.Column())
	}
	return fmt.Sprintf("at column %d", e.Column())
}

// snippetRunes is the most of the query an error quotes.
const snippetRunes = 48

// snippet is the line of the mistake up to its end (or the line's), its
// last snippetRunes characters.
func (e *Error) snippet() string {
	start := e.start()
	lineStart := strings.LastIndexByte(e.Query[:start], '\n') + 1
	if start == len(e.Query) && start > 0 && e.Query[start-1] == '\n' {
		lineStart = strings.LastIndexByte(e.Query[:start-1], '\n') + 1
	}
	end := min(max(e.End, start+1), len(e.Query))
	if nl := strings.IndexByte(e.Query[start:], '\n'); nl >= 0 && start+nl < end {
		end = start + nl
	}
	for end < len(e.Query) && !utf8.RuneStart(e.Query[end]) {
		end++
	}
	s := strings.TrimRight(e.Query[lineStart:end], "\n")
	if r := []rune(s); len(r) > snippetRunes {
		s = "…" + string(r[len(r)-snippetRunes:])
	}
	return s
}

// Parse parses raw with subs applied. subs must lie within raw and not
// overlap. A query that does not parse gives an *Error; the Query is
// returned all the same (without Expr), so that its literals can be read.
func Parse(raw string, subs ...Sub) (*Query, error) {
	q := &Query{Raw: raw}
	sorted := slices.Clone(subs)
	slices.SortFunc(sorted, func(a, b Sub) int { return a.Start - b.Start })
	var b strings.Builder
	last := 0
	for _, s := range sorted {
		if s.Start < last || s.End < s.Start || s.End > len(raw) {
			return q, fmt.Errorf("promql: substitution [%d:%d] of %q overlaps another or lies outside the query", s.Start, s.End, raw)
		}
		b.WriteString(raw[last:s.Start])
		p := placed{Sub: s, textStart: b.Len()}
		b.WriteString(s.Value)
		p.textEnd = b.Len()
		q.subs = append(q.subs, p)
		last = s.End
	}
	b.WriteString(raw[last:])
	q.Text = b.String()

	expr, err := promParser.ParseExpr(q.Text)
	if err != nil {
		return q, q.error(err)
	}
	q.Expr = expr
	return q, nil
}

// ParseWindowed parses a query written with $window placeholders, each
// replaced with a duration; Windows counts them. A $ outside string
// literals and comments that is not $window is an error: nothing would
// replace it.
func ParseWindowed(raw string) (*Query, error) {
	var subs []Sub
	var unknown *Error
	for _, p := range placeholders(raw) {
		switch name := raw[p.Start:p.End]; {
		case name == WindowVar:
			subs = append(subs, Sub{Start: p.Start, End: p.End, Value: windowValue})
		case unknown == nil:
			unknown = &Error{Query: raw, Start: p.Start, End: p.End,
				Msg: fmt.Sprintf("unknown placeholder %q (only %s is replaced)", name, WindowVar)}
		}
	}
	if unknown != nil {
		return &Query{Raw: raw, Text: raw, Windows: len(subs)}, unknown
	}
	q, err := Parse(raw, subs...)
	q.Windows = len(subs)
	return q, err
}

// placeholders finds every $name outside the string literals and comments
// of q.
func placeholders(q string) []Sub {
	var out []Sub
	for i := 0; i < len(q); i++ {
		switch c := q[i]; c {
		case '"', '\'', '`':
			for i++; i < len(q) && q[i] != c; i++ {
				if q[i] == '\\' && c != '`' {
					i++
				}
			}
		case '#':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case '$':
			end := i + 1
			for end < len(q) && isWordByte(q[end]) {
				end++
			}
			out = append(out, Sub{Start: i, End: end})
			i = end - 1
		}
	}
	return out
}

func isWordByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// error turns the parser's error into an *Error on Raw.
func (q *Query) error(err error) error {
	var errs parser.ParseErrors
	var one *parser.ParseErr
	var pe parser.ParseErr
	switch {
	case errors.As(err, &errs) && len(errs) > 0:
		pe = errs[0]
	case errors.As(err, &one):
		pe = *one
	default:
		return &Error{Query: q.Raw, Start: len(q.Raw), End: len(q.Raw), Msg: err.Error()}
	}
	start := q.RawOffset(int(pe.PositionRange.Start))
	end := max(q.RawOffset(int(pe.PositionRange.End)), start)
	return &Error{Query: q.Raw, Start: start, End: end, Msg: pe.Err.Error()}
}

// RawOffset maps a byte offset of Text to Raw: an offset inside a
// substituted value maps to the start of its placeholder.
func (q *Query) RawOffset(text int) int {
	delta := 0
	for _, s := range q.subs {
		if text < s.textStart {
			break
		}
		if text < s.textEnd {
			return s.Start
		}
		delta = s.End - s.textEnd
	}
	return min(max(text+delta, 0), len(q.Raw))
}

// Instant reports whether the query returns an instant vector or a scalar:
// what a range query accepts, and one value per evaluation.
func (q *Query) Instant() bool {
	return q.Expr != nil && (q.Expr.Type() == parser.ValueTypeVector || q.Expr.Type() == parser.ValueTypeScalar)
}

// Kind names what the query returns, for messages: "an instant vector",
// "a scalar", "a range vector" or "a string".
func (q *Query) Kind() string {
	if q.Expr == nil {
		return "nothing"
	}
	switch q.Expr.Type() {
	case parser.ValueTypeVector:
		return "an instant vector"
	case parser.ValueTypeScalar:
		return "a scalar"
	case parser.ValueTypeMatrix:
		return "a range vector"
	case parser.ValueTypeString:
		return "a string"
	}
	return string(q.Expr.Type())
}

// Selector is a series selector: metric{label="value"}.
type Selector struct {
	// Metric is the metric's name, "" when the selector names none (or
	// matches __name__ by regex).
	Metric string
	// Matchers are its label matchers, __name__ included.
	Matchers []*labels.Matcher
	// Modified: it has an offset or an @ modifier.
	Modified bool
}

func selector(vs *parser.VectorSelector) Selector {
	s := Selector{Metric: vs.Name, Matchers: vs.LabelMatchers,
		Modified: vs.OriginalOffset != 0 || vs.OriginalOffsetExpr != nil || vs.Timestamp != nil || vs.StartOrEnd != 0}
	if s.Metric == "" {
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				s.Metric = m.Value
			}
		}
	}
	return s
}

// Selector returns the query as one series selector, if that is all it is.
func (q *Query) Selector() (Selector, bool) {
	vs, ok := q.Expr.(*parser.VectorSelector)
	if !ok {
		return Selector{}, false
	}
	return selector(vs), true
}

// Selectors returns every series selector of the query, range selectors'
// included, in the order they are written.
func (q *Query) Selectors() []Selector {
	var out []Selector
	q.inspect(func(n parser.Node, _ []parser.Node) {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, selector(vs))
		}
	})
	return out
}

// Metrics returns the names of the metrics the query selects, sorted, once
// each.
func (q *Query) Metrics() []string {
	var out []string
	for _, s := range q.Selectors() {
		if s.Metric != "" && !slices.Contains(out, s.Metric) {
			out = append(out, s.Metric)
		}
	}
	slices.Sort(out)
	return out
}

// Range is the range of a range selector (x[5m]) or of a subquery
// ((...)[5m:1s]), as written.
type Range struct {
	// Text is what is written between [ and ] (before a subquery's ':'),
	// spaces trimmed: "5m", "$__rate_interval".
	Text string
	// Start and End are the offsets of Text in the query as written.
	Start, End int
	// Func is the function whose argument the range is ("rate"); "" when
	// it is not a function's argument.
	Func string
}

// Ranges returns the ranges of the query, in the order they are written.
func (q *Query) Ranges() []Range {
	var out []Range
	q.inspect(func(n parser.Node, path []parser.Node) {
		var end int
		switch n := n.(type) {
		case *parser.MatrixSelector:
			end = int(n.EndPos)
		case *parser.SubqueryExpr:
			end = int(n.EndPos)
		default:
			return
		}
		begin := int(n.(parser.Expr).PositionRange().Start)
		end = min(end, len(q.Text))
		open := strings.LastIndexByte(q.Text[begin:end], '[')
		if open < 0 {
			return
		}
		open += begin
		closing := strings.IndexAny(q.Text[open:end], ":]")
		if closing < 0 {
			return
		}
		start, stop := q.RawOffset(open+1), q.RawOffset(open+closing)
		text := q.Raw[start:stop]
		lead := len(text) - len(strings.TrimLeft(text, " \t\n"))
		r := Range{Text: strings.TrimSpace(text), Start: start + lead}
		r.End = r.Start + len(r.Text)
		if len(path) > 0 {
			if c, ok := path[len(path)-1].(*parser.Call); ok {
				r.Func = c.Func.Name
			}
		}
		out = append(out, r)
	})
	return out
}

// Literal is a string literal of the query.
type Literal struct {
	// Start and End are its offsets in the query as written, quotes
	// included.
	Start, End int
	// Regex: it is the value of a regex matcher (=~ or !~).
	Regex bool
}

// Literals returns the string literals of the query, in order. It reads
// the query's tokens, not its syntax tree, so it also works on a query
// that does not parse, up to where its tokens stop making sense.
func (q *Query) Literals() []Literal {
	var out []Literal
	var prev parser.ItemType
	for it := range q.tokens() {
		switch it.Typ {
		case parser.COMMENT:
			continue // what follows a comment follows the token before it
		case parser.STRING:
			out = append(out, Literal{Start: q.RawOffset(int(it.Pos)), End: q.RawOffset(int(it.Pos) + len(it.Val)),
				Regex: prev == parser.EQL_REGEX || prev == parser.NEQ_REGEX})
		}
		prev = it.Typ
	}
	return out
}

// Comments reports whether the query has a # comment.
func (q *Query) Comments() bool {
	for it := range q.tokens() {
		if it.Typ == parser.COMMENT {
			return true
		}
	}
	return false
}

// tokens yields the tokens of Text, up to the end or the first that the
// lexer refuses.
func (q *Query) tokens() iter.Seq[parser.Item] {
	return func(yield func(parser.Item) bool) {
		l := parser.Lex(q.Text)
		for {
			var it parser.Item
			l.NextItem(&it)
			if it.Typ == parser.EOF || it.Typ == parser.ERROR || !yield(it) {
				return
			}
		}
	}
}

// inspect walks Expr (nothing when the query does not parse).
func (q *Query) inspect(f func(n parser.Node, path []parser.Node)) {
	if q.Expr == nil {
		return
	}
	parser.Inspect(q.Expr, func(n parser.Node, path []parser.Node) error {
		f(n, path)
		return nil
	})
}
