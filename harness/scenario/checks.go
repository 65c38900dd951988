package scenario

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/harness/promql"
)

// Defaults and bounds of the checks.
const (
	defaultConsecutive = 3
	defaultStep        = time.Second
	// defaultRecoveryRange is the range over which a recovery check that
	// names an SLO samples its SLI: three of the labs' 1 s scrapes.
	defaultRecoveryRange = 3 * time.Second
	defaultMinTraces     = 10
	// defaultMinCoverage is the share of the phase's requests that must
	// show up as root traces for a trace check to decide: below it, most
	// requests were never exported (hung or cut) and the traces found are
	// not the phase's.
	defaultMinCoverage = 0.5
	maxMinTraces       = 10_000
)

// Outcomes returns the outcomes an on_empty or on_nan policy may choose:
// fail or inconclusive. Not pass: a check that measured nothing never
// passes.
func Outcomes() []string { return []string{string(Fail), string(Inconclusive)} }

// checkReader reads the checks of one scenario, whose phases are read.
type checkReader struct {
	*decoder
	s        *Scenario
	names    map[string]string       // check name -> path of the check that has it
	sloCheck func(name string) error // nil: any SLO name
}

// checks reads the checks.
func (d *decoder) checks(n *yaml.Node, s *Scenario, cfg config) {
	o, ok := d.object(n, "checks", []string{"slo", "recovery", "traces", "invariants"})
	if !ok {
		return
	}
	r := checkReader{decoder: d, s: s, names: map[string]string{}, sloCheck: cfg.sloCheck}
	start := len(d.problems)
	for _, key := range o.order { // in file order, so that repeats are reported where they repeat
		switch key {
		case "slo":
			r.each(o, key, r.slo)
		case "recovery":
			r.each(o, key, r.recovery)
		case "traces":
			r.each(o, key, r.trace)
		case "invariants":
			r.invariants(o.get(key), o.field(key))
		}
	}
	if s.Checks.Count() == 0 && len(d.problems) == start {
		d.errorf(o.node, "checks", nil, "no checks: give at least one of slo, recovery, traces or invariants, or the scenario cannot fail")
	}
}

// each reads the list under key with read.
func (r checkReader) each(o object, key string, read func(*yaml.Node, string)) {
	v := o.get(key)
	if v == nil {
		return
	}
	items, _ := r.list(v, o.field(key))
	for i, it := range items {
		read(it, index(o.field(key), i))
	}
}

// name reads a check's name, unique among the scenario's checks.
func (r checkReader) name(o object) string {
	v, ok := r.need(o, "name", `the check's name, like "write-availability"`)
	if !ok {
		return ""
	}
	name, ok := r.str(v, o.field("name"))
	switch {
	case !ok:
	case !nameRE.MatchString(name):
		r.errorf(v, o.field("name"), nil, "%q: use 1 to 64 lowercase letters, digits, '-', '_' or '.'", name)
	case r.names[name] != "":
		r.errorf(v, o.field("name"), nil, "repeated check name: %s is %q already", r.names[name], name)
	default:
		r.names[name] = o.path
	}
	return name
}

// phase reads a reference to a phase and returns its index, or -1.
func (r checkReader) phase(o object, key, hint string) (string, int) {
	v, ok := r.need(o, key, hint)
	if !ok {
		return "", -1
	}
	name, ok := r.str(v, o.field(key))
	if !ok {
		return "", -1
	}
	i := r.s.PhaseIndex(name)
	if i < 0 && len(r.s.Phases) > 0 { // no phases: that is reported already
		r.errorf(v, o.field(key), r.phaseNames(), "no phase %q", name)
	}
	return name, i
}

// phaseNames returns the names of the phases.
func (r checkReader) phaseNames() []string {
	var names []string
	for _, p := range r.s.Phases {
		if p.Name != "" {
			names = append(names, p.Name)
		}
	}
	return names
}

