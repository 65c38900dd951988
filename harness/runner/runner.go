// Package runner runs scenarios against a lab: it applies the scenario's
// service knobs, starts the k6 load across the phase timeline, applies each
// phase's faults at its start and removes them at its end (always: on error
// and on Ctrl-C too), waits for the lab to settle (its settle probe),
// evaluates every check (SLOs in Prometheus, recovery, traces in Jaeger, the
// lab's data invariants, k6's own thresholds), restores the knobs, and
// writes the journal and reports, with the lab's plots.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/checks"
	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/load"
	"github.com/chaoslab/chaoslab/harness/report"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/slo"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/tracecheck"
)

// injector applies and removes faults, and restarts services with knobs
// and with their defaults again (faults.Injector): both through the fault
// ledger, so that a crashed run leaves nothing `chaoslab clean` cannot undo.
type injector interface {
	Apply(ctx context.Context, runID, scenario, phase string, s faults.Spec) (faults.Applied, error)
	Remove(ctx context.Context, a faults.Applied) error
	ApplyKnobs(ctx context.Context, runID, scenario, service string, flags map[string]string) (faults.Knobs, error)
	RemoveKnobs(ctx context.Context, k faults.Knobs) error
}

// labChecks are the lab's settle probe and data invariants (checks.Set).
type labChecks interface {
	// Settle waits until the lab's in-flight work has finished, or its
	// settle timeout.
	Settle(ctx context.Context) checks.Settled
	// Invariants evaluates the invariants names over the run in, one check
	// each in that order.
	Invariants(ctx context.Context, names []string, in lab.RunInput) []journal.Check
}

// Runner runs scenarios on one lab.
type Runner struct {
	// Stack is the lab: its endpoints.
	Stack stack.Stack
	// Faults applies and removes faults, through the ledger.
	Faults injector
	// Prometheus and Traces are what the SLO, recovery and trace checks
	// read.
	Prometheus slo.Querier
	Traces     tracecheck.Finder
	// Checks are the lab's settle probe and invariants; nil: no settle
	// wait, and every invariant a scenario asks for is inconclusive.
	Checks labChecks
	// Plots are the series the report draws (the lab's); each scenario
	// gets those for its script (lab.Plot.ForScript).
	Plots []lab.Plot
	// ServiceOrder is the lab's services, dependencies first
	// (lab.StartOrder): the order knob restarts happen in.
	ServiceOrder []string
	// Load runs k6 (load.Run).
	Load func(context.Context, load.Options) (load.Result, error)
	// K6 is the k6 binary; LoadtestsDir holds the scripts.
	K6, LoadtestsDir string
	// Token is the load's bearer token (TOKEN; empty: none).
	Token string
	// ScriptEnv is the rest of the scripts' environment: the lab's
	// load.env and what its auth provider gives them (TOKEN_URL, …).
	ScriptEnv map[string]string
	// RunID names the run; ReportDir is reports/chaos/<RunID>.
	RunID, ReportDir string
	// StackName is recorded in the journal ("local", "compose").
	StackName string
	// ResolveSLO maps an SLO name of a check to its PromQL (nil: none).
	ResolveSLO func(name string) (string, error)
	// Progress receives the running commentary (nil: discarded).
	Progress io.Writer
	// Targets, when set, is Prometheus' targets API: before its load
	// starts, a scenario waits until every service the runner restarted
	// (its knobs, or the previous scenario's restore of the defaults) has
	// been scraped since, so that its first seconds are measured.
	Targets stack.TargetsQuerier
	// restartedAt is when the runner last restarted each service and
	// Prometheus has not been seen scraping it since.
	restartedAt map[string]time.Time
	// Sensitivity makes every run a sensitivity run: each fault is recorded
	// at its phase's start and end (journal.Fault.NoOp) but nothing is
	// injected, and the scenario is expected to fail on data — one of its
	// checks must notice that the fault did nothing. Knobs still apply.
	Sensitivity bool
	// ScrapeInterval is Prometheus' interval (default 1s). SLO checks are
	// evaluated one interval after their phase's end (slo.EvalLag). Before
	// evaluating, the runner waits until Prometheus has begun a scrape of
	// every service since the lab settled (through Targets), two intervals
	// after the settle at most; without Targets, those two intervals. An
	// SLO check waits for its own instant (see waitLastScrape).
	ScrapeInterval time.Duration
	// SpanFlush is how long after the lab settled the trace checks wait
	// before they query Jaeger: the longest the services take to export a
	// finished span (lab.Telemetry.SpanFlush; default two scrape
	// intervals).
	SpanFlush time.Duration
	// IsDefault reports whether value is the lab's default of service's
	// knob flag (lab.Knob.Default, compared in the flag's canonical
	// syntax). A service whose knobs all restate its defaults already runs
	// with them: the runner records them and does not restart it. Nil: every
	// knob restarts its service.
	IsDefault func(service, flag, value string) bool
	// StartLead is how long before the timeline's origin k6 is started, for
	// its own start-up (default 500ms: k6 starts in about 0.2 s here). A k6
	// that starts its load late anyway is recorded (journal.Harness.K6Late)
	// and the runner doubles the lead for the scenarios after it, up to 2 s.
	StartLead time.Duration
	// Shard, when set, is the part of a sharded library this runner runs;
	// every journal records it.
	Shard *journal.Shard
	// lead is the lead in use (StartLead, grown after a late k6).
	lead time.Duration
}

