package explore

import (
	"fmt"
	"slices"
	"strings"
)

// The reduction rules, as -reduce names them.
const (
	// RuleWeaker skips a point when a weaker one already failed: a point
	// whose fault contains that of a failed point (it does at least what
	// the failed one did, to at least the same calls) is expected to fail
	// too.
	RuleWeaker = "weaker"
	// RulePath skips a point when the same fault one step earlier on the
	// journey already failed: on every path that makes the point's call,
	// that earlier call is made first, and the journey already breaks
	// there.
	RulePath = "path"
)

// Rules returns the reduction rules, in the order they are tried.
func Rules() []string { return []string{RuleWeaker, RulePath} }

// weaker returns the IDs of the points whose fault the fault of p
// contains, among space: a method's errors or delays are a share of what
// its edge down, reset or blackholed does to it, and an edge down (or
// blackholed) is what a kill (or a pause) of its callee does to that edge.
//
//	edge down, edge reset ⊇ method UNAVAILABLE (on that edge)
//	edge blackhole        ⊇ method DEADLINE_EXCEEDED, method latency (on that edge)
//	service kill          ⊇ edge down (every edge into the service)
//	service pause         ⊇ edge blackhole (every edge into the service)
func weaker(p Point, space []Point) []string {
	var out []string
	for _, q := range space {
		if q.ID == p.ID {
			continue
		}
		var contained bool
		switch {
		case p.Kind == KindEdge && q.Kind == KindMethod && q.Edge == p.Edge:
			switch p.Variant {
			case EdgeDown, EdgeReset:
				contained = q.Variant == MethodUnavailable
			case EdgeBlackhole:
				contained = q.Variant == MethodDeadline || q.Variant == MethodLatency
			}
		case p.Kind == KindService && q.Kind == KindEdge && q.Service == p.Service:
			contained = p.Variant == ServiceKill && q.Variant == EdgeDown ||
				p.Variant == ServicePause && q.Variant == EdgeBlackhole
		}
		if contained {
			out = append(out, q.ID)
		}
	}
	return out
}

// step is what the path rule compares along a journey: a method point's
// call, an edge point's edge, a service point's service.
func step(p Point) (key func(Call) string, k string) {
	switch p.Kind {
	case KindMethod:
		return Call.String, Call{Edge: p.Edge, Method: p.Method}.String()
	case KindEdge:
		return func(c Call) string { return c.Edge }, p.Edge
	default:
		return Call.Callee, p.Service
	}
}

// reducer decides which points need not run, from what has run so far.
type reducer struct {
	rules map[string]bool
	reach Reach
	space []Point
	// failed holds the points that failed on data, or were skipped because
	// a weaker one did (they are expected to fail): by ID, why.
	failed map[string]string
	byID   map[string]Point
}

func newReducer(rules []string, reach Reach, space []Point) *reducer {
	r := &reducer{rules: map[string]bool{}, reach: reach, space: space, failed: map[string]string{}, byID: map[string]Point{}}
	for _, n := range rules {
		r.rules[n] = true
	}
	for _, p := range space {
		r.byID[p.ID] = p
	}
	return r
}

// Skip returns the rule and the reason to skip p, or "" to run it.
func (r *reducer) Skip(p Point) (rule, why string) {
	if r.rules[RuleWeaker] {
		for _, id := range weaker(p, r.space) {
			if how, ok := r.failed[id]; ok {
				return RuleWeaker, fmt.Sprintf("a weaker fault already %s: %s; %s does at least that", how, id, p.ID)
			}
		}
	}
	if r.rules[RulePath] {
		key, mine := step(p)
		for _, q := range r.space {
			how, ok := r.failed[q.ID]
			if !ok || q.ID == p.ID || q.Kind != p.Kind || q.Variant != p.Variant || strings.HasPrefix(how, "is expected") {
				continue
			}
			_, theirs := step(q)
			if theirs != mine && r.reach.BeforeBy(key, theirs, mine) {
				return RulePath, fmt.Sprintf("the same fault one step earlier already failed: on every path that reaches %s, %s comes first, and %s %s",
					mine, theirs, q.ID, how)
			}
		}
	}
	return "", ""
}

// Failed records that p failed on data (how: "failed checkout-availability").
func (r *reducer) Failed(p Point, how string) { r.failed[p.ID] = how }

// Implied records that p was skipped as expected to fail, so that what
// contains it is skipped too.
func (r *reducer) Implied(p Point) { r.failed[p.ID] = "is expected to fail" }

// BeforeBy reports whether, on every path that makes a call whose key is
// b, a call whose key is a is made earlier. False when no path reaches b.
func (r Reach) BeforeBy(key func(Call) string, a, b string) bool {
	reached := false
	for _, p := range r.Paths {
		keys := make([]string, len(p.Calls))
		for i, c := range p.Calls {
			keys[i] = key(c)
		}
		ib := slices.Index(keys, b)
		if ib < 0 {
			continue
		}
		reached = true
		if ia := slices.Index(keys, a); ia < 0 || ia > ib {
			return false
		}
	}
	return reached
}
