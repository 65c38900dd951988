package explore

import (
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/slodef"
	"github.com/chaoslab/chaoslab/harness/traces"
)

func testLab(t testing.TB) *lab.Lab {
	t.Helper()
	l, err := lab.Load(filepath.Join("testdata", "lab", "lab.yaml"))
	require.NoError(t, err)
	return l
}

func testSLOs(t testing.TB) *slodef.Set {
	t.Helper()
	s, err := slodef.Load(filepath.Join("testdata", "slos.yaml"))
	require.NoError(t, err)
	return s
}

// parser checks scenario files the way `chaoslab validate` does.
func parser(t testing.TB, l *lab.Lab, defs *slodef.Set) func(string, []byte) (*scenario.Scenario, error) {
	opts := []scenario.Option{
		scenario.WithLab(l),
		scenario.WithScriptCheck(scenario.ScriptsIn(filepath.Join("testdata", "lab", "loadtests"))),
		scenario.WithSLOCheck(func(name string) error { _, err := defs.SLO(name); return err }),
	}
	return func(name string, data []byte) (*scenario.Scenario, error) { return scenario.Parse(name, data, opts...) }
}

// traceBuilder writes the spans of one trace, each starting a millisecond
// after the previous one.
type traceBuilder struct {
	t  traces.Trace
	at time.Time
}

func newTrace(id string) *traceBuilder {
	return &traceBuilder{t: traces.Trace{ID: id}, at: time.Unix(1_700_000_000, 0)}
}

func (b *traceBuilder) span(id, parent, service, op string) *traceBuilder {
	b.at = b.at.Add(time.Millisecond)
	b.t.Spans = append(b.t.Spans, traces.Span{TraceID: b.t.ID, SpanID: id, ParentID: parent, Service: service,
		Operation: op, Start: b.at, Attrs: map[string]string{}})
	return b
}

const (
	put    = "/store.v1.StoreService/Put"
	debit  = "/ledger.v1.LedgerService/Debit"
	lookup = "/cache.v1.CacheService/Lookup"
	items  = "POST /v1/items"
)

// baselineTraces are two journeys of testlab: a write that goes api →
// store → ledger (retried once) → cache, and one that stops at store. A
// span on an edge the lab lacks and one whose parent is missing are
// ignored.
func baselineTraces() []traces.Trace {
	full := newTrace("t1").
		span("a", "", "api", items).
		span("b", "a", "api", "store.v1.StoreService/Put").
		span("c", "b", "store", "store.v1.StoreService/Put").
		span("d", "c", "store", "ledger.v1.LedgerService/Debit").
		span("e", "d", "ledger", "ledger.v1.LedgerService/Debit").
		span("e2", "d", "ledger", "ledger.v1.LedgerService/Debit"). // a retry
		span("f", "c", "store", "cache.v1.CacheService/Lookup").
		span("g", "f", "cache", "cache.v1.CacheService/Lookup").
		span("h", "g", "ledger", "ledger.v1.LedgerService/Credit"). // cache->ledger: not an edge
		span("i", "zz", "ledger", "orphan")                         // its parent never arrived
	short := newTrace("t2").
		span("a", "", "api", items).
		span("b", "a", "api", "store.v1.StoreService/Put").
		span("c", "b", "store", "store.v1.StoreService/Put")
	return []traces.Trace{full.t, short.t}
}

func TestReachOf(t *testing.T) {
	r := ReachOf(labView{testLab(t)}, baselineTraces())
	assert.Equal(t, 2, r.Traces)
	assert.Equal(t, map[Call]int{
		{Edge: "client->api", Method: items}:   2,
		{Edge: "api->store", Method: put}:      2,
		{Edge: "store->ledger", Method: debit}: 1,
		{Edge: "store->cache", Method: lookup}: 1,
	}, r.Calls)
	assert.Equal(t, map[string]int{"cache->ledger": 1}, r.Unknown)
	require.Len(t, r.Paths, 2)
	assert.Equal(t, []Call{{"client->api", items}, {"api->store", put}, {"store->ledger", debit}, {"store->cache", lookup}}, r.Paths[0].Calls,
		"the calls in the order they started, the retried Debit once")
	assert.Equal(t, map[string]int{"client->api": 2, "api->store": 2, "store->ledger": 1, "store->cache": 1}, r.Edges())
	assert.Equal(t, map[string]int{"api": 2, "store": 2, "ledger": 1, "cache": 1}, r.Services())

	tests := []struct {
		name string
		key  func(Call) string
		a, b string
		want bool
	}{
		{"Put before Debit on the one path that debits", Call.String, "api->store " + put, "store->ledger " + debit, true},
		{"Debit not before Put", Call.String, "store->ledger " + debit, "api->store " + put, false},
		{"not reached", Call.String, "api->store " + put, "api->cache x", false},
		{"edges", func(c Call) string { return c.Edge }, "api->store", "store->cache", true},
		{"services", Call.Callee, "ledger", "cache", true},
		{"services, the other way", Call.Callee, "cache", "ledger", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, r.BeforeBy(tt.key, tt.a, tt.b)) })
	}
}