// checkParallelism bounds the checks (and plots) evaluated at once: each is
// a few Prometheus or Jaeger queries, or the lab's invariant checker.
const checkParallelism = 4

// Bounds of the start lead.
const (
	defaultStartLead = 500 * time.Millisecond
	maxStartLead     = 2 * time.Second
	// lateTolerance is how late k6 may start its load before the runner
	// calls it late: the clocks of setup() and of the runner differ by a
	// few milliseconds.
	lateTolerance = 50 * time.Millisecond
)

func (r *Runner) say(format string, args ...any) {
	if r.Progress != nil {
		fmt.Fprintf(r.Progress, format+"\n", args...)
	}
}

// Run runs one scenario and returns its journal (also written, with its
// HTML report, to ReportDir/<scenario>). A cancelled ctx stops the run:
// faults are removed and knobs restored before Run returns.
func (r *Runner) Run(ctx context.Context, sc *scenario.Scenario) *journal.Journal {
	j := &journal.Journal{
		RunID: r.RunID, Scenario: sc.Name, File: sc.File, Purpose: strings.TrimSpace(sc.Purpose),
		Expect: string(sc.Expect), Stack: r.StackName, Started: time.Now().UTC(), Sensitivity: r.Sensitivity,
		Shard: r.Shard,
	}
	dir := filepath.Join(r.ReportDir, sc.Name)
	if r.Sensitivity {
		// Without its faults the scenario must fail on data: that is how it
		// shows it would notice a fault that did nothing.
		j.Expect = journal.Fail
		r.say("\n▶ %s (sensitivity: faults replaced by no-ops, a check must fail on data) — %s", sc.Name, oneLine(j.Purpose))
	} else {
		r.say("\n▶ %s (expect %s) — %s", sc.Name, sc.Expect, oneLine(j.Purpose))
	}

	err := r.run(ctx, sc, j, dir)
	if err != nil {
		j.Error = err.Error()
		j.Verdict = journal.VerdictError
		r.say("  ✗ %s: %v", sc.Name, err)
	} else {
		d := journal.Decide(j.Expect, j.Checks)
		j.Outcome, j.Verdict, j.VerdictReason = d.Outcome, d.Verdict, d.Reason
		if r.Sensitivity && j.Verdict == journal.Unexpected {
			j.VerdictReason = "insensitive: every check passed with its faults replaced by no-ops, so this scenario cannot tell a fault that acted from one that did nothing; add a check that the fault moves (see docs/scenarios.md, Sensitivity)"
		}
	}
	j.Finished = time.Now().UTC()
	if werr := journal.Write(dir, j); werr != nil {
		r.say("  ! writing the journal: %v", werr)
	}
	if werr := report.WriteScenario(dir, j); werr != nil {
		r.say("  ! writing the report: %v", werr)
	}
	r.say("  = %s: outcome %s, verdict %s (%s)", sc.Name, j.Outcome, j.Verdict, dir)
	return j
}

