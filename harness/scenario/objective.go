package scenario

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Op is the comparison of an Objective.
type Op string

// The comparisons an objective may make.
const (
	Less         Op = "<"
	LessEqual    Op = "<="
	Greater      Op = ">"
	GreaterEqual Op = ">="
	Equal        Op = "=="
)

// Ops returns the comparisons, as objectives write them.
func Ops() []string { return []string{"<", "<=", ">", ">=", "=="} }

// Objective is what a value must satisfy: absolute ("< 0.25", ">= 0.99")
// or relative to the value of the same query over an earlier phase
// ("<= 2 * baseline", "<= baseline + 0.05", "<= 1.5 * baseline + 0.1").
type Objective struct {
	// Op compares the value with the threshold.
	Op Op
	// Value is the threshold of an absolute objective, and the offset
	// added to Factor × the other phase's value in a relative one.
	Value float64
	// RelativeTo is the phase a relative objective compares with; empty
	// for an absolute one.
	RelativeTo string
	// Factor multiplies the other phase's value in a relative objective.
	Factor float64
}

// Relative reports whether o compares with another phase.
func (o Objective) Relative() bool { return o.RelativeTo != "" }

// Threshold returns what the value is compared with: Value, or
// Factor × base + Value for a relative objective.
func (o Objective) Threshold(base float64) float64 {
	if !o.Relative() {
		return o.Value
	}
	return o.Factor*base + o.Value
}

// Eval reports whether got satisfies o; base is the other phase's value of
// a relative objective (ignored otherwise). NaN never satisfies an
// objective: apply the check's on_nan policy first.
func (o Objective) Eval(got, base float64) bool {
	t := o.Threshold(base)
	if math.IsNaN(got) || math.IsNaN(t) {
		return false
	}
	switch o.Op {
	case Less:
		return got < t
	case LessEqual:
		return got <= t
	case Greater:
		return got > t
	case GreaterEqual:
		return got >= t
	case Equal:
		return got == t
	}
	return false
}

// String writes o the way ParseObjective reads it, canonically.
func (o Objective) String() string {
	if !o.Relative() {
		return fmt.Sprintf("%s %s", o.Op, formatFloat(o.Value))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s ", o.Op)
	if o.Factor != 1 {
		fmt.Fprintf(&b, "%s * ", formatFloat(o.Factor))
	}
	b.WriteString(o.RelativeTo)
	switch {
	case o.Value > 0:
		fmt.Fprintf(&b, " + %s", formatFloat(o.Value))
	case o.Value < 0:
		fmt.Fprintf(&b, " - %s", formatFloat(-o.Value))
	}
	return b.String()
}

// formatFloat writes f in its shortest form.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// objectiveSyntax is the grammar of objectives, for error messages.
const objectiveSyntax = `write "<op> <number>" like "< 0.25", or "<op> [<factor> *] <phase> [+|- <number>]" like "<= 2 * baseline"`

var (
	// objectiveRE splits an objective into its comparison and the rest.
	objectiveRE = regexp.MustCompile(`^\s*(<=|>=|==|<|>)\s*(.*?)\s*$`)
	// relativeRE reads "[factor *] phase [+|- offset]"; the sign of the
	// offset stands apart, since phase names may hold a '-'.
	relativeRE = regexp.MustCompile(`^(?:([0-9][0-9.eE+-]*|\.[0-9][0-9eE+-]*)\s*\*\s*)?([a-z][a-z0-9_-]*)(?:\s+([+-])\s+([0-9.][0-9.eE+-]*))?$`)
)

// ParseObjective reads an objective: "<op> <number>" or
// "<op> [<factor> *] <phase> [+|- <number>]", where op is one of Ops.
func ParseObjective(s string) (Objective, error) {
	m := objectiveRE.FindStringSubmatch(s)
	if m == nil {
		return Objective{}, fmt.Errorf("%q does not start with a comparison (%s): %s", s, strings.Join(Ops(), ", "), objectiveSyntax)
	}
	o := Objective{Op: Op(m[1])}
	rhs := m[2]
	if rhs == "" {
		return Objective{}, fmt.Errorf("%q has nothing to compare with: %s", s, objectiveSyntax)
	}
	if v, err := strconv.ParseFloat(rhs, 64); err == nil {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Objective{}, fmt.Errorf("%q: the threshold must be a finite number", s)
		}
		o.Value = v
		return o, nil
	}
	r := relativeRE.FindStringSubmatch(rhs)
	if r == nil {
		return Objective{}, fmt.Errorf("%q is not an objective: %s", s, objectiveSyntax)
	}
	o.RelativeTo, o.Factor = r[2], 1
	if r[1] != "" {
		f, err := strconv.ParseFloat(r[1], 64)
		if err != nil || !(f > 0) || math.IsInf(f, 0) {
			return Objective{}, fmt.Errorf("%q: the factor %q must be a positive number", s, r[1])
		}
		o.Factor = f
	}
	if r[4] != "" {
		v, err := strconv.ParseFloat(r[4], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return Objective{}, fmt.Errorf("%q: the offset %q must be a finite number", s, r[4])
		}
		if r[3] == "-" {
			v = -v
		}
		o.Value = v
	}
	return o, nil
}
