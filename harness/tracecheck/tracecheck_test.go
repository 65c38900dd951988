package tracecheck

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/traces"
)

// fakeJaeger returns canned traces and records the query.
type fakeJaeger struct {
	traces []traces.Trace
	err    error
	got    []traces.Query
}

func (f *fakeJaeger) Find(_ context.Context, q traces.Query) ([]traces.Trace, error) {
	f.got = append(f.got, q)
	return f.traces, f.err
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

var phases = []journal.Phase{
	{Name: "baseline", Start: t0, End: t0.Add(10 * time.Second)},
	{Name: "fault", Start: t0.Add(10 * time.Second), End: t0.Add(25 * time.Second)},
}

// inFault is a time inside the fault phase.
var inFault = t0.Add(12 * time.Second)

// checkout builds a checkout trace: a gateway root span and a span of each
// of the other services; opts change it.
func checkout(id int, opts ...func(*traces.Trace)) traces.Trace {
	tid := fmt.Sprintf("t%04d", id)
	t := traces.Trace{ID: tid, Spans: []traces.Span{
		{TraceID: tid, SpanID: "1", Service: "gateway", Operation: "POST /v1/orders", Start: inFault, Duration: 100 * time.Millisecond},
		{TraceID: tid, SpanID: "2", ParentID: "1", Service: "orders", Operation: "orders.v1.OrdersService/PlaceOrder", Start: inFault},
		{TraceID: tid, SpanID: "3", ParentID: "2", Service: "inventory", Operation: "inventory.v1.InventoryService/Reserve", Start: inFault},
		{TraceID: tid, SpanID: "4", ParentID: "2", Service: "payments", Operation: "payments.v1.PaymentsService/Charge", Start: inFault},
	}}
	for _, o := range opts {
		o(&t)
	}
	return t
}

// retry adds a retry event on the span of service.
func retry(service string, attrs map[string]string) func(*traces.Trace) {
	return func(t *traces.Trace) {
		for i := range t.Spans {
			if t.Spans[i].Service == service {
				t.Spans[i].Events = append(t.Spans[i].Events, traces.Event{Name: "retry", Attrs: attrs})
				return
			}
		}
	}
}

// root changes the root span.
func root(f func(*traces.Span)) func(*traces.Trace) {
	return func(t *traces.Trace) { f(&t.Spans[0]) }
}

// without drops the spans of service.
func without(service string) func(*traces.Trace) {
	return func(t *traces.Trace) {
		var keep []traces.Span
		for _, s := range t.Spans {
			if s.Service != service {
				keep = append(keep, s)
			}
		}
		t.Spans = keep
	}
}

// many builds n checkout traces starting at id from, with opts.
func many(from, n int, opts ...func(*traces.Trace)) []traces.Trace {
	out := make([]traces.Trace, 0, n)
	for i := range n {
		out = append(out, checkout(from+i, opts...))
	}
	return out
}

func cat(parts ...[]traces.Trace) []traces.Trace {
	var out []traces.Trace
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestEvaluate(t *testing.T) {
	toPayments := map[string]string{"peer.service": "payments", "rpc.attempt": "2", "rpc.method": "/payments.v1.PaymentsService/Charge"}
	retryOnOrders := &scenario.EventRequirement{Name: "retry", OnService: "orders", Attributes: map[string]string{"peer.service": "payments"}}
	tests := []struct {
		name      string
		check     scenario.TraceCheck
		traces    []traces.Trace
		err       error
		outcome   string
		detail    string // exact, or a substring after "~"
		objective string
		value     *float64
	}{
		{
			name:    "require_event pass",
			check:   scenario.TraceCheck{MinTraces: 20, MinFraction: 0.95, RequireEvent: retryOnOrders},
			traces:  cat(many(0, 19, retry("orders", toPayments)), many(100, 1)),
			outcome: journal.Pass, value: journal.Float(0.95),
			detail:    "19/20 traces (95%) have event retry on orders {peer.service=payments}; need ≥ 95% → pass",
			objective: "≥ 95% of traces have event retry on orders {peer.service=payments}",
		},
		{
			name:    "require_event fail",
			check:   scenario.TraceCheck{MinTraces: 20, MinFraction: 0.95, RequireEvent: retryOnOrders},
			traces:  cat(many(0, 187, retry("orders", toPayments)), many(1000, 13)),
			outcome: journal.Fail, value: journal.Float(0.935),
			detail: "187/200 traces (93.5%) have event retry on orders {peer.service=payments}; need ≥ 95% → fail",
		},
		{
			name:  "require_event: the event on another service does not count",
			check: scenario.TraceCheck{MinTraces: 10, MinFraction: 1, RequireEvent: retryOnOrders},
			traces: cat(many(0, 9, retry("orders", toPayments)),
				many(100, 1, retry("gateway", toPayments))),
			outcome: journal.Fail, detail: "9/10 traces (90%) have event retry on orders {peer.service=payments}; need ≥ 100% → fail",
		},
		{
			name:  "require_event: an attribute with another value does not count",
			check: scenario.TraceCheck{MinTraces: 10, MinFraction: 1, RequireEvent: retryOnOrders},
			traces: cat(many(0, 8, retry("orders", toPayments)),
				many(100, 1, retry("orders", map[string]string{"peer.service": "inventory"})),
				many(200, 1, retry("orders", map[string]string{}))),
			outcome: journal.Fail, detail: "~8/10 traces (80%)",
		},
		{
			name:    "require_event on any service, without attributes",
			check:   scenario.TraceCheck{MinTraces: 10, MinFraction: 0.5, RequireEvent: &scenario.EventRequirement{Name: "retry"}},
			traces:  cat(many(0, 5, retry("gateway", nil)), many(100, 5)),
			outcome: journal.Pass, detail: "5/10 traces (50%) have event retry; need ≥ 50% → pass",
		},
		{
			name:    "too few traces",
			check:   scenario.TraceCheck{MinTraces: 10, MinFraction: 1, RequireEvent: retryOnOrders},
			traces:  many(0, 9, retry("orders", toPayments)),
			outcome: journal.Inconclusive,
			detail:  "9 traces with root gateway POST /v1/orders started in fault; need at least 10 to decide",
		},
		{
			name:  "only traces rooted at the operation, started in the phase, count",
			check: scenario.TraceCheck{MinTraces: 10, MinFraction: 1, RequireEvent: retryOnOrders},
			traces: cat(
				many(0, 10, retry("orders", toPayments)),
				many(100, 3, root(func(s *traces.Span) { s.Operation = "GET /v1/products" })),
				many(200, 3, root(func(s *traces.Span) { s.Service = "orders" })),
				many(300, 3, root(func(s *traces.Span) { s.Start = phases[1].Start.Add(-time.Millisecond) })),
				many(400, 3, root(func(s *traces.Span) { s.Start = phases[1].End })),
				// A root whose parent is not in Jaeger (a caller that
				// propagated its context) still roots the trace: counted.
				many(500, 3, root(func(s *traces.Span) { s.ParentID = "caller" })),
			),
			outcome: journal.Fail, detail: "~10/13 traces",
		},
		{
			name:    "max_duration pass names the slowest",
			check:   scenario.TraceCheck{MinTraces: 10, MinFraction: 1, MaxDuration: 3500 * time.Millisecond},
			traces:  cat(many(0, 10), many(100, 1, root(func(s *traces.Span) { s.Duration = 3500 * time.Millisecond }))),
			outcome: journal.Pass,
			detail:  "11/11 traces (100%) have a root span of at most 3.5s; need ≥ 100%; slowest 3.5s (trace t0100) → pass",
		},
		{
			name:    "max_duration fail names the slowest",
			check:   scenario.TraceCheck{MinTraces: 10, MinFraction: 1, MaxDuration: 3500 * time.Millisecond},
			traces:  cat(many(0, 10), many(100, 1, root(func(s *traces.Span) { s.Duration = 5123 * time.Millisecond })), many(200, 1, root(func(s *traces.Span) { s.Duration = 4 * time.Second }))),
			outcome: journal.Fail, value: journal.Float(10.0 / 12),
			detail: "10/12 traces (83.33%) have a root span of at most 3.5s; need ≥ 100%; slowest 5.123s (trace t0100) → fail",
		},
		{
			name:    "require_services pass",
			check:   scenario.TraceCheck{MinTraces: 10, MinFraction: 0.9, RequireServices: []string{"gateway", "orders", "inventory", "payments"}},
			traces:  cat(many(0, 9), many(100, 1, without("payments"))),
			outcome: journal.Pass,
			detail:  "9/10 traces (90%) span gateway, orders, inventory, payments; need ≥ 90%; missing payments in 1, e.g. trace t0100 lacks payments → pass",
		},
		{
			name:    "require_services fail",
			check:   scenario.TraceCheck{MinTraces: 10, MinFraction: 0.95, RequireServices: []string{"gateway", "orders", "inventory", "payments"}},
			traces:  cat(many(0, 8), many(100, 1, without("payments"), without("inventory")), many(200, 1, without("payments"))),
			outcome: journal.Fail,
			detail:  "8/10 traces (80%) span gateway, orders, inventory, payments; need ≥ 95%; missing inventory in 1, payments in 2, e.g. trace t0100 lacks inventory, payments → fail",
		},
		{
			name:    "Jaeger error",
			check:   scenario.TraceCheck{MinTraces: 10, MinFraction: 1, MaxDuration: time.Second},
			err:     errors.New("rpc error: code = Unavailable"),
			outcome: journal.Inconclusive,
			detail:  "finding traces of gateway POST /v1/orders in fault: rpc error: code = Unavailable",
		},
		{
			name:    "search limit reached",
			check:   scenario.TraceCheck{MinTraces: 10, MinFraction: 1, MaxDuration: time.Second},
			traces:  many(0, SearchLimit),
			outcome: journal.Pass, detail: "~(Jaeger's search limit of 2000 reached: a sample of the phase's traces)",
		},
		{
			name:    "defaults: at least 10 traces, all of them",
			check:   scenario.TraceCheck{MaxDuration: time.Second},
			traces:  many(0, 9),
			outcome: journal.Inconclusive, detail: "~need at least 10 to decide",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.check
			c.Name, c.Phase, c.Service, c.Operation = "retries-visible", "fault", "gateway", "POST /v1/orders"
			f := &fakeJaeger{traces: tt.traces, err: tt.err}
			got := Evaluate(t.Context(), f, c, phases, nil)

			assert.Equal(t, tt.outcome, got.Outcome, got.Detail)
			assert.Equal(t, tt.outcome != journal.Inconclusive, got.OnData, "a pass or fail is over at least min_traces traces")
			if len(tt.detail) > 0 && tt.detail[0] == '~' {
				assert.Contains(t, got.Detail, tt.detail[1:])
			} else {
				assert.Equal(t, tt.detail, got.Detail)
			}
			assert.Equal(t, journal.KindTrace, got.Kind)
			assert.Equal(t, "fault", got.Phase)
			if tt.objective != "" {
				assert.Equal(t, tt.objective, got.Objective)
			}
			if tt.value != nil {
				require.NotNil(t, got.Value)
				assert.InDelta(t, *tt.value, *got.Value, 1e-12)
			}
			require.Len(t, f.got, 1)
			assert.Equal(t, traces.Query{Service: "gateway", Operation: "POST /v1/orders",
				Start: phases[1].Start, End: phases[1].End, Limit: SearchLimit}, f.got[0])
		})
	}
}

func TestEvaluateAnyOperation(t *testing.T) {
	ts := cat(many(0, 5), many(100, 5, root(func(s *traces.Span) { s.Operation = "GET /v1/products" })))
	f := &fakeJaeger{traces: ts}
	got := Evaluate(t.Context(), f, scenario.TraceCheck{Name: "c", Phase: "fault", Service: "gateway",
		MinTraces: 10, MinFraction: 1, MaxDuration: time.Second}, phases, nil)
	assert.Equal(t, journal.Pass, got.Outcome, got.Detail)
	assert.Contains(t, got.Detail, "10/10 traces")
	assert.Equal(t, "", f.got[0].Operation)
}

func TestEvaluatePhaseThatDidNotRun(t *testing.T) {
	f := &fakeJaeger{}
	got := Evaluate(t.Context(), f, scenario.TraceCheck{Name: "c", Phase: "recovery", Service: "gateway", MaxDuration: time.Second}, phases, nil)
	assert.Equal(t, journal.Inconclusive, got.Outcome)
	assert.Equal(t, `phase "recovery" did not run`, got.Detail)
	assert.Empty(t, f.got)
}

// Only exported spans are seen: when most of the requests the load started
// in the phase left no trace (they hung or were cut), the few found cannot
// speak for the phase.
func TestEvaluateComparesTracesWithTheRequestsStarted(t *testing.T) {
	check := scenario.TraceCheck{Name: "c", Phase: "fault", Service: "gateway", Operation: "POST /v1/orders",
		MinTraces: 10, MinFraction: 1, MaxDuration: time.Second}
	tests := []struct {
		name     string
		started  map[string]int64
		coverage float64
		outcome  string
		detail   string
	}{
		{name: "requests not known: not judged", started: nil, outcome: journal.Pass, detail: "20/20 traces (100%)"},
		{name: "every request traced", started: map[string]int64{"fault": 20}, outcome: journal.Pass, detail: "20/20 traces (of 20 requests started in fault) (100%)"},
		{name: "half traced: the default bound", started: map[string]int64{"fault": 40}, outcome: journal.Pass, detail: "of 40 requests started in fault"},
		{name: "most never exported", started: map[string]int64{"fault": 150}, outcome: journal.Inconclusive,
			detail: "20 traces with root gateway POST /v1/orders started in fault, but the load started 150 requests in it (13.33%; need ≥ 50%)"},
		{name: "a stricter bound", started: map[string]int64{"fault": 25}, coverage: 0.9, outcome: journal.Inconclusive, detail: "(80%; need ≥ 90%)"},
		{name: "another phase's count does not apply", started: map[string]int64{"baseline": 500}, outcome: journal.Pass, detail: "20/20 traces (100%)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := check
			c.MinCoverage = tt.coverage
			got := Evaluate(t.Context(), &fakeJaeger{traces: many(0, 20)}, c, phases, tt.started)
			assert.Equal(t, tt.outcome, got.Outcome, got.Detail)
			assert.Contains(t, got.Detail, tt.detail)
			assert.Equal(t, tt.outcome == journal.Pass, got.OnData)
		})
	}
}
