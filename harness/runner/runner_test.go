package runner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/checks"
	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/load"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/traces"
)

// events records what the runner did to the lab, in order.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, s)
}

func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.log...)
}

type fakeStack struct{ ev *events }

func (f fakeStack) Endpoints() stack.Endpoints {
	return stack.Endpoints{GatewayURL: "http://127.0.0.1:1", PrometheusURL: "http://127.0.0.1:2"}
}
func (f fakeStack) Signal(context.Context, string, syscall.Signal) error { return nil }
func (f fakeStack) Restart(_ context.Context, svc string, flags map[string]string) error {
	f.ev.add("restart behind the ledger's back " + svc + " " + formatFlags(flags))
	return nil
}

type fakeInjector struct {
	ev *events
	n  int
	// knobsErr fails ApplyKnobs for a service; restoreErr every RemoveKnobs.
	knobsErr   map[string]error
	restoreErr error
}

func (f *fakeInjector) ApplyKnobs(_ context.Context, runID, scenario, svc string, flags map[string]string) (faults.Knobs, error) {
	if err := f.knobsErr[svc]; err != nil {
		f.ev.add("knobs refused " + svc)
		return faults.Knobs{}, err
	}
	f.ev.add("restart " + svc + " " + formatFlags(flags))
	return faults.Knobs{ID: "k-" + svc, RunID: runID, Scenario: scenario, Service: svc, Flags: flags, AppliedAt: time.Now()}, nil
}

func (f *fakeInjector) RemoveKnobs(ctx context.Context, k faults.Knobs) error {
	if ctx.Err() != nil {
		f.ev.add("restore on a cancelled context " + k.Service)
		return ctx.Err()
	}
	f.ev.add("restore " + k.Service)
	return f.restoreErr
}

func (f *fakeInjector) Apply(_ context.Context, _, _, phase string, s faults.Spec) (faults.Applied, error) {
	f.n++
	f.ev.add("apply " + phase + " " + s.Target())
	return faults.Applied{ID: "f" + string(rune('0'+f.n)), Phase: phase, Spec: s, AppliedAt: time.Now()}, nil
}

func (f *fakeInjector) Remove(ctx context.Context, a faults.Applied) error {
	if ctx.Err() != nil {
		f.ev.add("remove on a cancelled context " + a.Spec.Target())
		return ctx.Err()
	}
	f.ev.add("remove " + a.Phase + " " + a.Spec.Target())
	return nil
}

// emptyProm answers every query with no data (the plots stay empty).
type emptyProm struct{}

func (emptyProm) Query(context.Context, string, time.Time, ...promv1.Option) (model.Value, promv1.Warnings, error) {
	return model.Vector{}, nil, nil
}

func (emptyProm) QueryRange(context.Context, string, promv1.Range, ...promv1.Option) (model.Value, promv1.Warnings, error) {
	return model.Matrix{}, nil, nil
}

func newRunner(t *testing.T, ev *events, loadFn func(context.Context, load.Options) (load.Result, error)) *Runner {
	t.Helper()
	return &Runner{
		Stack: fakeStack{ev}, Faults: &fakeInjector{ev: ev}, Prometheus: emptyProm{},
		ServiceOrder: []string{"cache", "ledger", "store", "api"},
		Load:         loadFn, RunID: "r1", ReportDir: t.TempDir(), StackName: "test",
		ScrapeInterval: 10 * time.Millisecond,
	}
}

// loadUntilDone is a load that runs until the runner's timeline ends it.
func loadUntilDone(ev *events) func(context.Context, load.Options) (load.Result, error) {
	return func(ctx context.Context, o load.Options) (load.Result, error) {
		ev.add("load start")
		var total time.Duration
		for _, p := range o.Phases {
			total += p.Duration
		}
		select {
		case <-time.After(time.Until(o.StartAt) + total):
		case <-ctx.Done():
			return load.Result{}, ctx.Err()
		}
		return load.Result{Load: journal.Load{Requests: 10}}, nil
	}
}

func twoPhases() *scenario.Scenario {
	return &scenario.Scenario{
		Name: "unit", Expect: scenario.ExpectPass,
		Knobs: []scenario.Knob{{Service: "store", Flag: "retries", Value: "false"}},
		Load:  scenario.LoadProfile{Script: "write.js", Executor: scenario.ConstantArrivalRate, Rate: 1},
		Phases: []scenario.Phase{
			{Name: "baseline", Duration: 200 * time.Millisecond},
			{Name: "fault", Duration: 300 * time.Millisecond, Faults: []faults.Spec{{Network: &faults.NetworkFault{
				Edge: "store->ledger", Toxic: "latency", Stream: "downstream", Toxicity: 1, Attributes: map[string]int64{"latency": 100},
			}}}},
		},
	}
}