func TestMethodOf(t *testing.T) {
	tests := []struct {
		name string
		span traces.Span
		grpc bool
		want string
	}{
		{"otelgrpc span name", traces.Span{Operation: "store.v1.StoreService/Put"}, true, put},
		{"rpc attributes", traces.Span{Operation: "x", Attrs: map[string]string{"rpc.service": "store.v1.StoreService", "rpc.method": "Put"}}, true, put},
		{"http span named by route", traces.Span{Operation: items}, false, items},
		{"http route attributes", traces.Span{Operation: "api", Attrs: map[string]string{"http.route": "/v1/items", "http.request.method": "POST"}}, false, items},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, methodOf(tt.span, tt.grpc)) })
	}
}

func testSpace(t testing.TB) (Space, Reach) {
	r := ReachOf(labView{testLab(t)}, baselineTraces())
	return Build(testLab(t).FaultTopology(), r, SpaceOptions{Probability: 0.1, Latency: 2 * time.Second, RestartAfter: 2 * time.Second, Seed: 7}), r
}

func ids(ps []Point) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func TestBuild(t *testing.T) {
	sp, _ := testSpace(t)
	assert.Equal(t, []string{
		"method store " + put + " UNAVAILABLE", "method store " + put + " DEADLINE_EXCEEDED", "method store " + put + " INTERNAL", "method store " + put + " latency",
		"method ledger " + debit + " UNAVAILABLE", "method ledger " + debit + " DEADLINE_EXCEEDED", "method ledger " + debit + " INTERNAL", "method ledger " + debit + " latency",
		"edge api->store down", "edge api->store blackhole", "edge api->store reset",
		"edge store->ledger down", "edge store->ledger blackhole", "edge store->ledger reset",
		"edge store->cache down", "edge store->cache blackhole", "edge store->cache reset",
		"service api kill", "service api pause", "service store kill", "service store pause",
		"service ledger kill", "service ledger pause", "service cache kill", "service cache pause",
	}, ids(sp.Points), "methods, then edges, then services, each along the journey")
	var unreached []string
	for _, u := range sp.Unreached {
		unreached = append(unreached, u.What)
	}
	assert.ElementsMatch(t, []string{
		"edge api->cache",
		"method api GET /v1/items/{id}",
		"method store /store.v1.StoreService/Get", "method store /store.v1.StoreService/List",
		"method ledger /ledger.v1.LedgerService/Credit", "method ledger /ledger.v1.LedgerService/ListEntries",
		"call client->api " + items,
		"method cache " + lookup,
	}, unreached)

	byID := map[string]Point{}
	for _, p := range sp.Points {
		byID[p.ID] = p
	}
	unavailable := byID["method store "+put+" UNAVAILABLE"]
	require.NotNil(t, unavailable.Fault.Request)
	assert.Equal(t, "UNAVAILABLE", unavailable.Fault.Request.GRPCCode)
	assert.Equal(t, 0.1, unavailable.Fault.Request.Probability)
	assert.Equal(t, uint64(7), unavailable.Fault.Request.Seed)
	assert.Equal(t, 2, unavailable.Seen)
	assert.Equal(t, "explore-method-store-put-unavailable", unavailable.Name())
	assert.Equal(t, "10% of the "+put+" requests to store fail with UNAVAILABLE", unavailable.What)
	blackhole := byID["edge store->ledger blackhole"]
	require.NotNil(t, blackhole.Fault.Network)
	assert.Equal(t, map[string]int64{"timeout": 0}, blackhole.Fault.Network.Attributes)
	assert.Equal(t, "explore-edge-store-to-ledger-blackhole", blackhole.Name())
	kill := byID["service ledger kill"]
	require.NotNil(t, kill.Fault.Process)
	assert.Equal(t, 2*time.Second, kill.Fault.Process.RestartAfter)
}

// TestBuildHTTPMethods: a method point on an HTTP service fails with the
// HTTP status of its variant.
func TestBuildHTTPMethods(t *testing.T) {
	l := testLab(t)
	tr := newTrace("t").span("a", "", "store", "store.v1.StoreService/Put").span("b", "a", "api", "GET /v1/items/{id}")
	// store->api is not an edge of testlab: give the lab one through a
	// topology of its own.
	topo := l.FaultTopology()
	topo.Edges = append(topo.Edges, "store->api")
	r := ReachOf(edgeSet{"store->api": true, "client->store": true}, []traces.Trace{tr.t})
	sp := Build(topo, r, SpaceOptions{Probability: 1})
	got := map[string]int{}
	for _, p := range sp.Points {
		if p.Kind == KindMethod {
			if p.Fault.Request.HTTPStatus != 0 {
				got[p.Variant] = p.Fault.Request.HTTPStatus
			} else {
				got[p.Variant] = -1
			}
		}
	}
	assert.Equal(t, map[string]int{MethodUnavailable: 503, MethodDeadline: 504, MethodInternal: 500, MethodLatency: -1}, got)
}

