package scenario

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/lab"
)

// decoder turns yaml.Nodes into values, recording every problem with its
// position and field path instead of stopping at the first.
type decoder struct {
	file     string
	problems []Problem
	// stacksRead is the scenario's `stacks:`, read before the phases.
	stacksRead stacksRead
	// lab is the system under test the scenario is checked against
	// (WithLab), and topology the lab as the fault model sees it.
	lab      *lab.Lab
	topology faults.Topology
	// uses are the faults and knobs a stack must be able to apply, for
	// Scenario.CheckOn.
	uses []use
}

// errorf records a problem at node n (or at the top of the file when n is
// nil) for the field at path.
func (d *decoder) errorf(n *yaml.Node, path string, allowed []string, format string, args ...any) {
	p := Problem{File: d.file, Field: path, Msg: fmt.Sprintf(format, args...), Allowed: allowed}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

// resolve follows aliases to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is an empty value ("key:" or "key: null").
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what n is, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// field joins a path and a key.
func field(path, key string) string {
	switch {
	case path == "":
		return key
	case key == "":
		return path
	}
	return path + "." + key
}

// index joins a path and a list index.
func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// object is a YAML mapping read by decoder.object.
type object struct {
	node *yaml.Node
	path string
	keys map[string]*yaml.Node
	vals map[string]*yaml.Node
	// order lists the keys as the file has them.
	order []string
}

// get returns the value of key, or nil when it is absent.
func (o object) get(key string) *yaml.Node { return o.vals[key] }

// has reports whether key is present.
func (o object) has(key string) bool { return o.vals[key] != nil }

// field returns the path of key.
func (o object) field(key string) string { return field(o.path, key) }

// object reads n as a mapping whose keys are among allowed (any key when
// allowed is nil), reporting unknown and repeated keys.
func (d *decoder) object(n *yaml.Node, path string, allowed []string) (object, bool) {
	n = resolve(n)
	o := object{node: n, path: path, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}}
	if isNull(n) {
		return o, true
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, allowed, "want a mapping of field: value, got %s", describe(n))
		return o, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, allowed, "want a field name, got %s", describe(k))
			continue
		}
		name := k.Value
		switch {
		case allowed != nil && !slices.Contains(allowed, name):
			d.errorf(k, field(path, name), allowed, "unknown field")
		case o.keys[name] != nil:
			d.errorf(k, field(path, name), nil, "repeated field: it is already set on line %d", o.keys[name].Line)
		default:
			o.keys[name], o.vals[name] = k, v
			o.order = append(o.order, name)
		}
	}
	return o, true
}

// need returns the value of a required key, recording a problem when it is
// absent or empty; hint says what to write.
func (d *decoder) need(o object, key, hint string) (*yaml.Node, bool) {
	v := o.get(key)
	if v == nil || isNull(v) {
		at := o.node
		if v != nil {
			at = o.keys[key]
		}
		d.errorf(at, o.field(key), nil, "missing: %s", hint)
		return nil, false
	}
	return v, true
}

// list reads n as a list; an empty value is an empty list.
func (d *decoder) list(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	n = resolve(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, nil, "want a list, got %s", describe(n))
		return nil, false
	}
	return n.Content, true
}

// scalar reports whether n is a scalar with one of the tags, recording a
// problem naming want when it is not.
func (d *decoder) scalar(n *yaml.Node, path, want string, tags ...string) bool {
	if n.Kind == yaml.ScalarNode && slices.Contains(tags, n.ShortTag()) {
		return true
	}
	d.errorf(n, path, nil, "want %s, got %s", want, describe(n))
	return false
}

// str reads a non-empty string.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	n = resolve(n)
	if !d.scalar(n, path, "a string", "!!str") {
		return "", false
	}
	if strings.TrimSpace(n.Value) == "" {
		d.errorf(n, path, nil, "is empty")
		return "", false
	}
	return n.Value, true
}

// enum reads a string that must be one of allowed.
func (d *decoder) enum(n *yaml.Node, path string, allowed []string) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, path, allowed, "want one of the allowed values, got %s", describe(n))
		return "", false
	}
	if !slices.Contains(allowed, n.Value) {
		d.errorf(n, path, allowed, "unknown value %q", n.Value)
		return "", false
	}
	return n.Value, true
}

// integer reads a whole number from min to max.
func (d *decoder) integer(n *yaml.Node, path string, minV, maxV int64) (int64, bool) {
	n = resolve(n)
	if !d.scalar(n, path, "a whole number", "!!int") {
		return 0, false
	}
	var v int64
	if err := n.Decode(&v); err != nil {
		d.errorf(n, path, nil, "%q is not a whole number", n.Value)
		return 0, false
	}
	if v < minV || v > maxV {
		d.errorf(n, path, nil, "%d is out of range: must be from %d to %d", v, minV, maxV)
		return 0, false
	}
	return v, true
}

// number reads a finite number.
func (d *decoder) number(n *yaml.Node, path string) (float64, bool) {
	n = resolve(n)
	if !d.scalar(n, path, "a number", "!!int", "!!float") {
		return 0, false
	}
	var v float64
	if err := n.Decode(&v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.errorf(n, path, nil, "%q is not a finite number", n.Value)
		return 0, false
	}
	return v, true
}

// fraction reads a number in (0, 1].
func (d *decoder) fraction(n *yaml.Node, path string) (float64, bool) {
	v, ok := d.number(n, path)
	if ok && !(v > 0 && v <= 1) {
		d.errorf(n, path, nil, "%s is out of range: must be in (0, 1]", formatFloat(v))
		return 0, false
	}
	return v, ok
}

// boolean reads true or false.
func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	n = resolve(n)
	if !d.scalar(n, path, "true or false", "!!bool") {
		return false, false
	}
	var v bool
	if err := n.Decode(&v); err != nil {
		d.errorf(n, path, nil, "want true or false, got %q", n.Value)
		return false, false
	}
	return v, true
}

// duration reads a Go duration string from minD to maxD.
func (d *decoder) duration(n *yaml.Node, path string, minD, maxD time.Duration) (time.Duration, bool) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
		d.errorf(n, path, nil, "%s has no unit: write a duration like \"%ss\" or \"500ms\"", n.Value, n.Value)
		return 0, false
	}
	if !d.scalar(n, path, `a duration like "15s" or "500ms"`, "!!str") {
		return 0, false
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		d.errorf(n, path, nil, "%q is not a duration: write one like \"15s\", \"500ms\" or \"1m30s\"", n.Value)
		return 0, false
	}
	if v < minD || v > maxD {
		d.errorf(n, path, nil, "%s is out of range: must be from %s to %s", v, minD, maxD)
		return 0, false
	}
	return v, true
}

// objective reads an Objective.
func (d *decoder) objective(n *yaml.Node, path string) (Objective, bool) {
	n = resolve(n)
	if !d.scalar(n, path, `an objective like "< 0.25" or "<= 2 * baseline"`, "!!str") {
		return Objective{}, false
	}
	o, err := ParseObjective(n.Value)
	if err != nil {
		d.errorf(n, path, nil, "%v", err)
		return Objective{}, false
	}
	return o, true
}

// locate returns the node of a dotted field path below n, or the deepest
// node on the way that exists.
func locate(n *yaml.Node, path string) *yaml.Node {
	n = resolve(n)
	if path == "" {
		return n
	}
	for _, key := range strings.Split(path, ".") {
		if n.Kind != yaml.MappingNode {
			return n
		}
		next := (*yaml.Node)(nil)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if resolve(n.Content[i]).Value == key {
				next = resolve(n.Content[i+1])
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return n
}
