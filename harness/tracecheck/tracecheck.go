// Package tracecheck evaluates a scenario's trace checks after the run: an
// assertion over the traces whose root span is an operation of a service and
// that started in a phase, read from Jaeger — a span event that must show
// (retries), a longest root span (deadlines hold), or the services every
// trace must reach.
package tracecheck

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/traces"
)

// Finder finds traces; *traces.Client satisfies it.
type Finder interface {
	Find(ctx context.Context, q traces.Query) ([]traces.Trace, error)
}

// SearchLimit is the most traces asked of Jaeger for one check. A phase
// that holds more is judged on a sample of this many, and the detail says
// so.
const SearchLimit = 2000

// Defaults for a hand-built TraceCheck that leaves them unset; the scenario
// parser always sets them.
const (
	defaultMinTraces   = 10
	defaultMinFraction = 1.0
	defaultMinCoverage = 0.5
)

// findTimeout bounds the call to Jaeger.
const findTimeout = 30 * time.Second

// Evaluate evaluates a trace check over the traces whose root span is
// c.Operation (any, when empty) of c.Service and starts inside phase
// c.Phase as it ran. Fewer than c.MinTraces such traces is inconclusive;
// otherwise the check passes when at least c.MinFraction of them satisfy
// its assertion:
//   - require_event: a span (of OnService, when set) carries an event of
//     that name with at least the given attributes (values as strings);
//   - max_duration: the root span lasts at most that long (the detail names
//     the slowest trace);
//   - require_services: the trace has spans of every listed service.
//
// A Jaeger error is inconclusive, with the error in the detail.
//
// Only spans that were exported are seen: a request that hung or was cut
// never shows up, so the traces found can be the healthy few. started is
// how many requests the load started in each phase (k6's count, by phase
// name; nil or a missing phase: not known). When fewer root traces than
// c.MinCoverage of the phase's requests are found, the check is
// inconclusive: the traces cannot speak for the phase. (When Jaeger's
// search limit is reached the traces are a sample and this is not
// judged.)
func Evaluate(ctx context.Context, f Finder, c scenario.TraceCheck, phases []journal.Phase, started map[string]int64) journal.Check {
	out := journal.Check{Name: c.Name, Kind: journal.KindTrace, Phase: c.Phase}
	minTraces, minFraction, minCoverage := c.MinTraces, c.MinFraction, c.MinCoverage
	if minTraces <= 0 {
		minTraces = defaultMinTraces
	}
	if minFraction <= 0 {
		minFraction = defaultMinFraction
	}
	if minCoverage <= 0 {
		minCoverage = defaultMinCoverage
	}
	a := assertionOf(c)
	out.Objective = fmt.Sprintf("≥ %s of traces %s", percent(minFraction), a.describe)

	p, err := findPhase(phases, c.Phase)
	if err != nil {
		return inconclusive(out, err.Error())
	}
	what := c.Service
	if c.Operation != "" {
		what += " " + c.Operation
	}
	fctx, cancel := context.WithTimeout(ctx, findTimeout)
	defer cancel()
	found, err := f.Find(fctx, traces.Query{Service: c.Service, Operation: c.Operation, Start: p.Start, End: p.End, Limit: SearchLimit})
	if err != nil {
		return inconclusive(out, fmt.Sprintf("finding traces of %s in %s: %v", what, p.Name, err))
	}
	var selected []traces.Trace
	for _, t := range found {
		root, ok := t.Root()
		if !ok || root.Service != c.Service || c.Operation != "" && root.Operation != c.Operation {
			continue
		}
		if root.Start.Before(p.Start) || !root.Start.Before(p.End) {
			continue
		}
		selected = append(selected, t)
	}
	sample := ""
	if len(found) >= SearchLimit {
		sample = fmt.Sprintf(" (Jaeger's search limit of %d reached: a sample of the phase's traces)", SearchLimit)
	}
	n := len(selected)
	if n < minTraces {
		return inconclusive(out, fmt.Sprintf("%d traces with root %s started in %s; need at least %d to decide%s",
			n, what, p.Name, minTraces, sample))
	}
	coverage := ""
	if requests := started[p.Name]; requests > 0 && sample == "" {
		share := float64(n) / float64(requests)
		if share < minCoverage {
			return inconclusive(out, fmt.Sprintf("%d traces with root %s started in %s, but the load started %d requests in it (%s; need ≥ %s): "+
				"the others were never exported — a request that hangs or is cut leaves no span — so these traces cannot speak for the phase",
				n, what, p.Name, requests, percent(share), percent(minCoverage)))
		}
		coverage = fmt.Sprintf(" (of %d requests started in %s)", requests, p.Name)
	}

	k := 0
	for _, t := range selected {
		if a.holds(t) {
			k++
		}
	}
	fraction := float64(k) / float64(n)
	out.Value = journal.Float(fraction)
	out.Threshold = journal.Float(minFraction)
	out.OnData = true // an assertion over at least min_traces traces
	out.Outcome = journal.Fail
	if fraction >= minFraction-1e-12 {
		out.Outcome = journal.Pass
	}
	out.Detail = fmt.Sprintf("%d/%d traces%s (%s) %s; need ≥ %s%s%s → %s",
		k, n, coverage, percent(fraction), a.describe, percent(minFraction), a.more(selected), sample, out.Outcome)
	return out
}