type edgeSet map[string]bool

func (e edgeSet) HasEdge(name string) bool { return e[name] }
func (e edgeSet) GRPC(service string) bool { return service != "api" }

func TestReducer(t *testing.T) {
	sp, r := testSpace(t)
	byID := map[string]Point{}
	for _, p := range sp.Points {
		byID[p.ID] = p
	}
	tests := []struct {
		name    string
		rules   []string
		failed  []string // failed on data
		implied []string // skipped as expected to fail
		point   string
		rule    string
	}{
		{"nothing failed", Rules(), nil, nil, "edge api->store down", ""},
		{"UNAVAILABLE on its edge failed: down is skipped", Rules(), []string{"method store " + put + " UNAVAILABLE"}, nil, "edge api->store down", RuleWeaker},
		{"and reset", Rules(), []string{"method store " + put + " UNAVAILABLE"}, nil, "edge api->store reset", RuleWeaker},
		{"but not the blackhole", []string{RuleWeaker}, []string{"method store " + put + " UNAVAILABLE"}, nil, "edge api->store blackhole", ""},
		{"a delay failed: the blackhole is skipped", Rules(), []string{"method store " + put + " latency"}, nil, "edge api->store blackhole", RuleWeaker},
		{"a failure on another edge contains nothing here", []string{RuleWeaker}, []string{"method ledger " + debit + " UNAVAILABLE"}, nil, "edge api->store down", ""},
		{"an edge down failed: the kill of its callee is skipped", Rules(), []string{"edge store->ledger down"}, nil, "service ledger kill", RuleWeaker},
		{"implied failures chain", Rules(), nil, []string{"edge store->ledger blackhole"}, "service ledger pause", RuleWeaker},
		{"path: the same fault one step earlier failed", Rules(), []string{"method store " + put + " INTERNAL"}, nil, "method ledger " + debit + " INTERNAL", RulePath},
		{"path: another variant earlier is no reason", Rules(), []string{"method store " + put + " UNAVAILABLE"}, nil, "method ledger " + debit + " INTERNAL", ""},
		{"path: a later failure says nothing of an earlier step", Rules(), []string{"method ledger " + debit + " INTERNAL"}, nil, "method store " + put + " INTERNAL", ""},
		{"path: an implied failure is not a measurement", Rules(), nil, []string{"edge api->store blackhole"}, "edge store->ledger blackhole", ""},
		{"path over edges", Rules(), []string{"edge api->store reset"}, nil, "edge store->cache reset", RulePath},
		{"path off", []string{RuleWeaker}, []string{"method store " + put + " INTERNAL"}, nil, "method ledger " + debit + " INTERNAL", ""},
		{"no rules", nil, []string{"method store " + put + " UNAVAILABLE"}, nil, "edge api->store down", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			red := newReducer(tt.rules, r, sp.Points)
			for _, id := range tt.failed {
				require.Contains(t, byID, id)
				red.Failed(byID[id], "failed items-availability")
			}
			for _, id := range tt.implied {
				red.Implied(byID[id])
			}
			require.Contains(t, byID, tt.point)
			rule, why := red.Skip(byID[tt.point])
			assert.Equal(t, tt.rule, rule, why)
			if rule != "" {
				assert.NotEmpty(t, why)
			}
		})
	}
}