// objective reads an objective. When check is set, a relative one must
// compare with a phase whose index is at most last; notLast says why.
func (r checkReader) objective(o object, key, hint string, check bool, last int, notLast string) Objective {
	v, ok := r.need(o, key, hint)
	if !ok {
		return Objective{}
	}
	obj, ok := r.decoder.objective(v, o.field(key))
	if !ok || !obj.Relative() || len(r.s.Phases) == 0 {
		return obj
	}
	switch i := r.s.PhaseIndex(obj.RelativeTo); {
	case i < 0:
		r.errorf(v, o.field(key), r.phaseNames(), "compares with phase %q, which does not exist", obj.RelativeTo)
	case check && i > last:
		r.errorf(v, o.field(key), nil, "compares with phase %q: %s", obj.RelativeTo, notLast)
	}
	return obj
}

// outcome reads an on_empty or on_nan policy; absent means inconclusive.
// pass is refused with the way out: a query that returns 0 when nothing
// happened.
func (r checkReader) outcome(o object, key string) Outcome {
	v := o.get(key)
	if v == nil {
		return Inconclusive
	}
	if rv := resolve(v); rv.Kind == yaml.ScalarNode && rv.Value == string(Pass) {
		r.errorf(v, o.field(key), Outcomes(), "pass: a check that measured nothing never passes; when no series means \"none happened\", make the query say 0 (e.g. `sum(rate(errors_total[$window])) or vector(0)`)")
		return Inconclusive
	}
	out, _ := r.enum(v, o.field(key), Outcomes())
	return Outcome(out)
}

// slo reads an SLO check.
func (r checkReader) slo(n *yaml.Node, path string) {
	o, ok := r.object(n, path, []string{"name", "phase", "query", "slo", "objective", "on_empty", "on_nan"})
	if !ok {
		return
	}
	c := SLOCheck{Name: r.name(o)}
	var idx int
	c.Phase, idx = r.phase(o, "phase", "the phase whose window the query covers")
	c.Query, c.SLO = r.sli(o, true, "PromQL with $window for the phase's range, or slo: the name of an SLO definition")
	c.Objective = r.objective(o, "objective", `what the value must satisfy, like "< 0.25", ">= 0.99" or "<= 2 * baseline"`,
		idx >= 0, idx-1, fmt.Sprintf("a relative objective compares with a phase that runs before %q", c.Phase))
	c.OnEmpty = r.outcome(o, "on_empty")
	c.OnNaN = r.outcome(o, "on_nan")
	r.s.Checks.SLO = append(r.s.Checks.SLO, c)
}

// sli reads what a check measures: its PromQL (windowed or instant), or
// slo: the name of an SLO definition, which must be one; not both. missing
// says what to write when neither is there.
func (r checkReader) sli(o object, windowed bool, missing string) (query, slo string) {
	q, ref := o.get("query"), o.get("slo")
	switch {
	case q != nil && ref != nil:
		r.errorf(o.keys["slo"], o.field("slo"), nil, "set query or slo, not both")
	case ref != nil:
		name, ok := r.str(ref, o.field("slo"))
		if ok && r.sloCheck != nil {
			if err := r.sloCheck(name); err != nil {
				r.errorf(ref, o.field("slo"), nil, "%v", err)
			}
		}
		return "", name
	default:
		if v, ok := r.need(o, "query", missing); ok {
			return r.query(v, o.field("query"), windowed), ""
		}
	}
	return "", ""
}

// query reads PromQL; windowed queries must use $window, instant ones
// must not, and both must parse (package promql: Prometheus's parser, with
// $window replaced) into one value per evaluation.
func (r checkReader) query(v *yaml.Node, path string, windowed bool) string {
	q, ok := r.str(v, path)
	if !ok {
		return ""
	}
	q = strings.TrimSpace(q)
	pq, err := promql.ParseWindowed(q)
	has := pq.Windows > 0
	switch {
	case windowed && !has:
		r.errorf(v, path, nil, "does not use $window, so it would not measure its phase: write ranges as [$window], like rate(x[$window])")
	case !windowed && has:
		r.errorf(v, path, nil, "recovery queries are instant samples: write a short fixed range, like [3s], instead of $window")
	}
	switch {
	case err != nil:
		r.errorf(v, path, nil, "%v", err)
	case !pq.Instant():
		example := "rate(x[$window]) or max_over_time(x[$window])"
		if !windowed {
			example = "rate(x[3s]) or max_over_time(x[3s])"
		}
		r.errorf(v, path, nil, "returns %s, not one value per evaluation: give a range to a function, like %s", pq.Kind(), example)
	}
	return q
}

