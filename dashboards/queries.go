package dashboards

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/chaoslab/chaoslab/harness/promql"
)

// Kind says where a query comes from in a dashboard.
type Kind string

// The kinds of queries.
const (
	KindPanel      Kind = "panel"
	KindAnnotation Kind = "annotation"
	KindVariable   Kind = "variable"
)

// Query is one query a dashboard sends to Prometheus, made concrete.
type Query struct {
	// File and Dashboard say which dashboard (file path, title).
	File, Dashboard string
	// Kind is panel, annotation or variable; Title is the panel's title,
	// the annotation's or the variable's name.
	Kind  Kind
	Title string
	// Path is where the query is in the JSON: "panels[3].targets[0].expr".
	Path string
	// Raw is the query as written, with its template variables.
	Raw string
	// Expr is the PromQL with every variable replaced. For a label_values
	// variable it is the series selector ("" when the query has none).
	Expr string
	// Label is, for a label_values variable, the label whose values it
	// lists ("" otherwise).
	Label string
	// Instant: evaluate once at the end of the time range (an instant
	// panel target, a query_result variable) instead of over the range.
	Instant bool
	// MinStep is the query's minimum step ("interval" of a target, "step"
	// of an annotation); 0 when it has none.
	MinStep time.Duration
}

// String is "file: title (path): expr" for test failures.
func (q Query) String() string {
	s := fmt.Sprintf("%s: %s %q (%s): %s", q.File, q.Kind, q.Title, q.Path, q.Expr)
	if q.Label != "" {
		s += " label " + q.Label
	}
	return s
}

// Env is what Grafana would know when it runs a dashboard's queries: the
// time range, the step, the datasource's scrape interval and the values of
// the template variables.
type Env struct {
	// Range is the dashboard's time range ($__range).
	Range time.Duration
	// Interval is the step of range queries ($__interval).
	Interval time.Duration
	// ScrapeInterval is the datasource's scrape interval (its
	// jsonData.timeInterval), from which $__rate_interval is derived.
	ScrapeInterval time.Duration
	// Values overrides template variables by name, with the value as
	// Grafana would put it in PromQL (a regex for a multi-value variable).
	Values map[string]string
}

// RateInterval is Grafana's $__rate_interval: max($__interval + scrape
// interval, 4 × scrape interval).
func (e Env) RateInterval() time.Duration {
	return max(e.Interval+e.ScrapeInterval, 4*e.ScrapeInterval)
}

// builtins are Grafana's global variables the dashboards may use, with
// their values in env.
func (e Env) builtins() map[string]string {
	return map[string]string{
		"__interval":         promDuration(e.Interval),
		"__interval_ms":      strconv.FormatInt(e.Interval.Milliseconds(), 10),
		"__rate_interval":    promDuration(e.RateInterval()),
		"__rate_interval_ms": strconv.FormatInt(e.RateInterval().Milliseconds(), 10),
		"__range":            promDuration(e.Range),
		"__range_s":          strconv.FormatInt(int64(e.Range/time.Second), 10),
		"__range_ms":         strconv.FormatInt(e.Range.Milliseconds(), 10),
	}
}

func promDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return model.Duration(d).String()
}

