package explore

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/faults"
)

// The kinds of fault point: what a point's fault acts on.
const (
	KindMethod  = "method"
	KindEdge    = "edge"
	KindService = "service"
)

// The variants of a point, by kind.
const (
	// Edge variants: the proxy disabled (connections refused), the answers
	// held until the fault ends (latency beyond any caller's deadline), and
	// every connection reset.
	EdgeDown      = "down"
	EdgeBlackhole = "blackhole"
	EdgeReset     = "reset"
	// Method variants: a share of the method's requests fail with the
	// status (its HTTP equivalent for an HTTP service) or are delayed.
	MethodUnavailable = "UNAVAILABLE"
	MethodDeadline    = "DEADLINE_EXCEEDED"
	MethodInternal    = "INTERNAL"
	MethodLatency     = "latency"
	// Service variants.
	ServiceKill  = "kill"
	ServicePause = "pause"
)

// httpStatus is the HTTP status an HTTP service answers for a method
// variant.
var httpStatus = map[string]int{MethodUnavailable: 503, MethodDeadline: 504, MethodInternal: 500}

// Point is one fault of the space: a variant on one target.
type Point struct {
	// ID is stable and unique: "method store /store.v1.Store/Put UNAVAILABLE".
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Variant string `json:"variant"`
	// Service is the service the fault acts on (the callee of an edge).
	Service string `json:"service"`
	// Edge is the edge of an edge point, and of a method point the edge its
	// calls came over.
	Edge string `json:"edge,omitempty"`
	// Method is a method point's method.
	Method string `json:"method,omitempty"`
	// Seen is how many of the baseline's traces make the point's call.
	Seen int `json:"seen"`
	// What says what the fault does, for people.
	What string `json:"what"`
	// Fault is what the generated scenario injects.
	Fault faults.Spec `json:"fault"`
	// step ranks points along the journey: the index of their first call
	// in the most taken path.
	step int
}

// Name is the scenario name of the point: explore-<kind>-<target>-<variant>,
// lower case, in the characters scenario names allow.
func (p Point) Name() string {
	parts := []string{"explore", p.Kind}
	switch p.Kind {
	case KindEdge:
		parts = append(parts, strings.ReplaceAll(p.Edge, "->", "-to-"))
	case KindMethod:
		m := p.Method
		if i := strings.LastIndex(m, "/"); i >= 0 && strings.HasPrefix(m, "/") {
			m = m[i+1:] // "/pkg.Svc/Charge" → "Charge"
		}
		parts = append(parts, p.Service, m)
	default:
		parts = append(parts, p.Service)
	}
	parts = append(parts, p.Variant)
	return slug(strings.Join(parts, "-"))
}

// slug keeps a-z, 0-9 and single dashes.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// Describe says what the point's fault does, for people.
func (p Point) Describe(o SpaceOptions) string {
	switch p.Kind + " " + p.Variant {
	case KindEdge + " " + EdgeDown:
		return fmt.Sprintf("the edge %s is down: connections are refused", p.Edge)
	case KindEdge + " " + EdgeBlackhole:
		return fmt.Sprintf("the edge %s holds every answer until the fault ends: latency beyond any deadline of the caller", p.Edge)
	case KindEdge + " " + EdgeReset:
		return fmt.Sprintf("the edge %s resets every connection", p.Edge)
	case KindMethod + " " + MethodLatency:
		return fmt.Sprintf("%s of the %s requests to %s are delayed by %s", percent(o.Probability), p.Method, p.Service, o.Latency)
	case KindService + " " + ServiceKill:
		return fmt.Sprintf("%s is killed (SIGKILL) and started again %s later", p.Service, o.RestartAfter)
	case KindService + " " + ServicePause:
		return fmt.Sprintf("%s is paused (SIGSTOP) for the fault phase", p.Service)
	}
	return fmt.Sprintf("%s of the %s requests to %s fail with %s", percent(o.Probability), p.Method, p.Service, p.Variant)
}

func percent(p float64) string { return fmt.Sprintf("%g%%", p*100) }