// TestGeneratedScenariosValidate: every point's scenario, and the
// baseline's, is a scenario file `chaoslab validate` accepts, with the
// fault, the knobs and the checks explore promises.
func TestGeneratedScenariosValidate(t *testing.T) {
	l, defs := testLab(t), testSLOs(t)
	parse := parser(t, l, defs)
	sp, _ := testSpace(t)
	events, err := defs.EventRate("items-availability", "$window")
	require.NoError(t, err)
	exp := Experiment{Journey: "checkout.js", Rate: 15, Baseline: 5 * time.Second, Fault: 8 * time.Second, Recovery: 8 * time.Second,
		SLOs: []SLO{{Name: "items-availability", Objective: 0.99, Events: events, At: []string{"api"}}}, Entry: "api", Throughput: 0.8,
		Invariants: l.InvariantNames(), Knobs: []scenario.Knob{{Service: "store", Flag: "retries", Value: "false"}}, Seed: 7,
		ClientBudget: 0.01}
	for _, p := range sp.Points {
		t.Run(p.Name(), func(t *testing.T) {
			data, err := exp.File(p.Name(), "a point", []Point{p})
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(string(data), "# Purpose: Generated by chaoslab explore"), "%s", data)
			sc, err := parse(p.Name()+".yaml", data)
			require.NoError(t, err, "%s", data)
			assert.Equal(t, p.Name(), sc.Name)
			assert.Equal(t, scenario.ExpectPass, sc.Expect)
			require.Len(t, sc.Phases, 3)
			assert.Equal(t, 21*time.Second, sc.Phases[0].Duration+sc.Phases[1].Duration+sc.Phases[2].Duration-recoveryConfirm)
			assert.Equal(t, 1, sc.FaultCount())
			assert.Equal(t, []scenario.Knob{{Service: "store", Flag: "retries", Value: "false"}}, sc.Knobs)
			var names []string
			for _, c := range sc.Checks.SLO {
				names = append(names, c.Name)
			}
			for _, c := range sc.Checks.Recovery {
				names = append(names, c.Name)
			}
			for _, n := range sc.Checks.Invariants {
				names = append(names, string(n))
			}
			want := []string{"items-availability", "items-availability-throughput"}
			if p.Kind != KindEdge {
				want = append(want, ActedCheck) // an edge's is read from the traces
			}
			want = append(want, "client-failures", "client-latency", "items-availability-recovers", "no_lost_items", "balanced_ledger")
			if p.ID == "service api kill" || p.ID == "service api pause" {
				// the entry's own SLO cannot see its process stopped: the client's view judges
				want = slices.DeleteFunc(want, func(n string) bool { return n == "items-availability" || n == "items-availability-throughput" })
			}
			assert.Equal(t, want, names)
			client := sc.Checks.SLO[len(sc.Checks.SLO)-2]
			assert.Contains(t, client.Query, `{scenario="`+p.Name()+`",phase="fault"`, "the load's own samples of this point")
			assert.NotContains(t, client.Query, "run_id", "a committed scenario runs again under another run")
			assert.Equal(t, "<= 0.01", client.Objective.String())
			assert.Contains(t, client.Query, `phase="fault"`)
			assert.Contains(t, client.Query, `phase="baseline",expected_response="false"}[$window] offset $window`, "the baseline's share, from the window before")
		})
	}
	t.Run("a pair", func(t *testing.T) {
		data, err := exp.File("explore-pair-1", "a pair", sp.Points[:2])
		require.NoError(t, err)
		sc, err := parse("explore-pair-1.yaml", data)
		require.NoError(t, err, "%s", data)
		assert.Equal(t, 2, sc.FaultCount())
	})
	t.Run("the baseline", func(t *testing.T) {
		data, err := baselineFile("explore-baseline", exp, exp.SLOs, 15*time.Second)
		require.NoError(t, err)
		sc, err := parse("explore-baseline.yaml", data)
		require.NoError(t, err, "%s", data)
		assert.Equal(t, 0, sc.FaultCount())
		require.Len(t, sc.Checks.SLO, 1)
		assert.Equal(t, scenario.Inconclusive, sc.Checks.SLO[0].OnEmpty, "an SLO the journey does not measure is left out, not failed")
	})
}

// fakeLab plays a lab: the baseline passes the SLOs it measures, and a
// point fails when its scenario's faults match one of fails.
type fakeLab struct {
	t     *testing.T
	fails []string // substrings of a fault's spec that break the lab
	ran   []string
	// measured are the SLOs the journey measures.
	measured map[string]bool
	base     time.Time
}

func (f *fakeLab) run(_ context.Context, sc *scenario.Scenario, dir string) *journal.Journal {
	f.ran = append(f.ran, sc.Name)
	j := &journal.Journal{Scenario: sc.Name}
	at := f.base
	for _, p := range sc.Phases {
		j.Phases = append(j.Phases, journal.Phase{Name: p.Name, Start: at, End: at.Add(p.Duration)})
		at = at.Add(p.Duration)
	}
	broken := false
	for _, p := range sc.Phases {
		for _, fs := range p.Faults {
			for _, s := range f.fails {
				if strings.Contains(fs.String(), s) {
					broken = true
				}
			}
		}
	}
	v := 1.0
	for _, c := range sc.Checks.SLO {
		ch := journal.Check{Name: c.Name, Kind: "slo", Outcome: journal.Pass, OnData: true, Value: &v}
		if !f.measured[c.SLO] && c.SLO != "" {
			ch.Outcome, ch.OnData, ch.Value = journal.Inconclusive, false, nil
		}
		if broken && c.Name == "items-availability" {
			bad := 0.5
			ch.Outcome, ch.Value, ch.Detail = journal.Fail, &bad, "0.5 >= 0.99 is false"
		}
		j.Checks = append(j.Checks, ch)
	}
	for _, c := range sc.Checks.Recovery {
		s := 4.0
		j.Checks = append(j.Checks, journal.Check{Name: c.Name, Kind: "recovery", Outcome: journal.Pass, OnData: true, RecoverySeconds: &s})
	}
	for _, n := range sc.Checks.Invariants {
		j.Checks = append(j.Checks, journal.Check{Name: string(n), Kind: "invariant", Outcome: journal.Pass, OnData: true})
	}
	j.Outcome = journal.Combine(j.Checks)
	j.Verdict = journal.AsExpected
	require.NoError(f.t, journal.Write(filepath.Join(dir, sc.Name), j))
	return j
}