func (r *Runner) run(ctx context.Context, sc *scenario.Scenario, j *journal.Journal, dir string) (err error) {
	scrape := r.ScrapeInterval
	if scrape <= 0 {
		scrape = time.Second
	}

	h := &journal.Harness{}
	j.Harness = h

	// Knobs: restart the services concerned with their flags, each recorded
	// in the fault ledger first (a crashed run's knobs are rolled back like
	// its faults); restore the lab's defaults afterwards, whatever happens.
	// A service whose knobs all restate the lab's defaults runs with them
	// already: it is not restarted (nor restored).
	knobs := map[string]map[string]string{}
	changes := map[string]bool{}
	for _, k := range sc.Knobs {
		if knobs[k.Service] == nil {
			knobs[k.Service] = map[string]string{}
		}
		knobs[k.Service][k.Flag] = k.Value
		def := r.IsDefault != nil && r.IsDefault(k.Service, k.Flag, k.Value)
		if !def {
			changes[k.Service] = true
		}
		j.Knobs = append(j.Knobs, journal.Knob{Service: k.Service, Flag: k.Flag, Value: k.Value, Default: def})
	}
	var applied []faults.Knobs
	defer func() {
		if len(applied) == 0 {
			return
		}
		start := time.Now()
		defer func() { h.Restore = seconds(time.Since(start)) }()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		var restored []string
		for _, k := range applied {
			if rerr := r.Faults.RemoveKnobs(rctx, k); rerr != nil {
				err = errors.Join(err, fmt.Errorf("restoring %s's defaults (run `chaoslab clean`): %w", k.Service, rerr))
				continue
			}
			restored = append(restored, k.Service)
			r.restarted(k.Service)
		}
		if len(restored) > 0 {
			r.say("  restored the defaults of %s", strings.Join(restored, ", "))
		}
	}()
	knobStart := time.Now()
	for _, svc := range restartOrder(r.ServiceOrder, knobs) {
		if !changes[svc] {
			r.say("  %s already runs with %s (the lab's defaults): not restarted", svc, formatFlags(knobs[svc]))
			continue
		}
		k, err := r.Faults.ApplyKnobs(ctx, r.RunID, sc.Name, svc, knobs[svc])
		if k.ID != "" {
			applied = append(applied, k) // restarted with them, even on an error
		}
		if err != nil {
			return fmt.Errorf("applying knobs to %s: %w", svc, err)
		}
		r.restarted(svc)
		r.say("  %s restarted with %s", svc, formatFlags(knobs[svc]))
	}
	h.Knobs = seconds(time.Since(knobStart))
	// Load across the whole timeline.
	var total time.Duration
	for _, p := range sc.Phases {
		total += p.Duration
	}
	type loadDone struct {
		res load.Result
		err error
	}
	e := r.Stack.Endpoints()
	// k6 and the fault timeline start on one clock: k6's setup waits for
	// startAt and counts its phase tags from it.
	if r.lead <= 0 {
		r.lead = r.StartLead
		if r.lead <= 0 {
			r.lead = defaultStartLead
		}
	}
	startLoad := func(startAt time.Time) (chan loadDone, context.CancelFunc) {
		loadCtx, stopLoad := context.WithCancel(ctx)
		ch := make(chan loadDone, 1)
		go func() {
			res, err := r.Load(loadCtx, load.Options{
				StartAt: startAt,
				K6:      r.K6, Script: filepath.Join(r.LoadtestsDir, sc.Load.Script), OutDir: dir,
				BaseURL: e.GatewayURL, Token: r.Token, RunID: r.RunID, Scenario: sc.Name,
				Profile: sc.Load, Phases: sc.Phases, RemoteWriteURL: e.PrometheusURL + "/api/v1/write",
				Env: r.ScriptEnv,
			})
			ch <- loadDone{res, err}
		}()
		return ch, stopLoad
	}
	// Ready means observed: the timeline starts only once Prometheus has
	// scraped every service restarted for this scenario (or restored after
	// the one before). That wait runs while k6 starts up: when Prometheus
	// has not seen them observeGuard before the origin, k6 is stopped
	// before it sends anything and started again once it has.
	startAt := time.Now().Add(r.lead)
	h.StartOffset = seconds(r.lead)
	loadCh, stopLoad := startLoad(startAt)
	if late, err := r.waitObserved(ctx, time.Until(startAt)-observeGuard); err != nil {
		stopLoad()
		<-loadCh
		if !late {
			return err
		}
		again := time.Now()
		r.say("  Prometheus had not scraped the restarted services %s before the load was due: k6 starts again once it has", observeGuard)
		if _, err := r.waitObserved(ctx, scrapeWait); err != nil {
			return err
		}
		startAt = time.Now().Add(r.lead)
		h.Observed = seconds(time.Since(again))
		loadCh, stopLoad = startLoad(startAt)
	}
	defer func() { stopLoad() }()
	r.say("  load: %s, %s", sc.Load.Script, describeLoad(sc.Load, total))

	// The timeline: faults in at the start of a phase, out at its end. A
	// load that dies early ends it: there is nothing left to observe.
	tlCtx, stopTimeline := context.WithCancelCause(ctx)
	defer stopTimeline(nil)
	var ld loadDone
	loadEnded := make(chan struct{})
	go func() {
		ld = <-loadCh
		if ld.err != nil {
			stopTimeline(fmt.Errorf("load: %w", ld.err))
		}
		close(loadEnded)
	}()
	if err := r.timeline(tlCtx, sc, j, startAt); err != nil {
		stopLoad()
		<-loadEnded
		if cause := context.Cause(tlCtx); cause != nil && ctx.Err() == nil {
			return cause
		}
		return err
	}
	<-loadEnded
	if n := len(j.Phases); n > 0 {
		h.LoadTail = seconds(time.Since(j.Phases[n-1].End))
	}
	if ld.err != nil {
		return fmt.Errorf("load: %w", ld.err)
	}
	l := ld.res.Load
	j.Load = &l
	r.say("  load done: %d requests, %d failed, p99 %.0f ms, %d writes acknowledged", l.Requests, l.Failed, l.P99ms, l.Acked)
	r.noteLate(h, ld.res)

	// Let in-flight work finish and the last samples and spans arrive.
	settleStart := time.Now()
	if r.Checks != nil {
		if settled := r.Checks.Settle(ctx); !settled.Done() {
			r.say("  %s", settled)
		}
	}
	settledAt := time.Now()
	h.Settle = seconds(settledAt.Sub(settleStart))
	// Spans: the trace checks query Jaeger once the lab's services have
	// exported the spans of the last requests (SpanFlush after the settle).
	spansIn := settledAt.Add(r.spanFlush(scrape))
	if err := r.waitLastScrape(ctx, settledAt, settledAt.Add(2*scrape)); err != nil {
		return err
	}
	h.LastScrape = seconds(time.Since(settledAt))

	checksStart := time.Now()
	r.evaluate(ctx, sc, j, ld.res, settledAt, spansIn, scrape)
	h.Checks = seconds(time.Since(checksStart))
	seriesStart := time.Now()
	r.series(ctx, sc, j)
	h.Series = seconds(time.Since(seriesStart))
	return nil
}