// assertion is one kind of trace assertion.
type assertion struct {
	// describe says what a trace satisfying it has: "have event retry on
	// api {peer.service=store}".
	describe string
	holds    func(traces.Trace) bool
	// more adds to the detail what helps a reader find the offenders.
	more func([]traces.Trace) string
}

// assertionOf returns the assertion of c.
func assertionOf(c scenario.TraceCheck) assertion {
	none := func([]traces.Trace) string { return "" }
	switch c.Kind() {
	case scenario.TraceRequireEvent:
		ev := *c.RequireEvent
		d := "have event " + ev.Name
		if ev.OnService != "" {
			d += " on " + ev.OnService
		}
		if len(ev.Attributes) > 0 {
			d += " " + attrString(ev.Attributes)
		}
		return assertion{describe: d, holds: func(t traces.Trace) bool { return hasEvent(t, ev) }, more: none}
	case scenario.TraceMaxDuration:
		limit := c.MaxDuration
		return assertion{
			describe: "have a root span of at most " + limit.String(),
			holds: func(t traces.Trace) bool {
				root, _ := t.Root()
				return root.Duration <= limit
			},
			more: func(ts []traces.Trace) string {
				var slowest traces.Span
				for _, t := range ts {
					if root, _ := t.Root(); root.Duration > slowest.Duration || slowest.TraceID == "" {
						slowest = root
					}
				}
				return fmt.Sprintf("; slowest %s (trace %s)", slowest.Duration.Round(time.Millisecond), slowest.TraceID)
			},
		}
	default:
		want := c.RequireServices
		return assertion{
			describe: "span " + strings.Join(want, ", "),
			holds:    func(t traces.Trace) bool { return len(missing(t, want)) == 0 },
			more: func(ts []traces.Trace) string {
				count := map[string]int{}
				example := ""
				for _, t := range ts {
					m := missing(t, want)
					for _, s := range m {
						count[s]++
					}
					if example == "" && len(m) > 0 {
						example = fmt.Sprintf(", e.g. trace %s lacks %s", t.ID, strings.Join(m, ", "))
					}
				}
				if len(count) == 0 {
					return ""
				}
				var parts []string
				for _, s := range want {
					if count[s] > 0 {
						parts = append(parts, fmt.Sprintf("%s in %d", s, count[s]))
					}
				}
				return "; missing " + strings.Join(parts, ", ") + example
			},
		}
	}
}

// hasEvent reports whether a span of t (of ev.OnService, when set) carries
// the event.
func hasEvent(t traces.Trace, ev scenario.EventRequirement) bool {
	for _, s := range t.Spans {
		if ev.OnService != "" && s.Service != ev.OnService {
			continue
		}
		for _, e := range s.Events {
			if e.Name == ev.Name && hasAttrs(e.Attrs, ev.Attributes) {
				return true
			}
		}
	}
	return false
}

// hasAttrs reports whether got holds every attribute of want.
func hasAttrs(got, want map[string]string) bool {
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

// missing returns the services of want that t has no span of.
func missing(t traces.Trace, want []string) []string {
	have := t.Services()
	var out []string
	for _, s := range want {
		if !slices.Contains(have, s) {
			out = append(out, s)
		}
	}
	return out
}

// attrString writes attributes in key order: "{peer.service=store}".
func attrString(attrs map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		parts = append(parts, k+"="+attrs[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// percent formats a fraction as a percentage with up to four significant
// digits: "93.5%", "99.95%", "0.5%".
func percent(f float64) string {
	return strconv.FormatFloat(f*100, 'g', 4, 64) + "%"
}

// findPhase returns the phase named name as it ran.
func findPhase(phases []journal.Phase, name string) (journal.Phase, error) {
	for _, p := range phases {
		if p.Name != name {
			continue
		}
		if p.Start.IsZero() || p.End.IsZero() || !p.End.After(p.Start) {
			return p, fmt.Errorf("phase %q did not run to its end", name)
		}
		return p, nil
	}
	return journal.Phase{}, fmt.Errorf("phase %q did not run", name)
}

// inconclusive sets c inconclusive with detail.
func inconclusive(c journal.Check, detail string) journal.Check {
	c.Outcome = journal.Inconclusive
	c.Detail = detail
	return c
}