// fakeTraces answers the first query (the baseline's) with ts, and every
// later one (a point's fault phase) with fault.
type fakeTraces struct {
	ts, fault []traces.Trace
	calls     *int
}

func (f fakeTraces) Find(context.Context, traces.Query) ([]traces.Trace, error) {
	if f.calls == nil || *f.calls == 0 {
		if f.calls != nil {
			*f.calls++
		}
		return f.ts, nil
	}
	return f.fault, nil
}

// faultTraces are n copies of the full journey whose client spans failed.
func faultTraces(n int) []traces.Trace {
	var out []traces.Trace
	for range n {
		t := baselineTraces()[0]
		t.Spans = slices.Clone(t.Spans)
		for i := range t.Spans {
			if strings.Contains(t.Spans[i].Operation, "/") {
				t.Spans[i].Error = true
			}
		}
		out = append(out, t)
	}
	return out
}

func TestEdgeActed(t *testing.T) {
	l := testLab(t)
	sp, reach := testSpace(t)
	var edge Point
	for _, p := range sp.Points {
		if p.ID == "edge api->store down" {
			edge = p
		}
	}
	healthy := func(n int) []traces.Trace {
		var out []traces.Trace
		for range n {
			out = append(out, baselineTraces()[0])
		}
		return out
	}
	slow := healthy(12)
	for i := range slow {
		slow[i].Spans = slices.Clone(slow[i].Spans)
		slow[i].Spans[1].Duration = 2 * time.Second // api's client span of Put
	}
	cut := make([]traces.Trace, 12)
	for i := range cut {
		cut[i] = newTrace("c").span("a", "", "api", items).t // the call never left api
	}
	tests := []struct {
		name    string
		ts      []traces.Trace
		outcome string
	}{
		{"calls on the edge failed", faultTraces(12), journal.Pass},
		{"calls on the edge were slow", slow, journal.Pass},
		{"the edge was no longer crossed", cut, journal.Pass},
		{"as healthy as the baseline", healthy(12), journal.Fail},
		{"too few traces to tell", faultTraces(3), journal.Inconclusive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := &Explorer{Lab: l, Traces: fakeTraces{fault: tt.ts, calls: new(int), ts: nil}}
			*x.Traces.(fakeTraces).calls = 1
			j := &journal.Journal{Phases: []journal.Phase{{Name: PhaseFault, Start: time.Now(), End: time.Now().Add(time.Second)}}}
			c := x.edgeActed(t.Context(), edge, j, reach, "api")
			assert.Equal(t, tt.outcome, c.Outcome, c.Detail)
			assert.Equal(t, ActedCheck, c.Name)
		})
	}
}