// noteLate records how late k6 started its load after the timeline's
// origin, and grows the lead of the scenarios after it when it was late.
func (r *Runner) noteLate(h *journal.Harness, res load.Result) {
	if res.Origin.IsZero() || res.Started.IsZero() {
		return
	}
	late := res.Started.Sub(res.Origin)
	if late <= lateTolerance {
		return
	}
	h.K6Late = seconds(late)
	r.lead = min(maxStartLead, 2*(r.lead+late))
	r.say("  ! k6 started its load %s after the timeline's origin: the scenarios after this one start it %s ahead", late.Round(time.Millisecond), r.lead)
}

// waitLastScrape waits until Prometheus has begun a scrape of every target
// of the lab's services after t, then for that scrape's samples to be
// committed, or until deadline (two scrape intervals after the lab
// settled: what the runner used to wait in any case); without a targets
// API or services to look for, until deadline.
//
// The runner's t is the settle: the services' counters are final, and
// once every service has begun a scrape after it, every sample the checks
// read is in. The recoveries and plots read up to the evaluation. An SLO
// check reads up to its phase's end P plus one scrape interval I
// (slo.EvalLag) and waits for that instant itself: each service is
// scraped once in (P, P+I], the scrape that holds the requests completed
// just before P, and the scrape begun after the settle (> P) is that one
// or a later one, so by P+I every sample at or before P+I is in. Waiting
// for a scrape begun after P+I instead would cost up to an interval more
// and read the same samples.
func (r *Runner) waitLastScrape(ctx context.Context, t, deadline time.Time) error {
	sleep := func(d time.Duration) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if r.Targets == nil || len(r.ServiceOrder) == 0 {
		return sleep(time.Until(deadline))
	}
	for {
		qctx, cancel := context.WithDeadline(ctx, deadline)
		res, err := r.Targets.Targets(qctx)
		cancel()
		if err == nil && scrapedAfter(res.Active, r.ServiceOrder, t) {
			return sleep(lastScrapeGrace)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return ctx.Err()
		}
		if err := sleep(min(lastScrapePoll, left)); err != nil {
			return err
		}
	}
}

