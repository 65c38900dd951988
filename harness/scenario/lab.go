package scenario

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/lab"
)

// WithLab checks scenario files against the system under test that l
// declares: the services that `services:`, the faults and the checks may
// name, the edges of network faults, each service's knobs (their names,
// types and bounds, with lab.Knob.Parse's messages, the parser's own), and
// which services take request faults (those with a fault admin API, `faults`
// in the lab).
//
// Without it the parser checks against the shop as harness/scenario and
// package faults hold it as constants (builtinLab). Those constants stay
// until the stacks read the lab file too (issue 11); then the CLI always
// gives a lab and they go.
//
// The request faults' methods, and whether a service takes grpc_code or
// http_status, are still faults.Methods' (the shop's, by service name): a
// service the shop has no methods for accepts any method.
func WithLab(l *lab.Lab) Option {
	return func(c *config) { c.lab = l }
}

// builtinLab is the shop as the scenario parser knew it before lab files:
// faults.Services and faults.Edges, every service with a fault admin API,
// and the knob table of knobSpecs. labs/shop/lab.yaml declares the same
// (TestGoldenWithShopLab and harness/lab's shop tests hold them equal).
func builtinLab() *lab.Lab {
	l := &lab.Lab{Name: "shop"}
	for _, name := range faults.Services() {
		s := &lab.Service{Name: name, Faults: &lab.Endpoint{Port: "admin", Path: "/faults"}}
		for _, k := range knobSpecs(name) {
			s.Knobs = append(s.Knobs, k.labKnob())
		}
		l.Services = append(l.Services, s)
	}
	for _, e := range faults.Edges() {
		from, to, _ := strings.Cut(e, "->")
		l.Edges = append(l.Edges, &lab.Edge{Name: e, From: from, To: to})
	}
	return l
}

// labKnob returns k as a lab declares a knob; durations are from 1ms to 1h.
func (k knobSpec) labKnob() *lab.Knob {
	out := &lab.Knob{Name: k.name, Min: k.min, Max: k.max}
	switch k.kind {
	case knobBool:
		out.Type = lab.KnobBool
	case knobInt:
		out.Type = lab.KnobInt
	case knobFloat:
		out.Type = lab.KnobFloat
	default:
		out.Type = lab.KnobDuration
		out.MinDuration, out.MaxDuration = time.Millisecond, time.Hour
	}
	return out
}

// where names the place in the lab file that declares what is at pos, for
// messages: "labs/shop/lab.yaml:37"; "the built-in shop" without a file.
func where(l *lab.Lab, pos lab.Pos) string {
	if l.File == "" {
		return "the built-in shop"
	}
	return l.File + ":" + strconv.Itoa(pos.Line)
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

// targetField returns the field of a fault that names its target in the lab
// (network.edge, process.service, …): the field whose problems the lab
// decides instead of package faults' constants.
func targetField(f faults.Fault) string {
	if f.Kind() == faults.KindNetwork {
		return faults.KindNetwork + ".edge"
	}
	return f.Kind() + ".service"
}

// targetProblems checks the target of a fault against the lab, with the
// wording of package faults: the edge of a network fault is one of the lab's
// edges, the service of the others one of its services, and a request fault
// is on a service with a fault admin API.
func (d *decoder) targetProblems(f faults.Fault) []faults.FieldError {
	l := d.lab
	field := targetField(f)
	target := f.Target()
	if f.Kind() == faults.KindNetwork {
		switch edges := l.EdgeNames(); {
		case target == "":
			return []faults.FieldError{{Field: field, Allowed: edges, Msg: "edge is missing: name the edge the fault is on"}}
		case !slices.Contains(edges, target):
			return []faults.FieldError{{Field: field, Allowed: edges, Msg: fmt.Sprintf("unknown edge %q", target)}}
		}
		return nil
	}
	services := l.ServiceNames()
	switch {
	case target == "":
		return []faults.FieldError{{Field: field, Allowed: services, Msg: "service is missing: name the service the fault is on"}}
	case !slices.Contains(services, target):
		return []faults.FieldError{{Field: field, Allowed: services, Msg: fmt.Sprintf("unknown service %q", target)}}
	}
	if s, _ := l.Service(target); f.Kind() == faults.KindRequest && s.Faults == nil {
		return []faults.FieldError{{Field: field, Allowed: withFaultAPI(l), Msg: fmt.Sprintf(
			"service %s has no fault admin API in the lab (%s): request faults need the faultinject package (services/faultinject) and `faults:` in the lab",
			target, where(l, s.Pos))}}
	}
	return nil
}

// withFaultAPI returns the services of l that take request faults.
func withFaultAPI(l *lab.Lab) []string {
	var out []string
	for _, s := range l.Services {
		if s.Faults != nil {
			out = append(out, s.Name)
		}
	}
	return out
}