func TestRunAppliesKnobsAndFaultsAndUndoesThem(t *testing.T) {
	ev := &events{}
	j := newRunner(t, ev, loadUntilDone(ev)).Run(t.Context(), twoPhases())

	require.Empty(t, j.Error)
	assert.Equal(t, []string{
		"restart store -retries=false",
		"load start",
		"apply fault store->ledger",
		"remove fault store->ledger",
		"restore store",
	}, ev.all())
	require.Len(t, j.Phases, 2)
	assert.Equal(t, "fault", j.Phases[1].Name)
	assert.InDelta(t, 300*time.Millisecond, j.Phases[1].End.Sub(j.Phases[1].Start), float64(100*time.Millisecond))
	require.Len(t, j.Faults, 1)
	assert.False(t, j.Faults[0].Removed.IsZero(), "the journal records the removal")
	assert.Equal(t, int64(10), j.Load.Requests)
	assert.Equal(t, journal.VerdictInconclusive, j.Verdict, "no checks: no verdict")
}

// Ctrl-C in the middle of a fault: the fault is removed and the knobs are
// restored before Run returns, and the journal says why it stopped.
func TestRunRollsBackOnCancellation(t *testing.T) {
	ev := &events{}
	ctx, cancel := context.WithCancel(t.Context())
	r := newRunner(t, ev, loadUntilDone(ev))
	go func() {
		for {
			for _, e := range ev.all() {
				if e == "apply fault store->ledger" {
					cancel()
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	j := r.Run(ctx, twoPhases())

	assert.Equal(t, journal.VerdictError, j.Verdict)
	assert.Contains(t, j.Error, "interrupted in phase fault")
	log := ev.all()
	assert.Contains(t, log, "remove fault store->ledger", "the fault is removed, on a context the cancellation did not end")
	assert.Equal(t, "restore store", log[len(log)-1], "knobs are restored last")
}

// A load that dies at once ends the run at once, with its error.
func TestRunStopsWhenTheLoadDies(t *testing.T) {
	ev := &events{}
	r := newRunner(t, ev, func(context.Context, load.Options) (load.Result, error) {
		return load.Result{}, errors.New("k6: script error")
	})
	start := time.Now()
	j := r.Run(t.Context(), twoPhases())
	assert.Less(t, time.Since(start), 2*time.Second+400*time.Millisecond, "does not wait out the phases")
	assert.Equal(t, journal.VerdictError, j.Verdict)
	assert.Contains(t, j.Error, "k6: script error")
	assert.Equal(t, "restore store", ev.all()[len(ev.all())-1])
}

// fakeChecks are a lab's checks: they record the settle wait and the
// invariants' input, and answer each invariant with a check of its own.
type fakeChecks struct {
	ev       *events
	settled  checks.Settled
	settleAt time.Time
	names    []string
	in       lab.RunInput
}

func (f *fakeChecks) Settle(context.Context) checks.Settled {
	f.ev.add("settle")
	f.settleAt = time.Now()
	return f.settled
}

func (f *fakeChecks) Invariants(_ context.Context, names []string, in lab.RunInput) []journal.Check {
	f.ev.add("invariants")
	f.names, f.in = names, in
	out := make([]journal.Check, len(names))
	for i, n := range names {
		out[i] = journal.Check{Name: n, Kind: journal.KindInvariant, Outcome: journal.Pass, OnData: true, Detail: "all 3 examined"}
	}
	return out
}

// loadWithAcks is a load that acknowledges two writes and accepts one.
func loadWithAcks(ev *events) func(context.Context, load.Options) (load.Result, error) {
	return func(ctx context.Context, o load.Options) (load.Result, error) {
		if _, err := loadUntilDone(ev)(ctx, o); err != nil {
			return load.Result{}, err
		}
		return load.Result{
			Load:     journal.Load{Requests: 3, Acked: 2},
			Acked:    []load.Ack{{OrderID: "o1", Key: "r1-unit-1"}, {OrderID: "o2", Key: "r1-unit-2"}},
			Accepted: []load.Ack{{OrderID: "o3", Key: "r1-unit-3"}},
		}, nil
	}
}

// After the load the runner waits for the lab to settle, then gives the
// lab's invariants the run: its writes, from its start to the settle's
// end.
func TestRunSettlesThenChecksTheLabsInvariants(t *testing.T) {
	tests := []struct {
		name     string
		settled  checks.Settled
		progress string
	}{
		{name: "settled", settled: checks.Settled{Probed: true, Waited: time.Millisecond, Timeout: time.Second}},
		{name: "not settled", settled: checks.Settled{Probed: true, Pending: 2, Detail: "2 store PENDING", Timeout: time.Second},
			progress: "not settled after 1s: 2 pending (2 store PENDING)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &events{}
			r := newRunner(t, ev, loadWithAcks(ev))
			fc := &fakeChecks{ev: ev, settled: tt.settled}
			r.Checks = fc
			var progress strings.Builder
			r.Progress = &progress
			sc := twoPhases()
			sc.Checks.Invariants = []scenario.Invariant{"no_double_charge", "no_lost_orders"}
			j := r.Run(t.Context(), sc)

			require.Empty(t, j.Error)
			assert.Equal(t, []string{"remove fault store->ledger", "settle", "invariants", "restore store"}, ev.all()[3:],
				"settle after the load, the invariants after the settle, the knobs restored last")
			assert.Equal(t, []string{"no_double_charge", "no_lost_orders"}, fc.names)
			assert.Equal(t, lab.RunInput{
				RunID: "r1", Scenario: "unit", Since: j.Started, Until: fc.in.Until,
				Acked:    []lab.Write{{ID: "o1", Key: "r1-unit-1"}, {ID: "o2", Key: "r1-unit-2"}},
				Accepted: []lab.Write{{ID: "o3", Key: "r1-unit-3"}},
			}, fc.in)
			assert.False(t, fc.in.Until.Before(fc.settleAt), "until is after the settle")
			assert.True(t, fc.in.Until.Before(j.Finished))
			require.Len(t, j.Checks, 2)
			assert.Equal(t, "no_double_charge", j.Checks[0].Name)
			assert.Equal(t, journal.AsExpected, j.Verdict, j.VerdictReason)
			if tt.progress != "" {
				assert.Contains(t, progress.String(), tt.progress)
			} else {
				assert.NotContains(t, progress.String(), "not settled", "a lab that settled is not mentioned")
			}
		})
	}
}

// Without the lab's checks there is no settle wait, and an invariant a
// scenario asks for examined nothing: it never passes.
func TestRunWithoutChecksLeavesInvariantsInconclusive(t *testing.T) {
	ev := &events{}
	sc := twoPhases()
	sc.Checks.Invariants = []scenario.Invariant{"no_lost_orders"}
	j := newRunner(t, ev, loadWithAcks(ev)).Run(t.Context(), sc)
	require.Empty(t, j.Error)
	require.Len(t, j.Checks, 1)
	assert.Equal(t, journal.Inconclusive, j.Checks[0].Outcome)
	assert.Equal(t, journal.VerdictInconclusive, j.Verdict)
	assert.NotContains(t, ev.all(), "settle")
}

// rangeProm records the range queries (the plots) and answers each with
// one sample.
type rangeProm struct {
	emptyProm
	mu      sync.Mutex
	queries []string
}

func (p *rangeProm) QueryRange(_ context.Context, q string, rg promv1.Range, _ ...promv1.Option) (model.Value, promv1.Warnings, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queries = append(p.queries, q)
	return model.Matrix{{Values: []model.SamplePair{{Timestamp: model.TimeFromUnixNano(rg.Start.UnixNano()), Value: 0.5}}}}, nil, nil
}

// The report draws the lab's plots for the scenario's script.
func TestRunSamplesTheLabsPlotsForItsScript(t *testing.T) {
	plots := []lab.Plot{
		{Name: "p99 latency POST /v1/items", Unit: "s", Query: "q_orders_p99", Scripts: []string{"write.js", "baseline.js"}},
		{Name: "p99 latency GET /v1/products", Unit: "s", Query: "q_products_p99", Scripts: []string{"products.js"}},
		{Name: "throughput", Unit: "req/s", Query: "q_throughput"},
	}
	tests := []struct {
		script      string
		wantQueries []string
		wantSeries  []string
	}{
		{"write.js", []string{"q_orders_p99", "q_throughput"}, []string{"p99 latency POST /v1/items", "throughput"}},
		{"products.js", []string{"q_products_p99", "q_throughput"}, []string{"p99 latency GET /v1/products", "throughput"}},
		{"soak.js", []string{"q_throughput"}, []string{"throughput"}},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			ev := &events{}
			r := newRunner(t, ev, loadUntilDone(ev))
			prom := &rangeProm{}
			r.Prometheus, r.Plots = prom, plots
			sc := twoPhases()
			sc.Load.Script = tt.script
			j := r.Run(t.Context(), sc)
			require.Empty(t, j.Error)
			assert.ElementsMatch(t, tt.wantQueries, prom.queries, "every plot of the script is sampled (at once: in any order)")
			var names []string
			for _, s := range j.Series {
				names = append(names, s.Name)
				assert.NotEmpty(t, s.Points, s.Name)
			}
			assert.Equal(t, tt.wantSeries, names)
		})
	}
}

func withKnobs(sc *scenario.Scenario, knobs ...scenario.Knob) *scenario.Scenario {
	sc.Knobs = knobs
	return sc
}

// Knobs go through the injector (and its ledger), in dependency order, and
// only those applied are restored; a knob the injector refuses ends the
// run before the load.
func TestRunKnobsGoThroughTheLedger(t *testing.T) {
	knobs := []scenario.Knob{
		{Service: "store", Flag: "retries", Value: "false"},
		{Service: "api", Flag: "rate-limit", Value: "5"},
		{Service: "cache", Flag: "latency", Value: "1ms"},
	}
	t.Run("applied and restored", func(t *testing.T) {
		ev := &events{}
		j := newRunner(t, ev, loadUntilDone(ev)).Run(t.Context(), withKnobs(twoPhases(), knobs...))
		require.Empty(t, j.Error)
		assert.Equal(t, []string{
			"restart cache -latency=1ms",
			"restart store -retries=false",
			"restart api -rate-limit=5",
			"load start",
			"apply fault store->ledger",
			"remove fault store->ledger",
			"restore cache",
			"restore store",
			"restore api",
		}, ev.all())
	})
	t.Run("refused", func(t *testing.T) {
		ev := &events{}
		r := newRunner(t, ev, loadUntilDone(ev))
		r.Faults.(*fakeInjector).knobsErr = map[string]error{"store": errors.New("store: not ready")}
		j := r.Run(t.Context(), withKnobs(twoPhases(), knobs...))
		assert.Equal(t, journal.VerdictError, j.Verdict)
		assert.Contains(t, j.Error, "applying knobs to store: store: not ready")
		assert.Equal(t, []string{
			"restart cache -latency=1ms",
			"knobs refused store",
			"restore cache",
		}, ev.all(), "the injector undoes what it refused; the runner restores what it applied")
	})
	t.Run("not restored", func(t *testing.T) {
		ev := &events{}
		r := newRunner(t, ev, loadUntilDone(ev))
		r.Faults.(*fakeInjector).restoreErr = errors.New("store: exited during start")
		j := r.Run(t.Context(), twoPhases())
		assert.Equal(t, journal.VerdictError, j.Verdict)
		assert.Contains(t, j.Error, "restoring store's defaults (run `chaoslab clean`): store: exited during start")
	})
}

// valueProm answers every instant query with one value.
type valueProm struct{ v float64 }

func (p valueProm) Query(context.Context, string, time.Time, ...promv1.Option) (model.Value, promv1.Warnings, error) {
	return model.Vector{{Value: model.SampleValue(p.v)}}, nil, nil
}

func (valueProm) QueryRange(context.Context, string, promv1.Range, ...promv1.Option) (model.Value, promv1.Warnings, error) {
	return model.Matrix{}, nil, nil
}

// A sensitivity run injects nothing: the faults are recorded as no-ops over
// their phase, the knobs still apply, and the scenario must fail on data —
// a check that still passes without the fault makes it insensitive.
func TestSensitivityRunInjectsNothingAndExpectsAFailureOnData(t *testing.T) {
	tests := []struct {
		name        string
		value       float64 // what the check's query measures in the fault phase
		wantVerdict string
		wantReason  string
	}{
		{name: "a check notices the missing fault", value: 0.01, wantVerdict: journal.AsExpected},
		{name: "every check passes without the fault", value: 0.2, wantVerdict: journal.Unexpected, wantReason: "insensitive: every check passed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &events{}
			r := newRunner(t, ev, loadUntilDone(ev))
			r.Sensitivity = true
			r.Prometheus = valueProm{tt.value}
			sc := twoPhases()
			// The latency must move the median by 50 ms; without it it stays.
			obj, err := scenario.ParseObjective(">= 0.05")
			require.NoError(t, err)
			sc.Checks.SLO = []scenario.SLOCheck{{Name: "median-moves", Phase: "fault", Query: "m[$window]", Objective: obj, OnEmpty: scenario.Fail}}
			j := r.Run(t.Context(), sc)

			require.Empty(t, j.Error)
			assert.Equal(t, []string{"restart store -retries=false", "load start", "restore store"}, ev.all(), "knobs apply, no fault is injected")
			assert.True(t, j.Sensitivity)
			assert.Equal(t, journal.Fail, j.Expect, "a sensitivity run expects a failure on data")
			require.Len(t, j.Faults, 1)
			f := j.Faults[0]
			assert.True(t, f.NoOp)
			assert.Equal(t, "fault", f.Phase)
			assert.Equal(t, "store->ledger", f.Target)
			assert.False(t, f.Applied.IsZero())
			assert.InDelta(t, 300*time.Millisecond, f.Removed.Sub(f.Applied), float64(150*time.Millisecond), "recorded over its phase")
			assert.Equal(t, tt.wantVerdict, j.Verdict, j.VerdictReason)
			if tt.wantReason != "" {
				assert.Contains(t, j.VerdictReason, tt.wantReason)
			}
		})
	}
}