func TestExplore(t *testing.T) {
	l, defs := testLab(t), testSLOs(t)
	fl := &fakeLab{t: t, fails: []string{"request store " + put + " grpc_code=UNAVAILABLE", "request ledger " + debit + " grpc_code=INTERNAL"},
		measured: map[string]bool{"items-availability": true}, base: time.Now()}
	dir := t.TempDir()
	x := &Explorer{Lab: l, SLOs: defs, Run: fl.run, Traces: fakeTraces{ts: baselineTraces(), fault: faultTraces(12), calls: new(int)}, Parse: parser(t, l, defs), Stack: scenario.StackLocal,
		Prometheus: fakeProm{`http_requests_total{route="POST /v1/items"}`: {"api"}}}
	res, err := x.Explore(t.Context(), Options{
		Experiment:  Experiment{Journey: "checkout.js", Rate: 15, Baseline: 5 * time.Second, Fault: 8 * time.Second, Recovery: 8 * time.Second, Throughput: 0.8},
		BaselineFor: 15 * time.Second, Space: SpaceOptions{Probability: 0.1, Latency: 2 * time.Second, RestartAfter: 2 * time.Second, Seed: 7},
		Rules: Rules(), Budget: time.Hour, Dir: dir, RunID: "r1",
	})
	require.NoError(t, err)
	require.Len(t, res.SLOs, 1, "catalog-latency is not measured by the journey")
	assert.Equal(t, "items-availability", res.SLOs[0].Name)
	assert.Equal(t, []string{"api"}, res.SLOs[0].At, "placed by the jobs its series come from")
	assert.Equal(t, "explore-baseline", fl.ran[0])

	status := map[string]string{}
	for _, p := range res.Points {
		status[p.ID()] = p.Status
		if p.Status == StatusSkipped {
			assert.NotEmpty(t, p.Reason, p.ID())
			assert.NotContains(t, fl.ran, p.Name, "a skipped point does not run")
		}
	}
	assert.Equal(t, StatusFail, status["method store "+put+" UNAVAILABLE"])
	assert.Equal(t, StatusPass, status["method store "+put+" INTERNAL"])
	assert.Equal(t, StatusFail, status["method ledger "+debit+" INTERNAL"])
	assert.Equal(t, StatusSkipped, status["edge api->store down"], "UNAVAILABLE on its edge already failed")
	assert.Equal(t, StatusSkipped, status["edge api->store reset"])
	assert.Equal(t, StatusPass, status["edge api->store blackhole"])
	assert.Equal(t, StatusSkipped, status["service store kill"], "its edge down is expected to fail")
	assert.Equal(t, StatusSkipped, status["method ledger "+debit+" UNAVAILABLE"], "store's UNAVAILABLE failed one step earlier on its path")
	assert.Equal(t, StatusPass, status["method ledger "+debit+" DEADLINE_EXCEEDED"])
	assert.Equal(t, len(res.Points), len(fl.ran)-1+res.Count(StatusSkipped), "every point either ran or was skipped")

	for _, p := range res.Points {
		if p.Status != StatusFail {
			assert.Empty(t, p.Scenario)
			continue
		}
		data, err := os.ReadFile(p.Scenario)
		require.NoError(t, err)
		_, err = parser(t, l, defs)(filepath.Base(p.Scenario), data)
		assert.NoError(t, err, "the finding's scenario validates")
	}

	require.NoError(t, Write(dir, res))
	for _, f := range []string{"explore.json", "junit.xml", "index.html"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	var doc junitSuites
	b, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	require.NoError(t, err)
	require.NoError(t, xml.Unmarshal(b, &doc))
	assert.Len(t, doc.Suites, len(res.Points))
	failures := 0
	for _, s := range doc.Suites {
		failures += s.Failures
	}
	assert.Equal(t, res.Count(StatusFail), failures, "one failed check per failed point")
	html, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), "explore-method-store-put-unavailable")
	assert.Contains(t, string(html), "scenarios/explore-method-store-put-unavailable.yaml")
	assert.Contains(t, string(html), `<iframe loading="lazy" src="points/explore-method-store-put-unavailable/report.html"`, "the point's plots, inline")
}

func TestExploreBudget(t *testing.T) {
	l, defs := testLab(t), testSLOs(t)
	fl := &fakeLab{t: t, measured: map[string]bool{"items-availability": true}, base: time.Now()}
	clock := time.Unix(1_700_000_000, 0)
	x := &Explorer{Lab: l, SLOs: defs, Traces: fakeTraces{ts: baselineTraces()}, Parse: parser(t, l, defs),
		// Each scenario takes a simulated minute.
		Run: func(ctx context.Context, sc *scenario.Scenario, dir string) *journal.Journal {
			clock = clock.Add(time.Minute)
			return fl.run(ctx, sc, dir)
		},
		Now: func() time.Time { return clock },
	}
	res, err := x.Explore(t.Context(), Options{
		Experiment:  Experiment{Journey: "checkout.js", Rate: 15, Baseline: 5 * time.Second, Fault: 8 * time.Second, Recovery: 8 * time.Second, Throughput: 0.8},
		BaselineFor: 15 * time.Second, Space: SpaceOptions{Probability: 0.1, Latency: time.Second, RestartAfter: time.Second},
		Rules: Rules(), Budget: 4 * time.Minute, Dir: t.TempDir(),
	})
	require.NoError(t, err)
	assert.Equal(t, 3, res.Count(StatusPass), "the baseline's minute and three points' fit in 4 minutes; a fourth would end after")
	for _, p := range res.Points {
		if p.Status == StatusPass {
			assert.Equal(t, 60.0, p.Seconds, "each point's own time")
		}
	}
	assert.Equal(t, len(res.Points)-3, res.Count(StatusNotRun))
	assert.True(t, slices.ContainsFunc(res.Points, func(p PointResult) bool {
		return p.Status == StatusNotRun && strings.Contains(p.Reason, "budget")
	}))
}

func TestExploreRefusesABaselineThatMissesItsSLOs(t *testing.T) {
	l, defs := testLab(t), testSLOs(t)
	fl := &fakeLab{t: t, fails: []string{"never"}, measured: map[string]bool{}, base: time.Now()}
	x := &Explorer{Lab: l, SLOs: defs, Run: fl.run, Traces: fakeTraces{ts: baselineTraces()}, Parse: parser(t, l, defs)}
	opts := Options{Experiment: Experiment{Journey: "checkout.js", Rate: 15, Baseline: 5 * time.Second, Fault: 5 * time.Second, Recovery: 5 * time.Second, Throughput: 0.8},
		BaselineFor: 10 * time.Second, Rules: Rules(), Budget: time.Hour, Dir: t.TempDir()}
	_, err := x.Explore(t.Context(), opts)
	require.ErrorIs(t, err, ErrBaseline)
	assert.Contains(t, err.Error(), "measured none of the lab's SLOs")

	x.Traces = fakeTraces{}
	fl.measured = map[string]bool{"items-availability": true}
	_, err = x.Explore(t.Context(), opts)
	require.ErrorIs(t, err, ErrBaseline)
	assert.Contains(t, err.Error(), "no trace of api")
	assert.Equal(t, []string{"explore-baseline", "explore-baseline"}, fl.ran, "no point runs without a usable baseline")
}

