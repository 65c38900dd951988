package scenario

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/faults"
)

// Bounds of a scenario, to catch unit typos and runaway loads.
const (
	minPhase        = time.Second
	maxPhase        = time.Hour
	maxTotal        = time.Hour
	maxRatePerSec   = 1000
	maxVUs          = 1000
	defaultPreVUs   = 10
	defaultMaxVUs   = 100
	defaultTimeUnit = time.Second
	defaultGraceful = 5 * time.Second
	maxGraceful     = 5 * time.Minute
)

// phases reads the timeline.
func (d *decoder) phases(n *yaml.Node, s *Scenario) {
	items, ok := d.list(n, "phases")
	if !ok {
		return
	}
	if len(items) == 0 {
		d.errorf(resolve(n), "phases", nil, "is empty: give at least one phase, like {name: baseline, duration: 15s}")
		return
	}
	seen := map[string]int{}
	for i, it := range items {
		path := index("phases", i)
		var p Phase
		o, ok := d.object(it, path, []string{"name", "duration", "faults"})
		if ok {
			if v, ok := d.need(o, "name", `the phase's name, like "baseline" or "fault"`); ok {
				if name, ok := d.str(v, o.field("name")); ok {
					j, dup := seen[name]
					switch {
					case !phaseNameRE.MatchString(name):
						d.errorf(v, o.field("name"), nil, "%q: use 1 to 32 lowercase letters, digits, '-' or '_', starting with a letter", name)
					case dup:
						d.errorf(v, o.field("name"), nil, "repeated phase name: phases[%d] is %q already", j, name)
					}
					if !dup {
						seen[name] = i
						p.Name = name
					}
				}
			}
			if v, ok := d.need(o, "duration", `how long the phase lasts, like "15s"`); ok {
				p.Duration, _ = d.duration(v, o.field("duration"), minPhase, maxPhase)
			}
			if v := o.get("faults"); v != nil {
				p.Faults = d.phaseFaults(v, o.field("faults"), p)
			}
		}
		s.Phases = append(s.Phases, p)
	}
	if total := s.Duration(); total > maxTotal {
		d.errorf(resolve(n), "phases", nil, "the phases last %s in all: keep a scenario under %s", total, maxTotal)
	}
}

// phaseFaults reads the faults of phase p and checks that they can all be
// applied together, and on the scenario's stacks.
func (d *decoder) phaseFaults(n *yaml.Node, path string, p Phase) []faults.Spec {
	items, ok := d.list(n, path)
	if !ok {
		return nil
	}
	var out []faults.Spec
	type occupant struct {
		i    int
		what string
	}
	where := map[string]occupant{} // what a fault occupies -> the fault
	for i, it := range items {
		fpath := index(path, i)
		spec, ok := d.fault(it, fpath)
		if spec.Container != nil && ok {
			if msg := d.stacksRead.composeOnly(); msg != "" {
				d.errorf(locate(it, faults.KindContainer), fpath+"."+faults.KindContainer, nil, "%s", msg)
			}
		}
		if spec.Process != nil {
			if ra := spec.Process.RestartAfter; ra > 0 && p.Duration > 0 && ra > p.Duration {
				d.errorf(locate(it, "process.restart_after"), fpath+".process.restart_after", nil,
					"%s is longer than the phase (%s): the service is started again at the phase's end at the latest", ra, p.Duration)
				ok = false
			}
		}
		if !ok {
			continue
		}
		out = append(out, spec)
		at := keyNode(it, spec.Kind())
		d.useFault(spec, fpath, at.Line, at.Column)
		// A slot is what a fault occupies; what describes the fault in it
		// (faults.Fault.Occupies).
		var slot, what string
		if f := spec.Fault(); f != nil {
			slot, what = f.Occupies()
		}
		if slot == "" {
			continue // request faults stack
		}
		if o, dup := where[slot]; dup {
			d.errorf(resolve(it), fpath, nil, "%s[%d] already puts %s in this phase: merge the two, or use another phase", path, o.i, o.what)
			continue
		}
		where[slot] = occupant{i: i, what: what}
	}
	return out
}