// scrapingProm is Prometheus' targets API: it has scraped store only from
// its from-th answer on (third by default), each time at the moment it
// answers.
type scrapingProm struct {
	ev    *events
	from  int
	mu    sync.Mutex
	calls int
}

func (p *scrapingProm) Targets(context.Context) (promv1.TargetsResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	last := time.Now().Add(-time.Hour) // a scrape of the process before the restart
	if p.calls >= max(p.from, 3) {
		last = time.Now()
		if p.calls == max(p.from, 3) {
			p.ev.add("scraped store")
		}
	}
	return promv1.TargetsResult{Active: []promv1.ActiveTarget{{
		Labels: model.LabelSet{"job": "store"}, Health: promv1.HealthGood, LastScrape: last,
	}}}, nil
}

// Ready means observed: after restarting a service for its knobs, the
// scenario's timeline starts only once Prometheus has scraped the new
// process, and so does the next scenario's after the defaults are
// restored. The wait runs while k6 starts up; when Prometheus has not
// scraped the service shortly before the origin, k6 is stopped before its
// load and started again once it has.
func TestRunWaitsUntilRestartedServicesAreScraped(t *testing.T) {
	tests := []struct {
		name string
		// from is the targets API's answer from which store is scraped
		// (one every stack.ScrapePoll).
		from       int
		wantEvents []string
		restarted  bool
	}{
		{"scraped while k6 starts", 3, []string{"restart store -retries=false", "load start", "scraped store", "apply fault store->ledger"}, false},
		{"scraped after the origin was due: k6 starts again", 9, []string{"restart store -retries=false", "load start", "load stop", "scraped store", "load start", "apply fault store->ledger"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &events{}
			var starts []time.Time
			var mu sync.Mutex
			r := newRunner(t, ev, func(ctx context.Context, o load.Options) (load.Result, error) {
				mu.Lock()
				starts = append(starts, o.StartAt)
				mu.Unlock()
				defer ev.add("load stop")
				return loadUntilDone(ev)(ctx, o)
			})
			r.StartLead = 500 * time.Millisecond
			prom := &scrapingProm{ev: ev, from: tt.from}
			r.Targets = prom
			j := r.Run(t.Context(), twoPhases())
			require.Empty(t, j.Error)
			log := ev.all()
			require.GreaterOrEqual(t, len(log), len(tt.wantEvents))
			assert.Equal(t, tt.wantEvents, log[:len(tt.wantEvents)])
			require.NotEmpty(t, starts)
			assert.True(t, j.Phases[0].Start.After(starts[len(starts)-1].Add(-50*time.Millisecond)), "the timeline starts at the last k6's origin")
			if tt.restarted {
				require.Len(t, starts, 2)
				assert.Positive(t, j.Harness.Observed, "the wait beyond k6's lead")
			} else {
				require.Len(t, starts, 1)
				assert.Zero(t, j.Harness.Observed, "within k6's lead")
			}

			// The restore at the end restarted store: the next scenario
			// waits again, while its k6 starts.
			before := len(ev.all())
			prom.mu.Lock()
			prom.calls, prom.from = 0, 3
			prom.mu.Unlock()
			sc := twoPhases()
			sc.Knobs = nil
			j = r.Run(t.Context(), sc)
			require.Empty(t, j.Error)
			assert.Equal(t, []string{"load start", "scraped store"}, ev.all()[before:before+2])
		})
	}
}

