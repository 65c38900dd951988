package explore

import (
	"cmp"
	"slices"
	"strings"

	"github.com/chaoslab/chaoslab/harness/traces"
)

// Call is one call across an edge of the lab, as a trace shows it: a span
// of the callee whose parent span belongs to the caller.
type Call struct {
	// Edge is the lab's edge, "caller->callee" ("client->svc" for the
	// root of a trace).
	Edge string `json:"edge"`
	// Method is the callee's method: a full gRPC method
	// ("/pkg.v1.Service/Method") or an HTTP route ("POST /v1/items").
	Method string `json:"method"`
}

// Callee is the service the call reaches.
func (c Call) Callee() string {
	_, to, _ := strings.Cut(c.Edge, "->")
	return to
}

// Caller is the service that makes the call ("client" for the load).
func (c Call) Caller() string {
	from, _, _ := strings.Cut(c.Edge, "->")
	return from
}

func (c Call) String() string { return c.Edge + " " + c.Method }

// Path is one journey's calls in the order a trace made them (each call
// once, at its first appearance: a retry is not a new step), and how many
// of the baseline's traces took it.
type Path struct {
	Calls []Call `json:"calls"`
	Count int    `json:"count"`
}

// Reach is what a baseline's traces show the journey reaches: its calls,
// edges and services, how often, and in what order.
type Reach struct {
	// Traces is how many traces were read.
	Traces int `json:"traces"`
	// Calls counts the traces that make each call.
	Calls map[Call]int `json:"-"`
	// Paths are the distinct sequences of calls, most taken first (the longer of
	// two as often taken first).
	Paths []Path `json:"paths"`
	// Unknown are cross-service spans that match no edge of the lab
	// ("caller->callee"), with their counts: a call the lab does not
	// declare, which no proxy carries.
	Unknown map[string]int `json:"unknown,omitempty"`
}

// Lab is what Reach needs to know of the lab: its edges (with the entry
// edges, "client->svc") and each service's protocol.
type Lab interface {
	HasEdge(name string) bool
	// GRPC reports whether service speaks gRPC (its methods are
	// "/pkg.Service/Method"); otherwise its methods are HTTP routes.
	GRPC(service string) bool
}

// ReachOf reads the calls of ts: every span whose parent is a span of
// another service (or that has none: the journey's entry) is a call from
// the parent's service to the span's. Calls on an edge the lab does not
// declare are counted in Unknown.
func ReachOf(l Lab, ts []traces.Trace) Reach {
	r := Reach{Traces: len(ts), Calls: map[Call]int{}, Unknown: map[string]int{}}
	paths := map[string]*Path{}
	for _, t := range ts {
		calls := callsOf(l, t, r.Unknown)
		var key strings.Builder
		for _, c := range calls {
			r.Calls[c]++
			key.WriteString(c.String() + "\n")
		}
		if len(calls) == 0 {
			continue
		}
		p, ok := paths[key.String()]
		if !ok {
			p = &Path{Calls: calls}
			paths[key.String()] = p
		}
		p.Count++
	}
	for _, p := range paths {
		r.Paths = append(r.Paths, *p)
	}
	slices.SortFunc(r.Paths, func(a, b Path) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(len(b.Calls), len(a.Calls)), cmp.Compare(pathKey(a), pathKey(b)))
	})
	if len(r.Unknown) == 0 {
		r.Unknown = nil
	}
	return r
}

func pathKey(p Path) string {
	var b strings.Builder
	for _, c := range p.Calls {
		b.WriteString(c.String() + "\n")
	}
	return b.String()
}

// callsOf returns the calls of t in the order they started, each once.
func callsOf(l Lab, t traces.Trace, unknown map[string]int) []Call {
	byID := make(map[string]traces.Span, len(t.Spans))
	for _, s := range t.Spans {
		byID[s.SpanID] = s
	}
	spans := slices.Clone(t.Spans)
	slices.SortStableFunc(spans, func(a, b traces.Span) int { return a.Start.Compare(b.Start) })
	seen := map[Call]bool{}
	var out []Call
	for _, s := range spans {
		caller := "client"
		if p, ok := byID[s.ParentID]; ok {
			if p.Service == s.Service {
				continue
			}
			caller = p.Service
		} else if s.ParentID != "" {
			// A parent that is not in the trace (not exported yet, or
			// dropped): who called is unknown.
			continue
		}
		edge := caller + "->" + s.Service
		if !l.HasEdge(edge) {
			unknown[edge]++
			continue
		}
		c := Call{Edge: edge, Method: methodOf(s, l.GRPC(s.Service))}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// methodOf names the method a server span served: for gRPC the full
// method, from the span's rpc.service and rpc.method attributes or from its
// name ("pkg.Service/Method", as otelgrpc names spans); for HTTP the
// route, from the span's name (otelhttp with a route formatter) or from
// http.request.method and http.route.
func methodOf(s traces.Span, grpc bool) string {
	if grpc {
		if svc, m := s.Attrs["rpc.service"], s.Attrs["rpc.method"]; svc != "" && m != "" && !strings.Contains(m, "/") {
			return "/" + svc + "/" + m
		}
		return "/" + strings.TrimPrefix(s.Operation, "/")
	}
	if route := s.Attrs["http.route"]; route != "" {
		if m := cmp.Or(s.Attrs["http.request.method"], s.Attrs["http.method"]); m != "" && !strings.Contains(route, " ") {
			return m + " " + route
		}
		return route
	}
	return s.Operation
}

// Edges counts the traces that cross each edge.
func (r Reach) Edges() map[string]int {
	return r.countBy(func(c Call) string { return c.Edge })
}

// Services counts the traces that reach each service.
func (r Reach) Services() map[string]int {
	return r.countBy(Call.Callee)
}

// countBy counts the paths' traces by key, each trace once per key.
func (r Reach) countBy(key func(Call) string) map[string]int {
	out := map[string]int{}
	for _, p := range r.Paths {
		keys := map[string]bool{}
		for _, c := range p.Calls {
			keys[key(c)] = true
		}
		for k := range keys {
			out[k] += p.Count
		}
	}
	return out
}
