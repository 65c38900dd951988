package slodef

import (
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/harness/diag"
	"github.com/chaoslab/chaoslab/harness/promql"
)

// Problem is one thing wrong in the definitions file (see package diag).
type Problem = diag.Problem

// ValidationError lists every problem of a definitions file.
type ValidationError = diag.ValidationError

// Load reads and checks the SLO definitions in path. A file with problems
// gives a *ValidationError listing all of them.
func Load(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading SLO definitions: %w", err)
	}
	return Parse(path, data)
}

// Parse checks the SLO definitions in data, read from file.
func Parse(file string, data []byte) (*Set, error) {
	d := &decoder{file: file}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &ValidationError{Problems: []Problem{diag.YAMLSyntax(file, err)}}
	}
	if len(root.Content) == 0 {
		return nil, &ValidationError{Problems: []Problem{{File: file, Msg: "the file is empty: want time_scale and slos"}}}
	}
	set := d.set(root.Content[0])
	if len(d.problems) > 0 {
		diag.SortByPosition(d.problems)
		return nil, &ValidationError{Problems: d.problems}
	}
	return set, nil
}

// decoder reads yaml.Nodes, recording every problem with its position and
// field path instead of stopping at the first.
type decoder struct {
	file     string
	problems []Problem
}

// errorf records a problem at node n for the field at path.
func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	p := Problem{File: d.file, Field: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

// fields reads n as a mapping with keys among allowed and returns its
// values and its keys' nodes; required keys that are absent are problems.
func (d *decoder) fields(n *yaml.Node, path string, allowed, required []string) (vals, keys map[string]*yaml.Node, ok bool) {
	vals, keys = map[string]*yaml.Node{}, map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping of field: value, got %s", describe(n))
		return vals, keys, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := field(path, k.Value)
		switch {
		case !slices.Contains(allowed, k.Value):
			d.errorf(k, name, "unknown field; allowed: %s", strings.Join(allowed, ", "))
		case keys[k.Value] != nil:
			d.errorf(k, name, "repeated field: it is already set on line %d", keys[k.Value].Line)
		default:
			keys[k.Value], vals[k.Value] = k, v
		}
	}
	for _, r := range required {
		if vals[r] == nil {
			d.errorf(n, field(path, r), "missing")
		}
	}
	return vals, keys, true
}

// str reads a non-empty string.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.errorf(n, path, "want a string, got %s", describe(n))
		return "", false
	}
	if strings.TrimSpace(n.Value) == "" {
		d.errorf(n, path, "is empty")
		return "", false
	}
	return strings.TrimSpace(n.Value), true
}