func TestRestartOrder(t *testing.T) {
	order := []string{"cache", "ledger", "store", "api"}
	knobs := func(services ...string) map[string]map[string]string {
		out := map[string]map[string]string{}
		for _, s := range services {
			out[s] = map[string]string{"retries": "false"}
		}
		return out
	}
	tests := []struct {
		name  string
		order []string
		knobs map[string]map[string]string
		want  []string
	}{
		{"dependencies first", order, knobs("api", "cache", "store"), []string{"cache", "store", "api"}},
		{"none", order, knobs(), nil},
		{"a service the order does not know goes last", order, knobs("store", "reports", "audit"), []string{"store", "audit", "reports"}},
		{"no order: by name", nil, knobs("store", "api"), []string{"api", "store"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, restartOrder(tt.order, tt.knobs))
		})
	}
}

// A knob that restates the lab's default is in effect already: a service
// whose knobs all do is not restarted (nor restored), and the journal says
// which knobs were defaults; one knob that is not restarts the service
// with all of them.
func TestRunDoesNotRestartForKnobsAtTheLabsDefaults(t *testing.T) {
	defaults := map[string]string{"store/retries": "true", "store/call-timeout": "1s", "api/rate-limit": "1000"}
	isDefault := func(svc, flag, value string) bool { return defaults[svc+"/"+flag] == value }
	tests := []struct {
		name        string
		knobs       []scenario.Knob
		wantEvents  []string
		wantDefault []bool
	}{
		{
			name:        "every knob a default",
			knobs:       []scenario.Knob{{Service: "store", Flag: "retries", Value: "true"}, {Service: "store", Flag: "call-timeout", Value: "1s"}},
			wantEvents:  []string{"load start", "apply fault store->ledger", "remove fault store->ledger"},
			wantDefault: []bool{true, true},
		},
		{
			name:        "one knob changes a flag",
			knobs:       []scenario.Knob{{Service: "store", Flag: "retries", Value: "false"}, {Service: "store", Flag: "call-timeout", Value: "1s"}},
			wantEvents:  []string{"restart store -call-timeout=1s -retries=false", "load start", "apply fault store->ledger", "remove fault store->ledger", "restore store"},
			wantDefault: []bool{false, true},
		},
		{
			name:        "two services, one at its defaults",
			knobs:       []scenario.Knob{{Service: "api", Flag: "rate-limit", Value: "1000"}, {Service: "store", Flag: "retries", Value: "false"}},
			wantEvents:  []string{"restart store -retries=false", "load start", "apply fault store->ledger", "remove fault store->ledger", "restore store"},
			wantDefault: []bool{true, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &events{}
			r := newRunner(t, ev, loadUntilDone(ev))
			r.IsDefault = isDefault
			j := r.Run(t.Context(), withKnobs(twoPhases(), tt.knobs...))
			require.Empty(t, j.Error)
			assert.Equal(t, tt.wantEvents, ev.all())
			require.Len(t, j.Knobs, len(tt.knobs))
			for i, k := range j.Knobs {
				assert.Equal(t, tt.wantDefault[i], k.Default, "%s/%s", k.Service, k.Flag)
			}
		})
	}
}