// Unreached is a point of the lab's declared space that the journey's
// traces never reached, or one that cannot run: it is listed, not run.
type Unreached struct {
	What string `json:"what"`
	Why  string `json:"why"`
}

// Space is the fault space of a journey: the points to run, in the order
// to run them, and what is left out and why.
type Space struct {
	Points    []Point     `json:"points"`
	Unreached []Unreached `json:"unreached"`
}

// SpaceOptions shape the faults of the points.
type SpaceOptions struct {
	// Probability is the share of a method's requests a method point
	// fails or delays (0.1).
	Probability float64
	// Latency is the delay of a method latency point (2s).
	Latency time.Duration
	// RestartAfter is how long after a kill the service starts again.
	RestartAfter time.Duration
	// Seed makes the request faults' draws repeatable.
	Seed uint64
}

// Build returns the fault space that reach shows, against the lab's
// declared topology: every reached edge × {down, blackhole, reset}, every
// reached method of a service with a fault admin API × {UNAVAILABLE,
// DEADLINE_EXCEEDED, INTERNAL, latency}, every reached service × {kill,
// pause}. Calls on the entry edge (client->svc) are the load itself: they
// are listed, not faulted. What the lab declares and no trace reached is
// listed as unreached. Points come in the order to run them: methods, then
// edges, then services (a weaker kind first, so that the reduction can skip
// the stronger), each along the journey.
func Build(t faults.Topology, reach Reach, o SpaceOptions) Space {
	var sp Space
	order := stepOrder(reach)
	edges, services := reach.Edges(), reach.Services()
	for _, e := range t.Edges {
		if edges[e] == 0 {
			sp.Unreached = append(sp.Unreached, Unreached{What: "edge " + e, Why: "no trace of the baseline crossed it"})
		}
	}
	for _, s := range t.Services {
		if services[s.Name] == 0 {
			sp.Unreached = append(sp.Unreached, Unreached{What: "service " + s.Name, Why: "no trace of the baseline reached it"})
			continue
		}
		methods := map[string]bool{}
		for c := range reach.Calls {
			if c.Callee() == s.Name {
				methods[c.Method] = true
			}
		}
		for _, m := range s.Methods {
			if !methods[m] {
				sp.Unreached = append(sp.Unreached, Unreached{What: "method " + s.Name + " " + m, Why: "no trace of the baseline called it"})
			}
		}
	}
	calls := slices.SortedFunc(maps.Keys(reach.Calls), func(a, b Call) int {
		return cmp.Or(cmp.Compare(order[a], order[b]), cmp.Compare(a.String(), b.String()))
	})
	seenEdge := map[string]bool{}
	for _, c := range calls {
		svc, ok := t.Service(c.Callee())
		if !ok {
			continue
		}
		if strings.HasPrefix(c.Edge, "client->") {
			sp.Unreached = append(sp.Unreached, Unreached{What: "call " + c.String(), Why: "the entry: its calls are the load itself, whose failure is not the system's"})
			continue
		}
		switch {
		case !svc.RequestFaults:
			sp.Unreached = append(sp.Unreached, Unreached{What: "method " + svc.Name + " " + c.Method, Why: svc.Name + " has no fault admin API (services/faultinject): only its edges and process are faulted"})
		case len(svc.Methods) > 0 && !slices.Contains(svc.Methods, c.Method):
			sp.Unreached = append(sp.Unreached, Unreached{What: "method " + svc.Name + " " + c.Method, Why: "the traces name a method the lab does not declare for " + svc.Name})
		default:
			for _, v := range []string{MethodUnavailable, MethodDeadline, MethodInternal, MethodLatency} {
				sp.Points = append(sp.Points, methodPoint(svc, c, v, reach.Calls[c], order[c], o))
			}
		}
		if !seenEdge[c.Edge] {
			seenEdge[c.Edge] = true
		}
	}
	for _, e := range sortedBy(seenEdge, edgeOrder(order)) {
		for _, v := range []string{EdgeDown, EdgeBlackhole, EdgeReset} {
			sp.Points = append(sp.Points, edgePoint(e, v, edges[e], edgeOrder(order)(e)))
		}
	}
	svcs := map[string]bool{}
	for c := range reach.Calls {
		if _, ok := t.Service(c.Callee()); ok {
			svcs[c.Callee()] = true
		}
	}
	for _, s := range sortedBy(svcs, serviceOrder(order)) {
		for _, v := range []string{ServiceKill, ServicePause} {
			sp.Points = append(sp.Points, servicePoint(s, v, services[s], serviceOrder(order)(s), o))
		}
	}
	slices.SortStableFunc(sp.Points, func(a, b Point) int { return cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)) })
	for i := range sp.Points {
		sp.Points[i].What = sp.Points[i].Describe(o)
	}
	return sp
}