func TestSLOJudgedDuring(t *testing.T) {
	tests := []struct {
		name               string
		at, targets, procs []string
		during             bool
	}{
		{"not known: judges everything", nil, []string{"store"}, nil, true},
		{"measured at the entry", []string{"api"}, []string{"api"}, nil, true},
		{"measured at the faulted service only", []string{"store"}, []string{"store"}, nil, false},
		{"measured at another service", []string{"ledger"}, []string{"store"}, nil, true},
		{"measured at the faulted service and another", []string{"ledger", "store"}, []string{"store"}, nil, true},
		{"a pair on both of its services", []string{"ledger", "store"}, []string{"store", "ledger"}, nil, false},
		{"the entry killed or paused: its own metrics cannot see it", []string{"api"}, []string{"api"}, []string{"api"}, false},
		{"another process killed", []string{"api"}, []string{"store"}, []string{"store"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := SLO{Name: "x", At: tt.at}
			assert.Equal(t, tt.during, s.judgedDuring(tt.targets, tt.procs, "api"))
		})
	}
	assert.True(t, SLO{At: []string{"api"}}.atEntry("api"))
	assert.True(t, SLO{}.atEntry("api"), "not known: counted as the journey's")
	assert.False(t, SLO{At: []string{"store"}}.atEntry("api"))
}

// TestOwnSLOIsJudgedOnRecoveryOnly: a fault on store does not judge
// store's own SLO during the fault (it would measure the injected errors),
// only its recovery; the entry's SLO has the throughput check.
func TestOwnSLOIsJudgedOnRecoveryOnly(t *testing.T) {
	l, defs := testLab(t), testSLOs(t)
	sp, _ := testSpace(t)
	exp := Experiment{Journey: "checkout.js", Entry: "api", Rate: 15, Baseline: 5 * time.Second, Fault: 8 * time.Second, Recovery: 8 * time.Second, Throughput: 0.8,
		SLOs: []SLO{{Name: "items-availability", Objective: 0.99, Events: "sum(rate(x[$window]))", At: []string{"api"}},
			{Name: "catalog-latency", Objective: 0.95, Events: "sum(rate(y[$window]))", At: []string{"store"}}}}
	p := sp.Points[0]
	require.Equal(t, "store", p.Service)
	data, err := exp.File(p.Name(), "a point", []Point{p})
	require.NoError(t, err)
	sc, err := parser(t, l, defs)(p.Name()+".yaml", data)
	require.NoError(t, err, "%s", data)
	var slo, rec []string
	for _, c := range sc.Checks.SLO {
		slo = append(slo, c.Name)
	}
	for _, c := range sc.Checks.Recovery {
		rec = append(rec, c.Name)
	}
	assert.Equal(t, []string{"items-availability", "items-availability-throughput", ActedCheck}, slo)
	assert.Equal(t, []string{"items-availability-recovers", "catalog-latency-recovers"}, rec)
	assert.Contains(t, sc.Purpose, "catalog-latency measured only where the fault acts")
}

// fakeProm answers the placement query with the jobs of each selector.
type fakeProm map[string][]string

func (f fakeProm) Query(_ context.Context, q string, _ time.Time, _ ...promv1.Option) (model.Value, promv1.Warnings, error) {
	for sel, jobs := range f {
		if strings.Contains(q, sel) {
			var v model.Vector
			for _, j := range jobs {
				v = append(v, &model.Sample{Metric: model.Metric{"job": model.LabelValue(j)}, Value: 1})
			}
			return v, nil, nil
		}
	}
	return model.Vector{}, nil, nil
}

func TestClientBudget(t *testing.T) {
	slos := []SLO{{Name: "a", Objective: 0.99, At: []string{"api"}}, {Name: "b", Objective: 0.999, At: []string{"api"}}, {Name: "c", Objective: 0.9999, At: []string{"store"}}}
	assert.Equal(t, 0.001, clientBudget(slos, "api"), "the strictest SLO at the entry")
	assert.Equal(t, 0.01, clientBudget(slos[2:], "api"), "none at the entry")
}

