package scenario

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/lab"
)

// KindKnobs stands, among the kinds a stack can apply (Capabilities), for
// a scenario's knobs that differ from the lab's defaults: the stack must
// restart the service with other flags. Knobs that restate the defaults
// need no restart and run on any stack.
const KindKnobs = "knobs"

// Capabilities are what a stack can do to a running lab: the fault kinds it
// applies, and whether it restarts services with knobs. The local and
// compose stacks run the lab's processes and apply everything (container
// faults need containers); a stack that only reaches a lab running
// elsewhere applies fewer. Scenario.CheckOn holds a scenario to them before
// anything runs.
type Capabilities struct {
	// Stack names the stack, for messages: "remote".
	Stack string
	// Can lists what the stack applies, in the order messages list it.
	Can []Ability
	// Why says, for a kind the stack does not apply, why not (for
	// messages): "it owns no processes".
	Why map[string]string
	// Refused names, for a kind the stack applies, the targets it cannot
	// apply it to — edges of network faults, services of request faults —
	// each with why: a service whose admin API the stack does not reach.
	Refused map[string]map[string]string
}

// Ability is one kind a stack applies: a fault kind (faults.KindNetwork,
// …) or KindKnobs, and what applies it ("Toxiproxy", "admin APIs").
type Ability struct {
	Kind string
	Via  string
}

// can reports whether c applies kind.
func (c Capabilities) can(kind string) bool {
	return slices.ContainsFunc(c.Can, func(a Ability) bool { return a.Kind == kind })
}

// allowed lists what c applies, for a problem's allowed values: "network
// faults (Toxiproxy)".
func (c Capabilities) allowed() []string {
	out := make([]string, len(c.Can))
	for i, a := range c.Can {
		out[i] = kindName(a.Kind) + " (" + a.Via + ")"
	}
	return out
}

// kindName is how messages call a kind: "process faults", "knobs".
func kindName(kind string) string {
	if kind == KindKnobs {
		return "knobs"
	}
	return kind + " faults"
}

// use is one thing in a scenario that a stack must be able to do: a fault
// (its kind and target) or a knob that differs from the lab's default, with
// where the file says it.
type use struct {
	kind   string
	target string // the edge or service; for knobs, the service
	// knob is "flag=value" of a knob, with the lab's default.
	knob, def    string
	field        string
	line, column int
}

// CheckOn returns a *ValidationError with a problem at each fault or knob
// of the scenario that the stack c describes cannot apply — a process
// fault on a stack that owns no processes, a request fault on a service
// whose admin API it does not reach — or nil when it can run the whole
// scenario. Knobs that restate the lab's defaults need no restart and are
// never refused.
func (s *Scenario) CheckOn(c Capabilities) error {
	var problems []Problem
	for _, u := range s.uses {
		p := Problem{File: s.File, Line: u.line, Column: u.column, Field: u.field}
		switch {
		case !c.can(u.kind):
			p.Allowed = c.allowed()
			if u.kind == KindKnobs {
				p.Msg = fmt.Sprintf("stack %s cannot restart %s with knob %s (the lab's default: %s)", c.Stack, u.target, u.knob, u.def)
			} else {
				p.Msg = fmt.Sprintf("stack %s cannot apply %s", c.Stack, kindName(u.kind))
			}
			if why := c.Why[u.kind]; why != "" {
				p.Msg += ": " + why
			}
		case c.Refused[u.kind][u.target] != "":
			p.Msg = fmt.Sprintf("stack %s cannot apply %s to %s: %s", c.Stack, kindName(u.kind), u.target, c.Refused[u.kind][u.target])
			p.Allowed = c.allowed()
		default:
			continue
		}
		problems = append(problems, p)
	}
	if len(problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: problems}
}

// kinds returns the kinds the scenario needs of a stack, sorted: its fault
// kinds, and KindKnobs when a knob differs from the lab's default.
func (s *Scenario) kinds() []string {
	var out []string
	for _, u := range s.uses {
		if !slices.Contains(out, u.kind) {
			out = append(out, u.kind)
		}
	}
	slices.Sort(out)
	return out
}

// useFault records that the scenario applies spec, written at line:column
// of field.
func (d *decoder) useFault(spec faults.Spec, field string, line, column int) {
	f := spec.Fault()
	if f == nil {
		return
	}
	d.uses = append(d.uses, use{kind: f.Kind(), target: f.Target(), field: field + "." + f.Kind(), line: line, column: column})
}

// useKnob records that the scenario sets service's flag to value (in the
// flag's canonical syntax), written at line:column of field, unless value
// is the lab's default (def, "" when the lab declares none).
func (d *decoder) useKnob(service, flag, value, def, field string, line, column int) {
	if def != "" && def == value {
		return
	}
	if def == "" {
		def = "none declared"
	}
	d.uses = append(d.uses, use{kind: KindKnobs, target: service, knob: flag + "=" + value, def: def,
		field: field, line: line, column: column})
}

// keyNode returns the key node of key in mapping n ("process" in
// "- process: {…}"), or n when it has none.
func keyNode(n *yaml.Node, key string) *yaml.Node {
	n = resolve(n)
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := resolve(n.Content[i]); k.Value == key {
				return k
			}
		}
	}
	return n
}

// knobDefault returns k's default in the flag's canonical syntax (as
// labKnob returns values), "" when k declares none.
func knobDefault(k *lab.Knob) string {
	if k == nil || k.Default == "" {
		return ""
	}
	def, err := k.Parse(k.Default)
	if err != nil {
		return k.Default
	}
	return def
}