// How often waitLastScrape asks for the targets, and how long it lets a
// scrape it saw begin commit its samples (the targets API reports a scrape
// before its samples are queryable).
const (
	lastScrapePoll  = 50 * time.Millisecond
	lastScrapeGrace = 30 * time.Millisecond
)

// scrapedAfter reports whether every active target of the jobs named by
// services began a scrape after t (up or not: a failed scrape is what there
// is of a service that is down), and there is at least one such target.
func scrapedAfter(active []promv1.ActiveTarget, services []string, t time.Time) bool {
	n := 0
	for _, a := range active {
		job := string(a.Labels["job"])
		if job == "" {
			job = a.ScrapePool
		}
		if !slices.Contains(services, job) {
			continue
		}
		n++
		if !a.LastScrape.After(t) {
			return false
		}
	}
	return n > 0
}

func seconds(d time.Duration) float64 { return d.Seconds() }

// spanFlush is the wait for spans after the settle: SpanFlush, or two
// scrape intervals.
func (r *Runner) spanFlush(scrape time.Duration) time.Duration {
	if r.SpanFlush > 0 {
		return r.SpanFlush
	}
	return 2 * scrape
}

// scrapeWait bounds the wait for Prometheus to scrape a restarted service.
const scrapeWait = 15 * time.Second

// restarted notes that svc was restarted now.
func (r *Runner) restarted(svc string) {
	if r.restartedAt == nil {
		r.restartedAt = map[string]time.Time{}
	}
	r.restartedAt[svc] = time.Now()
}

// observeGuard is how long before the timeline's origin Prometheus must
// have scraped the restarted services, for k6 to keep its start: k6 sends
// nothing before the origin, and stopping it takes a moment.
const observeGuard = 100 * time.Millisecond

// waitObserved waits, up to timeout, until Prometheus has scraped every
// service restarted since it last looked (its job is the service's name):
// "ready" means observed, or a scenario's first seconds would measure
// nothing. late reports that the timeout ran out (and not ctx).
func (r *Runner) waitObserved(ctx context.Context, timeout time.Duration) (late bool, err error) {
	if r.Targets == nil || len(r.restartedAt) == 0 {
		return false, nil
	}
	if timeout <= 0 {
		return true, fmt.Errorf("no time left to wait for Prometheus to scrape the restarted services")
	}
	start := time.Now()
	got, err := stack.WaitScraped(ctx, r.Targets, r.restartedAt, timeout)
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("waiting for Prometheus to scrape the restarted services: %w", err)
	}
	r.say("  observed by Prometheus: %s (waited %s)", strings.Join(slices.Sorted(maps.Keys(got)), ", "), time.Since(start).Round(10*time.Millisecond))
	r.restartedAt = nil
	return false, nil
}