func TestStatus(t *testing.T) {
	pass := journal.Check{Name: "slo", Outcome: journal.Pass, OnData: true}
	tests := []struct {
		name   string
		j      journal.Journal
		status string
	}{
		{"every check passed", journal.Journal{Checks: []journal.Check{pass}}, StatusPass},
		{"failed on data", journal.Journal{Checks: []journal.Check{pass, {Name: "x", Outcome: journal.Fail, OnData: true}}}, StatusFail},
		{"failed without data", journal.Journal{Checks: []journal.Check{pass, {Name: "x", Outcome: journal.Fail}}}, StatusInconclusive},
		{"passed without data", journal.Journal{Checks: []journal.Check{pass, {Name: "x", Outcome: journal.Pass}}}, StatusInconclusive},
		{"an invariant with nothing to examine", journal.Journal{Checks: []journal.Check{pass, {Name: "inv", Outcome: journal.Inconclusive, NothingToExamine: true}}}, StatusPass},
		{"an invariant that could not answer", journal.Journal{Checks: []journal.Check{pass, {Name: "inv", Outcome: journal.Inconclusive}}}, StatusInconclusive},
		{"only nothing to examine", journal.Journal{Checks: []journal.Check{{Name: "inv", Outcome: journal.Inconclusive, NothingToExamine: true}}}, StatusInconclusive},
		{"no checks", journal.Journal{}, StatusInconclusive},
		{"an error", journal.Journal{Verdict: journal.VerdictError, Error: "k6 died"}, StatusError},
		{"the fault acted", journal.Journal{Checks: []journal.Check{pass, {Name: ActedCheck, Outcome: journal.Pass, OnData: true}}}, StatusPass},
		{"the fault did not act: no pass", journal.Journal{Checks: []journal.Check{pass, {Name: ActedCheck, Outcome: journal.Fail, OnData: true}}}, StatusInconclusive},
		{"the fault did not act: no finding either", journal.Journal{Checks: []journal.Check{{Name: "slo", Outcome: journal.Fail, OnData: true}, {Name: ActedCheck, Outcome: journal.Fail, OnData: true}}}, StatusInconclusive},
		{"not known whether it acted", journal.Journal{Checks: []journal.Check{pass, {Name: ActedCheck, Outcome: journal.Inconclusive}}}, StatusInconclusive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := status(&tt.j)
			assert.Equal(t, tt.status, got, why)
		})
	}
}

// TestExplorePairs: after the single points, pairs of points that passed
// alone, on two services, run together, each as a scenario with both
// faults.
func TestExplorePairs(t *testing.T) {
	l, defs := testLab(t), testSLOs(t)
	fl := &fakeLab{t: t, fails: []string{"grpc_code=UNAVAILABLE", "grpc_code=INTERNAL", "grpc_code=DEADLINE_EXCEEDED", "latency=", "network", "process"},
		measured: map[string]bool{"items-availability": true}, base: time.Now()}
	x := &Explorer{Lab: l, SLOs: defs, Run: fl.run, Traces: fakeTraces{ts: baselineTraces(), fault: faultTraces(12), calls: new(int)}, Parse: parser(t, l, defs),
		Prometheus: fakeProm{`http_requests_total{route="POST /v1/items"}`: {"api"}}}
	// Everything fails alone but the INTERNAL on store and the UNAVAILABLE on ledger.
	fl.fails = []string{"request store " + put + " grpc_code=UNAVAILABLE", "DEADLINE_EXCEEDED", "latency=", "request ledger " + debit + " grpc_code=INTERNAL", "network", "process"}
	res, err := x.Explore(t.Context(), Options{
		Experiment:  Experiment{Journey: "checkout.js", Rate: 15, Baseline: 5 * time.Second, Fault: 8 * time.Second, Recovery: 8 * time.Second, Throughput: 0.8},
		BaselineFor: 15 * time.Second, Space: SpaceOptions{Probability: 0.1, Latency: time.Second, RestartAfter: time.Second},
		Rules: []string{RuleWeaker}, Pairs: 3, Budget: time.Hour, Dir: t.TempDir(),
	})
	require.NoError(t, err)
	var pairs []PointResult
	for _, p := range res.Points {
		if len(p.Points) == 2 {
			pairs = append(pairs, p)
		}
	}
	require.Len(t, pairs, 3, "-pairs bounds them")
	assert.Equal(t, "method store "+put+" INTERNAL + method ledger "+debit+" UNAVAILABLE", pairs[0].ID(), "in journey order")
	for _, p := range pairs {
		assert.NotEqual(t, p.Points[0].Service, p.Points[1].Service, "two services")
		for _, q := range p.Points {
			i := slices.IndexFunc(res.Points, func(r PointResult) bool { return r.ID() == q.ID })
			require.GreaterOrEqual(t, i, 0)
			assert.Equal(t, StatusPass, res.Points[i].Status, "each passed alone")
		}
		assert.LessOrEqual(t, len(p.Name), 64)
		assert.Contains(t, fl.ran, p.Name)
	}
}
