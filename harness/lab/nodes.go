package lab

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/harness/diag"
)

// The decoder below follows harness/scenario's (nodes.go): it reads
// yaml.Nodes field by field and records every problem with its position and
// field path instead of stopping at the first. The two could share one
// decoder once the scenario parser reads its services and knobs from a Lab.

// decoder turns yaml.Nodes into a Lab, collecting problems.
type decoder struct {
	file     string
	problems []diag.Problem
}

// errorf records a problem at node n for the field at path; a nil n (the
// whole file) is reported at 1:1, so that every problem has a position.
func (d *decoder) errorf(n *yaml.Node, path string, allowed []string, format string, args ...any) {
	p := diag.Problem{File: d.file, Field: path, Msg: fmt.Sprintf(format, args...), Allowed: allowed, Line: 1, Column: 1}
	if n != nil && n.Line > 0 {
		p.Line, p.Column = n.Line, max(n.Column, 1)
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
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
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

// at is the node to report a problem with key at: the key itself, or the
// mapping when the key is absent.
func (o object) at(key string) *yaml.Node {
	if k := o.keys[key]; k != nil {
		return k
	}
	return o.node
}

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
	explicit := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolve(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.ShortTag() != "!!merge" {
			explicit[k.Value] = true
		}
	}
	for _, kv := range d.pairs(n, path, map[*yaml.Node]bool{n: true}) {
		k, v := kv[0], kv[1]
		if k == nil || k.Kind != yaml.ScalarNode {
			d.errorf(n, path, allowed, "want a field name, got %s", describe(k))
			continue
		}
		name := k.Value
		merged := k.Tag == mergedTag
		switch {
		case merged && (explicit[name] || o.keys[name] != nil):
			// A key of the mapping itself, or of an earlier merged mapping,
			// overrides a merged one (YAML's merge keys).
		case slices.Contains(allowed, extensionFields) && strings.HasPrefix(name, "x-"):
			// An extension field: free for anchors, ignored.
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

// extensionFields in a mapping's allowed fields lets it hold fields named
// "x-…" (as in compose files), which the decoder ignores: a place for YAML
// anchors.
const extensionFields = "x-*"

// mergedTag marks the keys pairs copies from a merged mapping.
const mergedTag = "chaoslab:merged"

// pairs returns the key/value pairs of mapping n with YAML merge keys
// ("<<: *defaults", "<<: [*a, *b]") replaced by the pairs they merge, those
// marked with mergedTag (copies: the document's nodes are not changed).
// Each mapping is merged once (seen), so that merges of merges cannot grow
// exponentially.
func (d *decoder) pairs(n *yaml.Node, path string, seen map[*yaml.Node]bool) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k == nil || k.Kind != yaml.ScalarNode || k.ShortTag() != "!!merge" {
			out = append(out, [2]*yaml.Node{k, v})
			continue
		}
		sources := []*yaml.Node{v}
		if v != nil && v.Kind == yaml.SequenceNode {
			sources = v.Content
		}
		for _, src := range sources {
			src = resolve(src)
			if src == nil || src.Kind != yaml.MappingNode {
				d.errorf(k, path, nil, "a merge key (<<) takes a mapping or a list of mappings, like <<: *defaults")
				continue
			}
			if seen[src] {
				continue
			}
			seen[src] = true
			for _, kv := range d.pairs(src, path, seen) {
				if kv[0] != nil {
					c := *kv[0]
					c.Tag = mergedTag
					kv[0] = &c
				}
				out = append(out, kv)
			}
		}
	}
	return out
}

// need returns the value of a required key, recording a problem when it is
// absent or empty; hint says what to write.
func (d *decoder) need(o object, key, hint string) (*yaml.Node, bool) {
	v := o.get(key)
	if isNull(v) {
		d.errorf(o.at(key), o.field(key), nil, "missing: %s", hint)
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
	msg := fmt.Sprintf("want %s, got %s", want, describe(n))
	if n.Kind == yaml.MappingNode && n.Style&yaml.FlowStyle != 0 && want == "a string" {
		// An unquoted {{.Listen.public}} is a YAML flow mapping.
		msg += `: quote a template, like "{{.Listen.public}}" (YAML reads an unquoted {…} as a mapping)`
	}
	d.errorf(n, path, nil, "%s", msg)
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

// anyStr reads a string that may be empty (an env value).
func (d *decoder) anyStr(n *yaml.Node, path string) (string, bool) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float" || n.ShortTag() == "!!bool") {
		d.errorf(n, path, nil, "want a string, got %s: quote it, like \"%s\"", n.Value, n.Value)
		return "", false
	}
	if !d.scalar(n, path, "a string", "!!str") {
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

// integer reads a whole number from minV to maxV.
func (d *decoder) integer(n *yaml.Node, path string, minV, maxV int64) (int64, bool) {
	n = resolve(n)
	if !d.scalar(n, path, "a whole number", "!!int") {
		return 0, false
	}
	var v int64
	if err := n.Decode(&v); err != nil {
		d.errorf(n, path, nil, "%q is not a whole number from %d to %d", n.Value, minV, maxV)
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

// port reads a TCP port number.
func (d *decoder) port(n *yaml.Node, path string) (int, bool) {
	v, ok := d.integer(n, path, 1, 65535)
	return int(v), ok
}

// strings reads a non-empty list of strings (an argv).
func (d *decoder) argv(n *yaml.Node, path string) ([]string, []*yaml.Node, bool) {
	items, ok := d.list(n, path)
	if !ok {
		return nil, nil, false
	}
	if len(items) == 0 {
		d.errorf(resolve(n), path, nil, "is empty: give the program and its arguments, like [./check, --json]")
		return nil, nil, false
	}
	out := make([]string, 0, len(items))
	nodes := make([]*yaml.Node, 0, len(items))
	good := true
	for i, it := range items {
		s, ok := d.anyStr(it, index(path, i))
		if ok && i == 0 && strings.TrimSpace(s) == "" {
			d.errorf(resolve(it), index(path, i), nil, "is empty: the first item is the program to run")
			ok = false
		}
		good = good && ok
		out = append(out, s)
		nodes = append(nodes, resolve(it))
	}
	return out, nodes, good
}

// formatFloat writes a float the way flag.Float64Var parses it back.
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