// targetsServer is Prometheus' targets API on a real listener: every
// target of job store was last scraped at scrapedAt().
func targetsServer(t *testing.T, scrapedAt func() time.Time) stack.TargetsQuerier {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/targets" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"success","data":{"activeTargets":[`+
			`{"labels":{"job":"store"},"scrapePool":"store","scrapeUrl":"http://127.0.0.1:1/metrics","health":"up","lastScrape":%q},`+
			`{"labels":{"job":"prometheus"},"scrapePool":"prometheus","scrapeUrl":"http://127.0.0.1:2/metrics","health":"up","lastScrape":"2000-01-01T00:00:00Z"}`+
			`],"droppedTargets":[]}}`, scrapedAt().UTC().Format(time.RFC3339Nano))
	}))
	t.Cleanup(srv.Close)
	q, err := stack.NewTargetsQuerier(srv.URL)
	require.NoError(t, err)
	return q
}

// Before evaluating, the runner waits until Prometheus has scraped every
// service since the lab settled — no longer than two scrape intervals, and
// not the whole two when the scrape comes sooner. Jobs that are not the
// lab's services (prometheus itself) do not count.
func TestWaitLastScrape(t *testing.T) {
	const scrape = 400 * time.Millisecond
	tests := []struct {
		name string
		// scrapeAfter is when, after the settle, Prometheus scrapes store
		// (negative: never again).
		scrapeAfter time.Duration
		min, max    time.Duration
	}{
		{name: "scraped soon", scrapeAfter: 150 * time.Millisecond, min: 150 * time.Millisecond, max: 150*time.Millisecond + 2*lastScrapePoll + lastScrapeGrace + 100*time.Millisecond},
		{name: "never scraped again: two intervals", scrapeAfter: -1, min: 2 * scrape, max: 2*scrape + 150*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settled := time.Now()
			r := &Runner{ServiceOrder: []string{"store", "api"}}
			r.Targets = targetsServer(t, func() time.Time {
				if tt.scrapeAfter >= 0 && time.Since(settled) >= tt.scrapeAfter {
					return settled.Add(tt.scrapeAfter)
				}
				return settled.Add(-300 * time.Millisecond)
			})
			require.NoError(t, r.waitLastScrape(t.Context(), settled, settled.Add(2*scrape)))
			took := time.Since(settled)
			assert.GreaterOrEqual(t, took, tt.min)
			assert.Less(t, took, tt.max)
		})
	}
	t.Run("without a targets API: two intervals", func(t *testing.T) {
		start := time.Now()
		require.NoError(t, (&Runner{ServiceOrder: []string{"store"}}).waitLastScrape(t.Context(), start, start.Add(200*time.Millisecond)))
		assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		r := &Runner{ServiceOrder: []string{"store"}, Targets: targetsServer(t, func() time.Time { return time.Time{} })}
		assert.ErrorIs(t, r.waitLastScrape(ctx, time.Now(), time.Now().Add(time.Second)), context.Canceled)
	})
}