// recovery reads a recovery check.
func (r checkReader) recovery(n *yaml.Node, path string) {
	o, ok := r.object(n, path, []string{"name", "after", "query", "slo", "range", "tolerance", "consecutive", "step", "within"})
	if !ok {
		return
	}
	c := RecoveryCheck{Name: r.name(o), Consecutive: defaultConsecutive, Step: defaultStep}
	var idx int
	c.After, idx = r.phase(o, "after", "the phase whose end removes the fault and starts the clock")
	c.Query, c.SLO = r.sli(o, false, "an instant PromQL SLI with a short fixed range, like [3s], or slo: the name of an SLO definition")
	switch v := o.get("range"); {
	case !o.has("slo") && v != nil:
		r.errorf(o.keys["range"], o.field("range"), nil, "applies to slo only: a query writes its own range, like [3s]")
	case c.SLO != "":
		c.Range = defaultRecoveryRange
		if v != nil {
			c.Range, _ = r.duration(v, o.field("range"), time.Second, time.Minute)
		}
	}
	c.Tolerance = r.objective(o, "tolerance", `what a recovered sample satisfies, like ">= 0.99"`,
		idx >= 0, idx, fmt.Sprintf("a relative tolerance compares with a phase that ends by the end of %q", c.After))
	if v := o.get("consecutive"); v != nil {
		x, _ := r.integer(v, o.field("consecutive"), 1, 100)
		c.Consecutive = int(x)
	}
	if v := o.get("step"); v != nil {
		c.Step, _ = r.duration(v, o.field("step"), 100*time.Millisecond, time.Minute)
	}
	if v, ok := r.need(o, "within", `the longest recovery that passes, like "10s"`); ok {
		c.Within, ok = r.duration(v, o.field("within"), time.Second, time.Hour)
		if ok && idx >= 0 {
			r.recoveryRoom(c, idx, v, o.field("within"))
		}
	}
	r.s.Checks.Recovery = append(r.s.Checks.Recovery, c)
}

// recoveryRoom checks that the phases after phase idx leave time to see a
// recovery within c.Within.
func (r checkReader) recoveryRoom(c RecoveryCheck, idx int, v *yaml.Node, path string) {
	if idx == len(r.s.Phases)-1 {
		r.errorf(v, path, nil, "phase %q is the last one: recovery is measured in the phases after it; add one, like {name: recovery, duration: 20s}", c.After)
		return
	}
	var room time.Duration
	for _, p := range r.s.Phases[idx+1:] {
		room += p.Duration
	}
	need := c.Within + time.Duration(c.Consecutive)*c.Step
	if need > room {
		r.errorf(v, path, nil, "within (%s) plus consecutive × step (%s) is %s, more than the phases after %q last (%s): lengthen them or shorten within",
			c.Within, time.Duration(c.Consecutive)*c.Step, need, c.After, room)
	}
}