// timeline runs the phases, applying and removing faults. Faults still in
// place when it returns early are removed on a detached context.
func (r *Runner) timeline(ctx context.Context, sc *scenario.Scenario, j *journal.Journal, startAt time.Time) (err error) {
	select {
	case <-time.After(time.Until(startAt)):
	case <-ctx.Done():
		return ctx.Err()
	}
	start := time.Now()
	var active []faults.Applied
	removeAll := func(rctx context.Context, phase string) error {
		var errs []error
		for _, a := range active {
			rerr := r.Faults.Remove(rctx, a)
			for i := range j.Faults {
				if j.Faults[i].ID == a.ID {
					j.Faults[i].Removed = time.Now().UTC()
					if rerr != nil {
						j.Faults[i].RemoveError = rerr.Error()
					}
				}
			}
			if rerr != nil {
				errs = append(errs, fmt.Errorf("removing %s: %w", a.Spec, rerr))
				continue
			}
			r.say("  [%5.1fs] %-9s removed %s", time.Since(start).Seconds(), phase, a.Spec)
		}
		active = nil
		return errors.Join(errs...)
	}
	defer func() {
		if len(active) > 0 {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			err = errors.Join(err, removeAll(rctx, "rollback"))
		}
	}()

	phaseStart := start
	for _, p := range sc.Phases {
		ph := journal.Phase{Name: p.Name, Start: time.Now().UTC()}
		r.say("  [%5.1fs] %-9s begins (%s)", time.Since(start).Seconds(), p.Name, p.Duration)
		phaseStart = phaseStart.Add(p.Duration)
		end := phaseStart // phases keep to the clock, whatever applying faults took
		for _, spec := range p.Faults {
			if r.Sensitivity {
				// Recorded, not injected: active stays empty, so nothing is
				// removed either; the journal shows the fault's window.
				j.Faults = append(j.Faults, journal.Fault{
					ID: fmt.Sprintf("noop-%s-%d", p.Name, len(j.Faults)+1), Phase: p.Name, Kind: spec.Kind(), Target: spec.Target(),
					Spec: spec.String(), Applied: time.Now().UTC(), NoOp: true,
				})
				r.say("  [%5.1fs] %-9s no-op   %s (sensitivity run: not injected)", time.Since(start).Seconds(), p.Name, spec)
				continue
			}
			a, aerr := r.Faults.Apply(ctx, r.RunID, sc.Name, p.Name, spec)
			if aerr != nil {
				j.Phases = append(j.Phases, closePhase(ph))
				return fmt.Errorf("applying %s in phase %s: %w", spec, p.Name, aerr)
			}
			active = append(active, a)
			j.Faults = append(j.Faults, journal.Fault{
				ID: a.ID, Phase: p.Name, Kind: spec.Kind(), Target: spec.Target(), Spec: spec.String(), Applied: a.AppliedAt.UTC(),
			})
			r.say("  [%5.1fs] %-9s applied %s", time.Since(start).Seconds(), p.Name, spec)
		}
		select {
		case <-time.After(time.Until(end)):
		case <-ctx.Done():
			j.Phases = append(j.Phases, closePhase(ph))
			return fmt.Errorf("interrupted in phase %s: %w", p.Name, ctx.Err())
		}
		if rerr := removeAll(ctx, p.Name); rerr != nil {
			j.Phases = append(j.Phases, closePhase(ph))
			return rerr
		}
		for i := range j.Faults {
			if f := &j.Faults[i]; f.NoOp && f.Phase == p.Name && f.Removed.IsZero() {
				f.Removed = time.Now().UTC()
			}
		}
		j.Phases = append(j.Phases, closePhase(ph))
	}
	return nil
}

func closePhase(p journal.Phase) journal.Phase {
	p.End = time.Now().UTC()
	return p
}

// evaluate runs every check of the scenario, up to checkParallelism at
// once, and records them in the scenario's order: SLOs, recoveries,
// traces, invariants, k6's thresholds. The run's load and settle ended at
// until; the trace checks query Jaeger from spansIn on.
func (r *Runner) evaluate(ctx context.Context, sc *scenario.Scenario, j *journal.Journal, res load.Result, until, spansIn time.Time, scrape time.Duration) {
	runEnd := time.Now()
	var jobs []func() []journal.Check
	one := func(f func() journal.Check) {
		jobs = append(jobs, func() []journal.Check { return []journal.Check{f()} })
	}
	for _, c := range sc.Checks.SLO {
		one(func() journal.Check { return slo.EvaluateSLO(ctx, r.Prometheus, c, j.Phases, scrape, r.ResolveSLO) })
	}
	for _, c := range sc.Checks.Recovery {
		one(func() journal.Check {
			return slo.EvaluateRecovery(ctx, r.Prometheus, c, j.Phases, runEnd, r.ResolveSLO)
		})
	}
	started := startedByPhase(res)
	for _, c := range sc.Checks.Traces {
		one(func() journal.Check {
			select {
			case <-time.After(time.Until(spansIn)):
			case <-ctx.Done():
			}
			return tracecheck.Evaluate(ctx, r.Traces, c, j.Phases, started)
		})
	}
	if len(sc.Checks.Invariants) > 0 {
		in := runInput(r.RunID, sc.Name, j.Started, until, res)
		jobs = append(jobs, func() []journal.Check { return r.invariants(ctx, sc, in) })
	}
	for _, cs := range parallel(jobs, checkParallelism) {
		for _, c := range cs {
			j.Checks = append(j.Checks, c)
			mark := map[string]string{journal.Pass: "✓", journal.Fail: "✗", journal.Inconclusive: "?"}[c.Outcome]
			r.say("  %s %-9s %-40s %s", mark, c.Kind, c.Name, c.Detail)
		}
	}
	if j.Load != nil && j.Load.ThresholdsFailed {
		c := journal.Check{Name: "k6-thresholds", Kind: journal.KindLoad, Outcome: journal.Fail, OnData: true,
			Detail: "k6 reported failed thresholds (exit 99); see " + j.Load.SummaryFile}
		j.Checks = append(j.Checks, c)
		r.say("  ✗ %-9s %-40s %s", c.Kind, c.Name, c.Detail)
	}
}