// describe names what n is, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// field joins a path and a key.
func field(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// set reads the top level: time_scale and slos.
func (d *decoder) set(n *yaml.Node) *Set {
	vals, _, ok := d.fields(n, "", []string{"time_scale", "slos"}, []string{"time_scale", "slos"})
	if !ok {
		return nil
	}
	s := &Set{File: d.file}
	if v := vals["time_scale"]; v != nil {
		scale, err := strconv.Atoi(v.Value)
		switch {
		case v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || err != nil:
			d.errorf(v, "time_scale", "want a whole number that divides the workbook's windows (60: one lab second for a minute), got %s", describe(v))
		default:
			if err := checkTimeScale(scale); err != nil {
				d.errorf(v, "time_scale", "%v", err)
			}
			s.TimeScale = scale
		}
	}
	v := vals["slos"]
	if v == nil {
		return s
	}
	switch {
	case v.Kind != yaml.SequenceNode:
		d.errorf(v, "slos", "want a list of SLOs (name, description, objective, sli), got %s", describe(v))
		return s
	case len(v.Content) == 0:
		d.errorf(v, "slos", "is empty: define at least one SLO (name, description, objective, sli)")
		return s
	}
	seen := map[string]int{}
	for i, item := range v.Content {
		path := fmt.Sprintf("slos[%d]", i)
		o, nameNode, ok := d.slo(item, path)
		if o.Name != "" {
			if line, dup := seen[o.Name]; dup {
				d.errorf(nameNode, path+".name", "SLO %q is already defined on line %d: names must be unique", o.Name, line)
				continue
			}
			seen[o.Name] = nameNode.Line
		}
		if ok {
			s.SLOs = append(s.SLOs, o)
		}
	}
	slices.SortFunc(s.SLOs, func(a, b SLO) int { return strings.Compare(a.Name, b.Name) })
	return s
}

// nameRE is what an SLO name may be: it becomes a label value, part of a
// scenario check and of rule group names.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// slo reads one SLO; ok is false when it has problems.
func (d *decoder) slo(n *yaml.Node, path string) (o SLO, nameNode *yaml.Node, ok bool) {
	before := len(d.problems)
	all := []string{"name", "description", "objective", "sli"}
	vals, _, isMap := d.fields(n, path, all, all)
	if !isMap {
		return o, nil, false
	}
	if v := vals["name"]; v != nil {
		nameNode = v
		if name, ok := d.str(v, path+".name"); ok {
			if !nameRE.MatchString(name) {
				d.errorf(v, path+".name", "%q: want 1–63 of a-z 0-9 -, starting with a letter (it is a label value and a scenario's slo:)", name)
			}
			o.Name = name
		}
	}
	if v := vals["description"]; v != nil {
		o.Description, _ = d.str(v, path+".description")
		o.Description = strings.Join(strings.Fields(o.Description), " ")
	}
	if v := vals["objective"]; v != nil {
		o.Objective = d.objective(v, path+".objective")
	}
	if v := vals["sli"]; v != nil {
		o.SLI = d.sli(v, path+".sli")
	}
	return o, nameNode, len(d.problems) == before
}

// minObjective is the lowest objective whose page alert can fire: above it,
// 14.4 × the error budget stays under 100% errors.
const minObjective = 1 - 1/14.4

// objective reads a percentage like "99.5%" into a ratio.
func (d *decoder) objective(n *yaml.Node, path string) float64 {
	pct, found := strings.CutSuffix(strings.TrimSpace(n.Value), "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
	if n.Kind != yaml.ScalarNode || !found || err != nil || math.IsNaN(v) {
		d.errorf(n, path, "want a percentage like 99.5%%, got %s", describe(n))
		return 0
	}
	r, _ := strconv.ParseFloat(num(v/100), 64) // 99.9 / 100 is 0.9990000000000001
	switch {
	case r >= 1:
		d.errorf(n, path, "%s leaves no error budget: want less than 100%%", n.Value)
	case r <= minObjective:
		d.errorf(n, path, "%s: with an error budget of %s%%, the page alert (14.4× the budget) could never fire; want more than %.2f%%",
			n.Value, num(100-v), 100*minObjective)
	}
	return r
}

// sli reads good or bad, and total.
func (d *decoder) sli(n *yaml.Node, path string) SLI {
	vals, keys, ok := d.fields(n, path, []string{"good", "bad", "total"}, []string{"total"})
	if !ok {
		return SLI{}
	}
	var s SLI
	switch {
	case vals["good"] != nil && vals["bad"] != nil:
		d.errorf(keys["bad"], path+".bad", "set good or bad, not both")
	case vals["good"] == nil && vals["bad"] == nil:
		d.errorf(n, path, "missing good or bad: the events that meet the objective, or those that do not")
	}
	read := func(key string) string {
		v := vals[key]
		if v == nil {
			return ""
		}
		e, ok := d.str(v, path+"."+key)
		if !ok {
			return ""
		}
		e = strings.Join(strings.Fields(e), " ")
		if err := checkExpr(e); err != nil {
			d.errorf(v, path+"."+key, "%v", err)
		}
		return e
	}
	s.Good, s.Bad, s.Total = read("good"), read("bad"), read("total")
	return s
}

// checkExpr says what is wrong with an SLI's selector or query, or nil.
// Prometheus's parser reads it, with $window replaced (package promql). A
// query must use $window and return one value; anything else must be a
// plain series selector, which the generator sums and rates over each
// window as written. Neither may hold a comment: the definition is joined
// onto one line, where a # would swallow what follows it.
func checkExpr(e string) error {
	q, err := promql.ParseWindowed(e)
	if err != nil {
		return err
	}
	if q.Comments() {
		return fmt.Errorf("%q has a # comment: an SLI is joined onto one line, where the comment would swallow what follows; say it in the description", e)
	}
	if q.Windows > 0 {
		if !q.Instant() {
			return fmt.Errorf("returns %s, not one value: aggregate what the window holds, like sum(rate(metric[$window]))", q.Kind())
		}
		return nil
	}
	switch sel, ok := q.Selector(); {
	case ok && sel.Modified:
		return fmt.Errorf("%q has an offset or @: the generator rates a series selector over each window as it is written; drop them", e)
	case ok:
		return nil
	}
	return errors.New("a query must have $window where the range goes: sum(rate(metric[$window]))")
}

// num formats a number with up to twelve significant digits.
func num(v float64) string { return strconv.FormatFloat(v, 'g', 12, 64) }