// trace reads a trace check.
func (r checkReader) trace(n *yaml.Node, path string) {
	o, ok := r.object(n, path, []string{"name", "phase", "service", "operation", "min_traces", "min_fraction", "min_coverage",
		TraceRequireEvent, TraceMaxDuration, TraceRequireServices})
	if !ok {
		return
	}
	c := TraceCheck{Name: r.name(o), MinTraces: defaultMinTraces, MinFraction: 1, MinCoverage: defaultMinCoverage}
	c.Phase, _ = r.phase(o, "phase", "the phase in which the traces start")
	hint := "the service of the traces' root span"
	if entry := r.lab.EntryEdges(); len(entry) > 0 {
		hint += ", like " + entry[0].To
	}
	if v, ok := r.need(o, "service", hint); ok {
		c.Service, _ = r.enum(v, o.field("service"), r.lab.ServiceNames())
	}
	if v := o.get("operation"); v != nil {
		c.Operation, _ = r.str(v, o.field("operation"))
	}
	if v := o.get("min_traces"); v != nil {
		x, _ := r.integer(v, o.field("min_traces"), 1, maxMinTraces)
		c.MinTraces = int(x)
	}
	if v := o.get("min_fraction"); v != nil {
		c.MinFraction, _ = r.fraction(v, o.field("min_fraction"))
	}
	if v := o.get("min_coverage"); v != nil {
		c.MinCoverage, _ = r.fraction(v, o.field("min_coverage"))
	}
	kinds := []string{TraceRequireEvent, TraceMaxDuration, TraceRequireServices}
	var set []string
	for _, k := range o.order {
		if slices.Contains(kinds, k) {
			set = append(set, k)
		}
	}
	switch {
	case len(set) == 0:
		r.errorf(o.node, path, kinds, "missing: an assertion, one of require_event, max_duration or require_services")
	case len(set) > 1:
		r.errorf(o.keys[set[1]], o.field(set[1]), nil, "the check already asserts %s: one assertion per check, split it into two checks", set[0])
	default:
		v := o.get(set[0])
		switch set[0] {
		case TraceRequireEvent:
			c.RequireEvent = r.event(v, o.field(set[0]))
		case TraceMaxDuration:
			c.MaxDuration, _ = r.duration(v, o.field(set[0]), time.Millisecond, time.Hour)
		case TraceRequireServices:
			c.RequireServices = r.serviceList(v, o.field(set[0]))
		}
	}
	r.s.Checks.Traces = append(r.s.Checks.Traces, c)
}

// event reads a require_event assertion.
func (r checkReader) event(n *yaml.Node, path string) *EventRequirement {
	o, ok := r.object(n, path, []string{"name", "on_service", "attributes"})
	ev := &EventRequirement{}
	if !ok {
		return ev
	}
	if v, ok := r.need(o, "name", `the span event's name, like "retry"`); ok {
		ev.Name, _ = r.str(v, o.field("name"))
	}
	if v := o.get("on_service"); v != nil {
		ev.OnService, _ = r.enum(v, o.field("on_service"), r.lab.ServiceNames())
	}
	if v := o.get("attributes"); v != nil {
		ao, _ := r.object(v, o.field("attributes"), nil)
		ev.Attributes = map[string]string{}
		for _, k := range ao.order {
			av := resolve(ao.get(k))
			if r.scalar(av, ao.field(k), "a value", "!!str", "!!int", "!!float", "!!bool") {
				ev.Attributes[k] = av.Value
			}
		}
	}
	return ev
}

// serviceList reads a non-empty list of distinct services.
func (r checkReader) serviceList(n *yaml.Node, path string) []string {
	items, ok := r.list(n, path)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		r.errorf(resolve(n), path, r.lab.ServiceNames(), "is empty: list the services every trace must reach")
	}
	var out []string
	for i, it := range items {
		svc, ok := r.enum(it, index(path, i), r.lab.ServiceNames())
		switch {
		case !ok:
		case slices.Contains(out, svc):
			r.errorf(resolve(it), index(path, i), nil, "%s is listed twice", svc)
		default:
			out = append(out, svc)
		}
	}
	return out
}

// invariants reads the list of invariants.
func (r checkReader) invariants(n *yaml.Node, path string) {
	items, ok := r.list(n, path)
	if !ok {
		return
	}
	declared := r.lab.InvariantNames()
	for i, it := range items {
		if len(declared) == 0 {
			if name, ok := r.str(it, index(path, i)); ok {
				r.errorf(resolve(it), index(path, i), nil, "the lab (%s) declares no invariants, so there is no %q: declare it under invariants: in the lab file", labName(r.lab), name)
			}
			continue
		}
		name, ok := r.enum(it, index(path, i), declared)
		if !ok {
			continue
		}
		if r.names[name] != "" {
			r.errorf(resolve(it), index(path, i), nil, "repeated check name: %s is %q already", r.names[name], name)
			continue
		}
		r.names[name] = index(path, i)
		r.s.Checks.Invariants = append(r.s.Checks.Invariants, Invariant(name))
	}
}