// parallel runs jobs, at most limit at once, and returns their results in
// the jobs' order.
func parallel[T any](jobs []func() T, limit int) []T {
	out := make([]T, len(jobs))
	sem := make(chan struct{}, max(1, limit))
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = job()
		})
	}
	wg.Wait()
	return out
}

// invariants evaluates the scenario's invariants with the lab's checks.
func (r *Runner) invariants(ctx context.Context, sc *scenario.Scenario, in lab.RunInput) []journal.Check {
	names := make([]string, len(sc.Checks.Invariants))
	for i, inv := range sc.Checks.Invariants {
		names[i] = string(inv)
	}
	if r.Checks == nil {
		out := make([]journal.Check, len(names))
		for i, n := range names {
			out[i] = journal.Check{Name: n, Kind: journal.KindInvariant, Outcome: journal.Inconclusive,
				Detail: "the runner has no checks of the lab's invariants: nothing was examined"}
		}
		return out
	}
	return r.Checks.Invariants(ctx, names, in)
}

// runInput is what the invariants are given of a run: its id and scenario,
// from its start (since) to the end of its load and settle (until), and
// the writes its load logged as ACK and ACCEPTED.
func runInput(runID, scenario string, since, until time.Time, res load.Result) lab.RunInput {
	writes := func(acks []load.Ack) []lab.Write {
		out := make([]lab.Write, 0, len(acks))
		for _, a := range acks {
			out = append(out, lab.Write{ID: a.OrderID, Key: a.Key})
		}
		return out
	}
	return lab.RunInput{
		RunID: runID, Scenario: scenario, Since: since.UTC(), Until: until.UTC(),
		Acked: writes(res.Acked), Accepted: writes(res.Accepted),
	}
}

// startedByPhase is how many requests k6 started in each phase.
func startedByPhase(res load.Result) map[string]int64 {
	out := make(map[string]int64, len(res.Phases))
	for _, p := range res.Phases {
		out[p.Name] = p.Requests
	}
	return out
}

// series samples the lab's plots for the scenario's script over the run,
// each every second (several at once).
func (r *Runner) series(ctx context.Context, sc *scenario.Scenario, j *journal.Journal) {
	script := filepath.Base(sc.Load.Script)
	start, end := j.Started, time.Now()
	type sampled struct {
		s   journal.Series
		err error
	}
	var jobs []func() sampled
	var names []string
	for _, p := range r.Plots {
		if !p.ForScript(script) {
			continue
		}
		names = append(names, p.Name)
		jobs = append(jobs, func() sampled {
			s, err := slo.SampleSeries(ctx, r.Prometheus, p.Name, p.Unit, p.Query, start, end, time.Second)
			return sampled{s, err}
		})
	}
	for i, got := range parallel(jobs, checkParallelism) {
		if got.err != nil {
			r.say("  ! sampling %s: %v", names[i], got.err)
			continue
		}
		j.Series = append(j.Series, got.s)
	}
}

// restartOrder is the order knob restarts happen in: the services of
// order (dependencies first) that have knobs, then any other service with
// knobs, by name.
func restartOrder(order []string, knobs map[string]map[string]string) []string {
	var out []string
	for _, svc := range order {
		if _, ok := knobs[svc]; ok {
			out = append(out, svc)
		}
	}
	for _, svc := range slices.Sorted(maps.Keys(knobs)) {
		if !slices.Contains(out, svc) {
			out = append(out, svc)
		}
	}
	return out
}

func formatFlags(flags map[string]string) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(flags)) {
		parts = append(parts, "-"+name+"="+flags[name])
	}
	return strings.Join(parts, " ")
}

func describeLoad(l scenario.LoadProfile, total time.Duration) string {
	if l.Executor == scenario.RampingArrivalRate {
		return fmt.Sprintf("ramping arrival rate over %s (%d stages)", total, len(l.Stages))
	}
	unit := l.TimeUnit
	if unit <= 0 {
		unit = time.Second
	}
	return fmt.Sprintf("%d iterations per %s for %s", l.Rate, unit, total)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