// fault reads one fault and checks it with the fault model's own rules.
func (d *decoder) fault(n *yaml.Node, path string) (faults.Spec, bool) {
	o, ok := d.object(n, path, faults.Kinds())
	if !ok {
		return faults.Spec{}, false
	}
	start := len(d.problems)
	bad := map[string]bool{} // fields (from the spec) that did not decode
	var spec faults.Spec
	if v := o.get(faults.KindNetwork); v != nil {
		spec.Network = d.networkFault(v, o.field(faults.KindNetwork), bad)
	}
	if v := o.get(faults.KindProcess); v != nil {
		spec.Process = d.processFault(v, o.field(faults.KindProcess), bad)
	}
	if v := o.get(faults.KindRequest); v != nil {
		spec.Request = d.requestFault(v, o.field(faults.KindRequest), bad)
	}
	if v := o.get(faults.KindContainer); v != nil {
		spec.Container = d.containerFault(v, o.field(faults.KindContainer), bad)
	}
	for _, p := range d.specProblems(spec) {
		if skipProblem(p.Field, bad) {
			continue
		}
		d.errorf(locate(o.node, p.Field), field(path, p.Field), p.Allowed, "%s", p.Msg)
	}
	return spec, len(d.problems) == start
}

// specProblems returns everything wrong with spec in the lab (package
// faults' rules against the lab's topology); a request fault on a service
// without a fault admin API points at the service in the lab file.
func (d *decoder) specProblems(spec faults.Spec) []faults.FieldError {
	out := spec.Problems(d.topology)
	f := spec.Fault()
	if f == nil {
		return out
	}
	if refused := d.refusedRequest(f); refused != nil {
		for i, p := range out {
			if p.Field == refused.Field {
				out[i] = *refused
			}
		}
	}
	return out
}

// skipProblem reports whether a problem with field follows from a field
// that did not decode: the field itself, one inside it, or one it is in.
func skipProblem(field string, bad map[string]bool) bool {
	for b := range bad {
		if b == field || strings.HasPrefix(b, field+".") || strings.HasPrefix(field, b+".") {
			return true
		}
	}
	return false
}

// reader reads the field name of a fault kind from its value node and
// path, and reports whether it decoded.
type reader struct {
	name string
	read func(v *yaml.Node, path string) bool
}

// decodeFields reads the fields of a fault kind with readers, which also
// give the allowed fields in the documentation's order.
func (d *decoder) decodeFields(n *yaml.Node, path string, bad map[string]bool, readers []reader) {
	allowed := make([]string, len(readers))
	for i, r := range readers {
		allowed[i] = r.name
	}
	o, ok := d.object(n, path, allowed)
	if !ok {
		bad[kindOf(path)] = true
		return
	}
	for _, key := range o.order {
		i := slices.IndexFunc(readers, func(r reader) bool { return r.name == key })
		if !readers[i].read(o.get(key), o.field(key)) {
			bad[kindOf(path)+"."+key] = true
		}
	}
}

// kindOf returns the last element of a fault's path: "network".
func kindOf(path string) string { return path[strings.LastIndex(path, ".")+1:] }

// networkFault reads a network fault; stream defaults to downstream and
// toxicity to 1.
func (d *decoder) networkFault(n *yaml.Node, path string, bad map[string]bool) *faults.NetworkFault {
	f := &faults.NetworkFault{Stream: faults.Downstream, Toxicity: 1}
	d.decodeFields(n, path, bad, []reader{
		{"edge", func(v *yaml.Node, p string) (ok bool) { f.Edge, ok = d.str(v, p); return ok }},
		{"toxic", func(v *yaml.Node, p string) (ok bool) { f.Toxic, ok = d.str(v, p); return ok }},
		{"stream", func(v *yaml.Node, p string) (ok bool) {
			f.Stream, ok = d.enum(v, p, faults.Streams())
			return ok
		}},
		{"toxicity", func(v *yaml.Node, p string) (ok bool) { f.Toxicity, ok = d.fraction(v, p); return ok }},
		{"attributes", func(v *yaml.Node, p string) bool {
			o, ok := d.object(v, p, nil)
			f.Attributes = map[string]int64{}
			for _, k := range o.order {
				x, good := d.integer(o.get(k), o.field(k), -1<<62, 1<<62)
				if !good {
					bad[kindOf(path)+".attributes."+k] = true
				}
				f.Attributes[k] = x
			}
			return ok
		}},
		{"replica", func(v *yaml.Node, p string) bool {
			x, ok := d.integer(v, p, 0, 1000)
			r := int(x)
			f.Replica = &r
			return ok
		}},
	})
	return f
}