func TestScrapedAfter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	target := func(job string, last time.Time, health promv1.HealthStatus) promv1.ActiveTarget {
		return promv1.ActiveTarget{Labels: model.LabelSet{"job": model.LabelValue(job)}, LastScrape: last, Health: health}
	}
	tests := []struct {
		name   string
		active []promv1.ActiveTarget
		want   bool
	}{
		{"every service target after", []promv1.ActiveTarget{target("store", t0.Add(time.Millisecond), promv1.HealthGood), target("api", t0.Add(time.Second), promv1.HealthGood)}, true},
		{"one before", []promv1.ActiveTarget{target("store", t0.Add(time.Millisecond), promv1.HealthGood), target("api", t0, promv1.HealthGood)}, false},
		{"a down target scraped after counts", []promv1.ActiveTarget{target("store", t0.Add(time.Millisecond), promv1.HealthBad)}, true},
		{"other jobs do not count", []promv1.ActiveTarget{target("store", t0.Add(time.Millisecond), promv1.HealthGood), target("k6", t0.Add(-time.Hour), promv1.HealthGood)}, true},
		{"no service target at all", []promv1.ActiveTarget{target("k6", t0.Add(time.Hour), promv1.HealthGood)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, scrapedAfter(tt.active, []string{"store", "api"}, t0))
		})
	}
}