// varRef matches Grafana's variable syntaxes: $name, [[name]] or
// [[name:format]], ${name} or ${name:format} (Grafana's own expression).
var varRef = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}`)

// ref is one variable reference in a string.
type ref struct {
	name       string
	start, end int
}

// refs lists the variable references in s. Names made only of digits
// ($1 in a label_replace replacement) are PromQL's, not Grafana's.
func refs(s string) []ref {
	var out []ref
	for _, m := range varRef.FindAllStringSubmatchIndex(s, -1) {
		var name string
		for _, g := range []int{2, 4, 8} {
			if m[g] >= 0 {
				name = s[m[g]:m[g+1]]
			}
		}
		if strings.Trim(name, "0123456789") == "" {
			continue
		}
		out = append(out, ref{name: name, start: m[0], end: m[1]})
	}
	return out
}

// value is what variable v stands for when env has no value for it:
//   - constant and textbox: its query;
//   - custom and interval: the current value, else the first of its values;
//   - query (and a custom one that is multi-value or has All): the "All"
//     value, the regex ".+" when it has no allValue — Validate makes sure
//     such variables are only used in regex matchers.
func (v Variable) value() string {
	switch v.Type {
	case "constant", "textbox":
		return v.Query.Query
	case "custom", "interval":
		if v.Multi || v.IncludeAll {
			break
		}
		if len(v.Current.Value) == 1 && v.Current.Value[0] != "$__all" {
			return v.Current.Value[0]
		}
		if first, _, _ := strings.Cut(v.Query.Query, ","); first != "" {
			return strings.TrimSpace(first)
		}
	}
	if v.IncludeAll && v.AllValue != "" {
		return v.AllValue
	}
	return ".+"
}

// substitutions says what each variable reference of s stands for in env,
// as Grafana would replace it. Unknown variables are returned as errors
// and have no substitution.
func (d *Dashboard) substitutions(s string, env Env) ([]promql.Sub, error) {
	builtins := env.builtins()
	var subs []promql.Sub
	var errs []error
	for _, r := range refs(s) {
		v, ok := env.Values[r.name]
		if !ok {
			v, ok = builtins[r.name]
		}
		if !ok {
			var tv Variable
			if tv, ok = d.Variable(r.name); ok {
				v = tv.value()
			}
		}
		if !ok {
			errs = append(errs, fmt.Errorf("$%s is not a template variable of the dashboard nor a Grafana global one", r.name))
			continue
		}
		subs = append(subs, promql.Sub{Start: r.start, End: r.end, Value: v})
	}
	return subs, errors.Join(errs...)
}

// interpolate replaces every variable reference of s. Unknown variables are
// returned as errors and left as they are.
func (d *Dashboard) interpolate(s string, env Env) (string, error) {
	subs, err := d.substitutions(s, env)
	var b strings.Builder
	last := 0
	for _, sub := range subs {
		b.WriteString(s[last:sub.Start])
		b.WriteString(sub.Value)
		last = sub.End
	}
	b.WriteString(s[last:])
	return b.String(), err
}

// VariableQuery is a parsed Prometheus query variable: label_values(selector,
// label), label_values(label) or query_result(expr).
type parsedVarQuery struct {
	fn       string // label_values or query_result
	selector string // label_values: the series selector ("" for none)
	label    string // label_values: the label
	expr     string // query_result: the PromQL
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// parseVarQuery parses the query of a Prometheus query variable.
func parseVarQuery(q string) (parsedVarQuery, error) {
	q = strings.TrimSpace(q)
	fn, rest, ok := strings.Cut(q, "(")
	fn = strings.TrimSpace(fn)
	if !ok || !strings.HasSuffix(rest, ")") {
		return parsedVarQuery{}, fmt.Errorf("%q is not label_values(selector, label) nor query_result(expr)", q)
	}
	arg := strings.TrimSpace(strings.TrimSuffix(rest, ")"))
	switch fn {
	case "query_result":
		if arg == "" {
			return parsedVarQuery{}, errors.New("query_result() has no expression")
		}
		return parsedVarQuery{fn: fn, expr: arg}, nil
	case "label_values":
		sel, label := "", arg
		if i := lastTopLevelComma(arg); i >= 0 {
			sel, label = strings.TrimSpace(arg[:i]), strings.TrimSpace(arg[i+1:])
		}
		if !labelName.MatchString(label) {
			return parsedVarQuery{}, fmt.Errorf("label_values: %q is not a label name", label)
		}
		return parsedVarQuery{fn: fn, selector: sel, label: label}, nil
	}
	return parsedVarQuery{}, fmt.Errorf("%s() is not supported here: use label_values(selector, label) or query_result(expr)", fn)
}

// lastTopLevelComma is the index of the last comma outside quotes, braces,
// brackets and parentheses, or -1.
func lastTopLevelComma(s string) int {
	depth, last := 0, -1
	var quote rune
	escaped := false
	for i, c := range s {
		switch {
		case quote != 0:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == quote:
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '{' || c == '(' || c == '[':
			depth++
		case c == '}' || c == ')' || c == ']':
			depth--
		case c == ',' && depth == 0:
			last = i
		}
	}
	return last
}

// Queries lists every Prometheus query of the dashboard — each panel
// target (rows' panels included), each Prometheus annotation, each query
// variable — with the template variables replaced as Grafana would in env.
// Queries of other datasources (Jaeger) are not listed. The error lists
// every query that could not be made concrete; the others are returned.
func (d *Dashboard) Queries(env Env) ([]Query, error) {
	var out []Query
	var errs []error
	add := func(q Query) {
		expr, err := d.interpolate(q.Raw, env)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", d.File, q.Path, err))
			return
		}
		q.File, q.Dashboard, q.Expr = d.File, d.Title, expr
		out = append(out, q)
	}
	for i, v := range d.Templating.List {
		if v.Type != "query" || !isPrometheus(v.Datasource) {
			continue
		}
		path := fmt.Sprintf("templating.list[%d].query", i)
		pq, err := parseVarQuery(v.Query.Query)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", d.File, path, err))
			continue
		}
		switch pq.fn {
		case "query_result":
			add(Query{Kind: KindVariable, Title: v.Name, Path: path, Raw: pq.expr, Instant: true})
		default:
			add(Query{Kind: KindVariable, Title: v.Name, Path: path, Raw: pq.selector, Label: pq.label})
		}
	}
	for i, a := range d.Annotations.List {
		if a.Expr == "" || !isPrometheus(a.Datasource) {
			continue
		}
		step, _ := parseStep(a.Step)
		add(Query{Kind: KindAnnotation, Title: a.Name, Path: fmt.Sprintf("annotations.list[%d].expr", i), Raw: a.Expr, MinStep: step})
	}
	d.allPanels(func(path string, p *Panel) {
		for j, t := range p.Targets {
			if t.Hide || t.Expr == "" || !isPrometheus(targetDatasource(p, t)) {
				continue
			}
			step, _ := parseStep(t.Interval)
			add(Query{Kind: KindPanel, Title: p.Title, Path: fmt.Sprintf("%s.targets[%d].expr", path, j), Raw: t.Expr,
				Instant: t.Instant && !t.Range, MinStep: step})
		}
	})
	return out, errors.Join(errs...)
}

// targetDatasource is the datasource a target runs on: its own, else its
// panel's.
func targetDatasource(p *Panel, t Target) *DatasourceRef {
	if t.Datasource != nil {
		return t.Datasource
	}
	return p.Datasource
}

func isPrometheus(r *DatasourceRef) bool { return r != nil && r.Type == "prometheus" }

// parseStep parses a step or min interval: "1s", "500ms", "" (none).
func parseStep(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := model.ParseDuration(s)
	return time.Duration(d), err
}