// processFault reads a process fault.
func (d *decoder) processFault(n *yaml.Node, path string, bad map[string]bool) *faults.ProcessFault {
	f := &faults.ProcessFault{}
	d.decodeFields(n, path, bad, []reader{
		{"service", func(v *yaml.Node, p string) (ok bool) { f.Service, ok = d.str(v, p); return ok }},
		{"action", func(v *yaml.Node, p string) (ok bool) { f.Action, ok = d.str(v, p); return ok }},
		{"restart_after", func(v *yaml.Node, p string) (ok bool) {
			f.RestartAfter, ok = d.duration(v, p, 0, maxPhase)
			return ok
		}},
		{"replica", func(v *yaml.Node, p string) bool {
			x, ok := d.integer(v, p, 0, 1000)
			r := int(x)
			f.Replica = &r
			return ok
		}},
	})
	return f
}

// requestFault reads a request fault; probability defaults to 1.
func (d *decoder) requestFault(n *yaml.Node, path string, bad map[string]bool) *faults.RequestFault {
	f := &faults.RequestFault{Probability: 1}
	d.decodeFields(n, path, bad, []reader{
		{"service", func(v *yaml.Node, p string) (ok bool) { f.Service, ok = d.str(v, p); return ok }},
		{"method", func(v *yaml.Node, p string) (ok bool) { f.Method, ok = d.str(v, p); return ok }},
		{"latency", func(v *yaml.Node, p string) (ok bool) { f.Latency, ok = d.duration(v, p, 0, maxPhase); return ok }},
		{"grpc_code", func(v *yaml.Node, p string) (ok bool) { f.GRPCCode, ok = d.str(v, p); return ok }},
		{"http_status", func(v *yaml.Node, p string) bool {
			x, ok := d.integer(v, p, 400, 599)
			f.HTTPStatus = int(x)
			return ok
		}},
		{"abort", func(v *yaml.Node, p string) (ok bool) { f.Abort, ok = d.boolean(v, p); return ok }},
		{"probability", func(v *yaml.Node, p string) (ok bool) { f.Probability, ok = d.fraction(v, p); return ok }},
		{"seed", func(v *yaml.Node, p string) bool {
			x, ok := d.integer(v, p, 0, 1<<62)
			f.Seed = uint64(x)
			return ok
		}},
	})
	return f
}

// containerFault reads a container fault.
func (d *decoder) containerFault(n *yaml.Node, path string, bad map[string]bool) *faults.ContainerFault {
	f := &faults.ContainerFault{}
	d.decodeFields(n, path, bad, []reader{
		{"service", func(v *yaml.Node, p string) (ok bool) { f.Service, ok = d.str(v, p); return ok }},
		{"action", func(v *yaml.Node, p string) (ok bool) { f.Action, ok = d.str(v, p); return ok }},
	})
	return f
}

// services reads the service knobs.
func (d *decoder) services(n *yaml.Node, s *Scenario) {
	o, ok := d.object(n, "services", d.lab.ServiceNames())
	if !ok {
		return
	}
	for _, svc := range o.order {
		ko, ok := d.object(o.get(svc), o.field(svc), d.lab.KnobNames(svc))
		if !ok {
			continue
		}
		service, _ := d.lab.Service(svc)
		for _, flag := range ko.order {
			k, _ := service.Knob(flag)
			if value, ok := d.labKnob(ko.get(flag), ko.field(flag), k); ok {
				s.Knobs = append(s.Knobs, Knob{Service: svc, Flag: flag, Value: value})
				at := resolve(ko.get(flag))
				d.useKnob(svc, flag, value, knobDefault(k), ko.field(flag), at.Line, at.Column)
			}
		}
	}
}