// gateProm holds every instant query until n are in flight at once: the
// checks are evaluated concurrently, or none returns before the timeout.
type gateProm struct {
	emptyProm
	n       int
	mu      sync.Mutex
	waiting int
	all     chan struct{}
}

func (p *gateProm) Query(ctx context.Context, q string, _ time.Time, _ ...promv1.Option) (model.Value, promv1.Warnings, error) {
	p.mu.Lock()
	p.waiting++
	if p.waiting == p.n {
		close(p.all)
	}
	p.mu.Unlock()
	select {
	case <-p.all:
	case <-time.After(3 * time.Second):
		return nil, nil, errors.New("alone: the checks ran one after the other")
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	return model.Vector{{Value: 1}}, nil, nil
}

// The checks are evaluated at once (bounded) and recorded in the
// scenario's order.
func TestRunEvaluatesChecksConcurrentlyInOrder(t *testing.T) {
	ev := &events{}
	r := newRunner(t, ev, loadUntilDone(ev))
	r.Prometheus = &gateProm{n: checkParallelism, all: make(chan struct{})}
	sc := twoPhases()
	obj, err := scenario.ParseObjective(">= 1")
	require.NoError(t, err)
	var want []string
	for i := range checkParallelism + 2 {
		name := fmt.Sprintf("check-%d", i)
		want = append(want, name)
		sc.Checks.SLO = append(sc.Checks.SLO, scenario.SLOCheck{Name: name, Phase: []string{"baseline", "fault"}[i%2], Query: "q[$window]", Objective: obj, OnEmpty: scenario.Fail})
	}
	j := r.Run(t.Context(), sc)
	require.Empty(t, j.Error)
	var got []string
	for _, c := range j.Checks {
		got = append(got, c.Name)
		assert.Equal(t, journal.Pass, c.Outcome, "%s: %s", c.Name, c.Detail)
	}
	assert.Equal(t, want, got)
}

// k6 gets the start lead before the timeline's origin; one that starts its
// load late anyway is recorded, and the scenarios after it get a longer
// lead (bounded).
func TestRunStartLeadGrowsAfterALateK6(t *testing.T) {
	ev := &events{}
	var leads []time.Duration
	late := 300 * time.Millisecond
	r := newRunner(t, ev, func(ctx context.Context, o load.Options) (load.Result, error) {
		leads = append(leads, time.Until(o.StartAt))
		res, err := loadUntilDone(ev)(ctx, o)
		res.Origin, res.Started = o.StartAt, o.StartAt.Add(late)
		return res, err
	})
	r.StartLead = 100 * time.Millisecond
	sc := twoPhases()
	sc.Knobs = nil
	j := r.Run(t.Context(), sc)
	require.Empty(t, j.Error)
	require.NotNil(t, j.Harness)
	assert.InDelta(t, late.Seconds(), j.Harness.K6Late, 0.001)
	assert.InDelta(t, 0.1, j.Harness.StartOffset, 0.001)

	late = 0
	j = r.Run(t.Context(), sc)
	require.Empty(t, j.Error)
	assert.Zero(t, j.Harness.K6Late, "on time")
	assert.InDelta(t, 0.8, j.Harness.StartOffset, 0.001, "2 × (lead + lateness)")
	require.Len(t, leads, 2)
	assert.InDelta(t, 100*time.Millisecond, leads[0], float64(30*time.Millisecond))
	assert.InDelta(t, 800*time.Millisecond, leads[1], float64(30*time.Millisecond))

	r.lead = maxStartLead
	late = time.Second
	j = r.Run(t.Context(), sc)
	require.Empty(t, j.Error)
	assert.Equal(t, maxStartLead, r.lead, "the lead is bounded")
}

// The journal says what the harness spent its time on, and the overhead is
// the run beyond its phases.
func TestRunRecordsTheHarnessTimes(t *testing.T) {
	ev := &events{}
	r := newRunner(t, ev, loadUntilDone(ev))
	r.Checks = &fakeChecks{ev: ev, settled: checks.Settled{Probed: true}}
	j := r.Run(t.Context(), twoPhases())
	require.Empty(t, j.Error)
	h := j.Harness
	require.NotNil(t, h)
	assert.InDelta(t, defaultStartLead.Seconds(), h.StartOffset, 0.001)
	assert.Positive(t, h.LastScrape, "without a targets API it waits two scrape intervals")
	assert.GreaterOrEqual(t, h.LastScrape, (2 * r.ScrapeInterval).Seconds())
	assert.Positive(t, h.Restore, "store's defaults were restored")
	sum := h.Knobs + h.Observed + h.StartOffset + h.LoadTail + h.Settle + h.LastScrape + h.Checks + h.Series + h.Restore
	assert.InDelta(t, j.Overhead().Seconds(), sum, 0.1, "the steps add up to the overhead")
	assert.InDelta(t, 0.5, j.PhaseTime().Seconds(), 0.05)
}

// timedFinder is Jaeger: it records when it was asked, and finds nothing.
type timedFinder struct {
	mu    sync.Mutex
	asked []time.Time
}

func (f *timedFinder) Find(context.Context, traces.Query) ([]traces.Trace, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, time.Now())
	return nil, nil
}