func kindRank(k string) int { return slices.Index([]string{KindMethod, KindEdge, KindService}, k) }

func methodPoint(svc faults.Service, c Call, variant string, seen, step int, o SpaceOptions) Point {
	f := faults.RequestFault{Service: svc.Name, Method: c.Method, Probability: o.Probability, Seed: o.Seed}
	switch {
	case variant == MethodLatency:
		f.Latency = o.Latency
	case svc.Protocol == faults.ProtocolHTTP:
		f.HTTPStatus = httpStatus[variant]
	default:
		f.GRPCCode = variant
	}
	return Point{ID: strings.Join([]string{KindMethod, svc.Name, c.Method, variant}, " "), Kind: KindMethod, Variant: variant,
		Service: svc.Name, Edge: c.Edge, Method: c.Method, Seen: seen, Fault: faults.Spec{Request: &f}, step: step}
}

func edgePoint(edge, variant string, seen, step int) Point {
	f := faults.NetworkFault{Edge: edge, Toxicity: 1}
	switch variant {
	case EdgeDown:
		f.Toxic = faults.ToxicDown
	case EdgeBlackhole:
		f.Toxic, f.Attributes = faults.ToxicTimeout, map[string]int64{"timeout": 0}
	case EdgeReset:
		f.Toxic, f.Attributes = faults.ToxicResetPeer, map[string]int64{"timeout": 0}
	}
	_, callee, _ := strings.Cut(edge, "->")
	return Point{ID: strings.Join([]string{KindEdge, edge, variant}, " "), Kind: KindEdge, Variant: variant,
		Service: callee, Edge: edge, Seen: seen, Fault: faults.Spec{Network: &f}, step: step}
}

func servicePoint(svc, variant string, seen, step int, o SpaceOptions) Point {
	f := faults.ProcessFault{Service: svc, Action: faults.ActionPause}
	if variant == ServiceKill {
		f.Action, f.RestartAfter = faults.ActionKill, o.RestartAfter
	}
	return Point{ID: strings.Join([]string{KindService, svc, variant}, " "), Kind: KindService, Variant: variant,
		Service: svc, Seen: seen, Fault: faults.Spec{Process: &f}, step: step}
}

// stepOrder numbers the calls along the journey: by their position in the
// most taken path that makes them.
func stepOrder(r Reach) map[Call]int {
	out := map[Call]int{}
	n := 0
	for _, p := range r.Paths {
		for _, c := range p.Calls {
			if _, ok := out[c]; !ok {
				out[c] = n
				n++
			}
		}
	}
	return out
}

func edgeOrder(order map[Call]int) func(string) int {
	return func(e string) int {
		best := -1
		for c, i := range order {
			if c.Edge == e && (best < 0 || i < best) {
				best = i
			}
		}
		return best
	}
}

func serviceOrder(order map[Call]int) func(string) int {
	return func(s string) int {
		best := -1
		for c, i := range order {
			if c.Callee() == s && (best < 0 || i < best) {
				best = i
			}
		}
		return best
	}
}

func sortedBy(set map[string]bool, rank func(string) int) []string {
	return slices.SortedFunc(maps.Keys(set), func(a, b string) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a, b))
	})
}