// scriptRE is what a k6 script's file name looks like.
var scriptRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*\.js$`)

// load reads the load profile; the phases are read already.
func (d *decoder) load(n *yaml.Node, s *Scenario, cfg config) {
	o, ok := d.object(n, "load", []string{"script", "executor", "rate", "time_unit", "start_rate", "stages", "pre_allocated_vus", "max_vus", "graceful_stop"})
	if !ok {
		return
	}
	l := &s.Load
	if v, ok := d.need(o, "script", fmt.Sprintf(`a k6 script in the lab's scripts directory (%s), like "load.js"`, d.lab.Load.Scripts)); ok {
		if script, ok := d.str(v, o.field("script")); ok {
			switch {
			case !scriptRE.MatchString(script):
				d.errorf(v, o.field("script"), nil, "%q: name a k6 script by its file name in the lab's scripts directory (%s), like \"load.js\"", script, d.lab.Load.Scripts)
			default:
				if err := cfg.scriptCheck(script); err != nil {
					d.errorf(v, o.field("script"), nil, "%v", err)
				}
				l.Script = script
			}
		}
	}
	executors := []string{ConstantArrivalRate, RampingArrivalRate}
	if v, ok := d.need(o, "executor", "how the load arrives"); ok {
		l.Executor, _ = d.enum(v, o.field("executor"), executors)
	}
	l.TimeUnit = defaultTimeUnit
	if v := o.get("time_unit"); v != nil {
		l.TimeUnit, _ = d.duration(v, o.field("time_unit"), time.Millisecond, time.Hour)
	}
	peak := 0
	switch l.Executor {
	case ConstantArrivalRate:
		for _, k := range []string{"start_rate", "stages"} {
			if o.has(k) {
				d.errorf(o.keys[k], o.field(k), nil, "applies to %s only: %s takes rate", RampingArrivalRate, ConstantArrivalRate)
			}
		}
		if v, ok := d.need(o, "rate", "iterations started per time_unit, like 15"); ok {
			x, _ := d.integer(v, o.field("rate"), 1, maxRatePerSec)
			l.Rate = int(x)
			peak = l.Rate
		}
	case RampingArrivalRate:
		if o.has("rate") {
			d.errorf(o.keys["rate"], o.field("rate"), nil, "applies to %s only: %s takes start_rate and stages", ConstantArrivalRate, RampingArrivalRate)
		}
		if v := o.get("start_rate"); v != nil {
			x, _ := d.integer(v, o.field("start_rate"), 0, maxRatePerSec)
			l.StartRate = int(x)
			peak = l.StartRate
		}
		if v, ok := d.need(o, "stages", "the ramps: a list of {target, duration}"); ok {
			peak = max(peak, d.stages(v, o.field("stages"), s))
		}
	}
	if l.TimeUnit > 0 && float64(peak)/l.TimeUnit.Seconds() > maxRatePerSec {
		d.errorf(o.node, o.path, nil, "%d iterations per %s is more than %d per second: lower the rate or lengthen time_unit", peak, l.TimeUnit, maxRatePerSec)
	}
	l.PreAllocatedVUs = defaultPreVUs
	if v := o.get("pre_allocated_vus"); v != nil {
		x, _ := d.integer(v, o.field("pre_allocated_vus"), 1, maxVUs)
		l.PreAllocatedVUs = int(x)
	}
	l.MaxVUs = max(defaultMaxVUs, l.PreAllocatedVUs)
	if v := o.get("max_vus"); v != nil {
		x, ok := d.integer(v, o.field("max_vus"), 1, maxVUs)
		l.MaxVUs = int(x)
		if ok && l.MaxVUs < l.PreAllocatedVUs {
			d.errorf(resolve(v), o.field("max_vus"), nil, "%d is below pre_allocated_vus (%d)", l.MaxVUs, l.PreAllocatedVUs)
		}
	}
	l.GracefulStop = defaultGraceful
	if v := o.get("graceful_stop"); v != nil {
		l.GracefulStop, _ = d.duration(v, o.field("graceful_stop"), 0, maxGraceful)
	}
}

// stages reads the stages of a ramping load and returns their highest
// target.
func (d *decoder) stages(n *yaml.Node, path string, s *Scenario) int {
	items, ok := d.list(n, path)
	if !ok {
		return 0
	}
	if len(items) == 0 {
		d.errorf(resolve(n), path, nil, "is empty: give at least one stage, like {target: 20, duration: 30s}")
		return 0
	}
	peak, complete := 0, true
	var total time.Duration
	for i, it := range items {
		spath := index(path, i)
		o, ok := d.object(it, spath, []string{"target", "duration"})
		if !ok {
			complete = false
			continue
		}
		var st Stage
		if v, ok := d.need(o, "target", "the rate to reach, like 20"); ok {
			x, good := d.integer(v, o.field("target"), 0, maxRatePerSec)
			st.Target, complete = int(x), complete && good
		} else {
			complete = false
		}
		if v, ok := d.need(o, "duration", `how long the ramp takes, like "30s"`); ok {
			x, good := d.duration(v, o.field("duration"), time.Second, maxPhase)
			st.Duration, complete = x, complete && good
		} else {
			complete = false
		}
		peak = max(peak, st.Target)
		total += st.Duration
		s.Load.Stages = append(s.Load.Stages, st)
	}
	if phases := s.Duration(); complete && phasesComplete(s) && total != phases {
		d.errorf(resolve(n), path, nil, "the stages last %s but the phases %s: the load must span the phases exactly", total, phases)
	}
	return peak
}

// phasesComplete reports whether every phase read has a duration.
func phasesComplete(s *Scenario) bool {
	if len(s.Phases) == 0 {
		return false
	}
	for _, p := range s.Phases {
		if p.Duration == 0 {
			return false
		}
	}
	return true
}