// The trace checks query Jaeger once the services have exported their
// last spans: the lab's span flush after the settle, or, when it does not
// say, the wait the runner always made (two scrape intervals); the other
// checks need not wait for it.
func TestRunQueriesTracesAfterTheSpanFlush(t *testing.T) {
	tests := []struct {
		name      string
		scrape    time.Duration
		spanFlush time.Duration
		want      time.Duration
	}{
		{"no span flush: two scrape intervals", 300 * time.Millisecond, 0, 600 * time.Millisecond},
		{"the lab's span flush, shorter than two intervals", time.Second, 150 * time.Millisecond, 150 * time.Millisecond},
		{"the lab's span flush, longer than two intervals", 100 * time.Millisecond, 700 * time.Millisecond, 700 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &events{}
			r := newRunner(t, ev, loadUntilDone(ev))
			r.ScrapeInterval, r.SpanFlush = tt.scrape, tt.spanFlush
			r.Targets = targetsServer(t, time.Now) // scraped: the last-scrape wait ends at once
			fc := &fakeChecks{ev: ev, settled: checks.Settled{Probed: true}}
			r.Checks = fc
			f := &timedFinder{}
			r.Traces = f
			sc := twoPhases()
			sc.Checks.Traces = []scenario.TraceCheck{{Name: "spans", Phase: "baseline", Service: "api", MinTraces: 1}}
			j := r.Run(t.Context(), sc)
			require.Empty(t, j.Error)
			require.Len(t, f.asked, 1)
			waited := f.asked[0].Sub(fc.settleAt)
			assert.GreaterOrEqual(t, waited, tt.want)
			assert.Less(t, waited, tt.want+800*time.Millisecond, "the flush, not two scrape intervals")
			require.Len(t, j.Checks, 1)
			assert.Equal(t, journal.Inconclusive, j.Checks[0].Outcome, "no traces found")
		})
	}
}

// timedProm is Prometheus' query API: it records when each instant query
// was asked and for which instant, and answers with one sample.
type timedProm struct {
	mu    sync.Mutex
	asked []time.Time
	ts    []time.Time
}

func (p *timedProm) Query(_ context.Context, _ string, ts time.Time, _ ...promv1.Option) (model.Value, promv1.Warnings, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked, p.ts = append(p.asked, time.Now()), append(p.ts, ts)
	return model.Vector{{Value: 1}}, nil, nil
}

func (p *timedProm) QueryRange(context.Context, string, promv1.Range, ...promv1.Option) (model.Value, promv1.Warnings, error) {
	return model.Matrix{}, nil, nil
}

// The runner waits for every service's first scrape after the settle, not
// for one after the last phase's end plus an interval: an SLO check on the
// last phase is evaluated at that instant and waits for it itself, so the
// same samples are read without the runner's wait taking up to an interval
// more.
func TestRunWaitsForTheScrapeAfterTheSettleAndSLOChecksForTheirInstant(t *testing.T) {
	const scrape = 400 * time.Millisecond
	ev := &events{}
	r := newRunner(t, ev, loadUntilDone(ev))
	r.ScrapeInterval = scrape
	prom := &timedProm{}
	r.Prometheus = prom
	r.Targets = targetsServer(t, time.Now) // every service scraped the moment it is asked
	sc := twoPhases()
	sc.Knobs = nil
	obj, err := scenario.ParseObjective(">= 1")
	require.NoError(t, err)
	sc.Checks.SLO = []scenario.SLOCheck{{Name: "last", Phase: "fault", Query: "up", Objective: obj}}
	j := r.Run(t.Context(), sc)
	require.Empty(t, j.Error)
	require.Len(t, j.Checks, 1)
	assert.Equal(t, journal.Pass, j.Checks[0].Outcome, j.Checks[0].Detail)

	end := j.Phases[len(j.Phases)-1].End
	assert.Less(t, j.Harness.LastScrape, (scrape / 2).Seconds(), "the first scrape after the settle ends the wait")
	require.NotEmpty(t, prom.ts)
	assert.True(t, prom.ts[0].Equal(end.Add(scrape)), "evaluated at the phase's end plus an interval: %s", prom.ts[0].Sub(end))
	assert.False(t, prom.asked[0].Before(end.Add(scrape)), "not asked before that instant: %s after the end", prom.asked[0].Sub(end))
}
