package scenario

import (
	"errors"
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/lab"
)

// WithLab checks scenario files against the system under test that l
// declares: the services that `services:`, the faults and the checks may
// name, the edges of network faults, each service's knobs (their names,
// types and bounds, with lab.Knob.Parse's messages, the parser's own),
// which services take request faults (those with a fault admin API,
// `faults` in the lab) and on which methods (their descriptors or routes),
// whether a request fault fails with grpc_code or http_status (the
// service's protocol), and the invariants checks may ask for. The parser
// needs it: Parse without a lab is an error.
func WithLab(l *lab.Lab) Option {
	return func(c *config) { c.lab = l }
}

// errNoLab is Parse's error without WithLab.
var errNoLab = errors.New("scenario: no lab to check the scenario against: give one with WithLab (chaoslab -lab)")

// where names the place in the lab file that declares what is at pos, for
// messages: "labs/store/lab.yaml:37".
func where(l *lab.Lab, pos lab.Pos) string {
	if l.File == "" {
		return "line " + strconv.Itoa(pos.Line)
	}
	return l.File + ":" + strconv.Itoa(pos.Line)
}

// labName names the lab for messages: its file, or its name.
func labName(l *lab.Lab) string {
	if l.File != "" {
		return l.File
	}
	return l.Name
}

// labKnob reads the value of service's knob k (in YAML: true, 3, "800ms")
// and returns it in the flag's syntax, checked by k.Parse.
func (d *decoder) labKnob(n *yaml.Node, path string, k *lab.Knob) (string, bool) {
	n = resolve(n)
	var value string
	switch k.Type {
	case lab.KnobBool:
		v, ok := d.boolean(n, path)
		if !ok {
			return "", false
		}
		value = strconv.FormatBool(v)
	case lab.KnobInt:
		if !d.scalar(n, path, "a whole number", "!!int") {
			return "", false
		}
		var v int64
		if err := n.Decode(&v); err != nil {
			d.errorf(n, path, nil, "%q is not a whole number", n.Value)
			return "", false
		}
		value = strconv.FormatInt(v, 10)
	case lab.KnobFloat:
		v, ok := d.number(n, path)
		if !ok {
			return "", false
		}
		value = strconv.FormatFloat(v, 'g', -1, 64)
	case lab.KnobDuration:
		if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
			d.errorf(n, path, nil, "%s has no unit: write a duration like \"%ss\" or \"500ms\"", n.Value, n.Value)
			return "", false
		}
		if !d.scalar(n, path, `a duration like "15s" or "500ms"`, "!!str") {
			return "", false
		}
		value = n.Value
	default: // lab.KnobString
		v, ok := d.str(n, path)
		if !ok {
			return "", false
		}
		value = v
	}
	out, err := k.Parse(value)
	if err != nil {
		allowed := []string(nil)
		if kerr, ok := err.(*lab.KnobError); ok {
			allowed = kerr.Allowed
			err = fmt.Errorf("%s", kerr.Msg)
		}
		d.errorf(n, path, allowed, "%v", err)
		return "", false
	}
	return out, true
}

// refusedRequest returns the problem of a request fault on a service of
// the lab without a fault admin API, pointing at the service in the lab
// file, or nil.
func (d *decoder) refusedRequest(f faults.Fault) *faults.FieldError {
	if f.Kind() != faults.KindRequest {
		return nil
	}
	s, ok := d.lab.Service(f.Target())
	if !ok || s.Faults != nil {
		return nil
	}
	return &faults.FieldError{Field: faults.KindRequest + ".service", Allowed: d.topology.WithRequestFaults(), Msg: fmt.Sprintf(
		"service %s has no fault admin API in the lab (%s): request faults need the faultinject package (services/faultinject) and `faults:` in the lab",
		s.Name, where(d.lab, s.Pos))}
}
