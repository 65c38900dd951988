// Package explore finds the faults that break a lab, without anyone
// writing an experiment: it runs a short baseline of one journey under
// steady load, reads from its traces which edges, methods and services the
// journey reaches and in what order, builds the fault space of what was
// reached (never of what is only declared), runs each point as a generated
// scenario — baseline, fault, recovery, judged by the lab's SLOs, a
// recovery bound and its invariants, with the runner's own verdict rules —
// skips the points that what already failed makes redundant (saying why),
// and reports a matrix of points × checks, with a ready-to-commit scenario
// file for every point that failed.
//
// The approach follows Filibuster (faults at every call site a passing run
// reaches, reduced) and lineage-driven fault injection (faults chosen from
// the traces of successful requests), joined with SLOs and data
// invariants.
package explore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/promql"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/slodef"
	"github.com/chaoslab/chaoslab/harness/traces"
)

// scenarioRunner runs one scenario on the lab (runner.Runner), writing its
// journal and report under the directory it was given.
type scenarioRunner interface {
	Run(ctx context.Context, sc *scenario.Scenario) *journal.Journal
}

// promQuerier evaluates PromQL (Prometheus' v1 API).
type promQuerier interface {
	Query(ctx context.Context, query string, ts time.Time, opts ...promv1.Option) (model.Value, promv1.Warnings, error)
}

// traceFinder reads traces from Jaeger (traces.Client).
type traceFinder interface {
	Find(ctx context.Context, q traces.Query) ([]traces.Trace, error)
}

// Explorer explores one running lab.
type Explorer struct {
	// Lab is the lab file: its topology, entry, invariants.
	Lab *lab.Lab
	// SLOs are the lab's SLO definitions.
	SLOs *slodef.Set
	// Run runs a scenario; dir is where its report directory goes.
	Run func(ctx context.Context, sc *scenario.Scenario, dir string) *journal.Journal
	// Traces reads the baseline's traces.
	Traces traceFinder
	// Prometheus says where each SLO is measured: the jobs (one per
	// service) its events are scraped from. Nil: not known, every SLO
	// judges every point.
	Prometheus promQuerier
	// Parse checks a generated scenario file the way `chaoslab validate`
	// would (scenario.Parse with the lab's options).
	Parse func(name string, data []byte) (*scenario.Scenario, error)
	// Progress receives one line per point, with the time left.
	Progress io.Writer
	// Stack is the stack the lab runs on, which the generated scenarios
	// must run on.
	Stack string
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Options are what one exploration does.
type Options struct {
	// Experiment is the shape of every point's scenario; its SLOs and
	// Invariants are filled from the lab.
	Experiment Experiment
	// BaselineFor is how long the baseline whose traces give the space
	// runs.
	BaselineFor time.Duration
	// Space shapes the points' faults.
	Space SpaceOptions
	// Rules are the reduction rules in force (Rules()).
	Rules []string
	// Pairs is the most pairs of surviving points run together (0: none).
	Pairs int
	// Focus, when set, keeps the points on these services or edges.
	Focus []string
	// Budget bounds the exploration's wall time: a point that would end
	// after it is not started.
	Budget time.Duration
	// Dir is the report directory.
	Dir string
	// RunID names the exploration.
	RunID string
}

// The statuses of a point in the result.
const (
	StatusPass         = journal.Pass
	StatusFail         = journal.Fail
	StatusInconclusive = journal.Inconclusive
	StatusError        = "error"
	// StatusSkipped: a reduction rule made the point redundant.
	StatusSkipped = "skipped"
	// StatusNotRun: the budget ran out before it.
	StatusNotRun = "not run"
)

// PointResult is how one point (or pair) came out.
type PointResult struct {
	// Points is the point, or the two of a pair.
	Points []Point `json:"points"`
	Name   string  `json:"name"`
	Status string  `json:"status"`
	// Rule and Reason say why a point was skipped, or what decided it.
	Rule   string `json:"rule,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Checks are the checks of its scenario as the runner judged them.
	Checks []journal.Check `json:"checks,omitempty"`
	// Report is the point's scenario report directory; Scenario the
	// committable scenario file of a failed point.
	Report   string `json:"report,omitempty"`
	Scenario string `json:"scenario,omitempty"`
	// Seconds is how long it ran.
	Seconds float64 `json:"seconds,omitempty"`
}

// ID is the point's ID, or the pair's "a + b".
func (r PointResult) ID() string {
	ids := make([]string, len(r.Points))
	for i, p := range r.Points {
		ids[i] = p.ID
	}
	return strings.Join(ids, " + ")
}

// Result is an exploration.
type Result struct {
	RunID   string    `json:"run_id"`
	Lab     string    `json:"lab"`
	Journey string    `json:"journey"`
	Seed    uint64    `json:"seed"`
	Started time.Time `json:"started"`
	// Finished is when the last point ended.
	Finished time.Time `json:"finished"`
	Budget   string    `json:"budget"`
	Rules    []string  `json:"rules"`
	// Baseline is the baseline's report directory; Reach what its traces
	// showed.
	Baseline string `json:"baseline"`
	Reach    Reach  `json:"reach"`
	// SLOs are the lab's SLOs the journey measured, which every point
	// checks.
	SLOs      []SLO         `json:"slos"`
	Unreached []Unreached   `json:"unreached"`
	Points    []PointResult `json:"points"`
}

// Count returns how many points have status s.
func (r *Result) Count(s string) int {
	n := 0
	for _, p := range r.Points {
		if p.Status == s {
			n++
		}
	}
	return n
}

// ErrBaseline is what an exploration whose baseline cannot be used
// returns: the lab does not meet its SLOs without faults, or the journey
// measures none of them, or its traces show no call.
var ErrBaseline = errors.New("the baseline cannot be explored from")

// Explore runs the exploration and writes its report under o.Dir.
func (x *Explorer) Explore(ctx context.Context, o Options) (*Result, error) {
	now := x.now
	res := &Result{RunID: o.RunID, Lab: x.Lab.Name, Journey: o.Experiment.Journey, Seed: o.Space.Seed,
		Started: now().UTC(), Budget: o.Budget.String(), Rules: o.Rules, Unreached: []Unreached{}}
	exp := o.Experiment
	exp.Seed = o.Space.Seed
	exp.Invariants = x.Lab.InvariantNames()
	if entry, ok := x.Lab.Edge(x.Lab.Load.Entry); ok {
		exp.Entry = entry.To
	}

	slos, bj, base, err := x.baseline(ctx, o, exp)
	res.Baseline = base
	if err != nil {
		return res, err
	}
	exp.SLOs, res.SLOs = slos, slos
	exp.ClientBudget = clientBudget(slos, exp.Entry)
	reach, err := x.reach(ctx, bj)
	res.Reach = reach
	if err != nil {
		return res, err
	}
	space := Build(x.Lab.FaultTopology(), reach, o.Space)
	space = focus(space, o.Focus)
	res.Unreached = append(res.Unreached, space.Unreached...)
	x.say("fault space: %d points from %d traces (%d calls on %d paths); %d declared but unreached or not runnable",
		len(space.Points), reach.Traces, len(reach.Calls), len(reach.Paths), len(space.Unreached))

	red := newReducer(o.Rules, reach, space.Points)
	deadline := res.Started.Add(o.Budget)
	est := exp.Duration() + 5*time.Second // the harness's own seconds, until one is measured
	var ran []time.Duration
	for i, p := range space.Points {
		if ctx.Err() != nil {
			break
		}
		pr := PointResult{Points: []Point{p}, Name: p.Name()}
		if rule, why := red.Skip(p); rule != "" {
			pr.Status, pr.Rule, pr.Reason = StatusSkipped, rule, why
			if rule == RuleWeaker {
				red.Implied(p)
			}
			res.Points = append(res.Points, pr)
			x.say("[%d/%d] %s: skipped (%s rule)", i+1, len(space.Points), p.ID, rule)
			continue
		}
		if o.Budget > 0 && now().Add(est).After(deadline) {
			pr.Status, pr.Reason = StatusNotRun, fmt.Sprintf("the budget of %s would end before it (each point takes about %s)", o.Budget, est.Round(time.Second))
			res.Points = append(res.Points, pr)
			continue
		}
		start := now()
		pr = x.runPoint(ctx, o, exp, reach, pr, "a point of the fault space")
		took := now().Sub(start)
		ran = append(ran, took)
		est = mean(ran)
		if pr.Status == StatusFail {
			red.Failed(p, "failed "+strings.Join(failedOnData(pr.Checks), ", "))
		}
		res.Points = append(res.Points, pr)
		left := remaining(space.Points[i+1:], red)
		x.say("[%d/%d] %s: %s in %s — elapsed %s; at most %s left, for at most %d points",
			i+1, len(space.Points), p.ID, pr.Status, took.Round(time.Second), now().Sub(res.Started).Round(time.Second),
			(time.Duration(left) * est).Round(time.Second), left)
	}
	if o.Pairs > 0 && ctx.Err() == nil {
		res.Points = append(res.Points, x.pairs(ctx, o, exp, res, deadline, est)...)
	}
	res.Finished = now().UTC()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

// remaining counts the points that the reduction would not skip now.
func remaining(ps []Point, red *reducer) int {
	n := 0
	for _, p := range ps {
		if rule, _ := red.Skip(p); rule == "" {
			n++
		}
	}
	return n
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

func (x *Explorer) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

func (x *Explorer) say(format string, args ...any) {
	if x.Progress != nil {
		fmt.Fprintf(x.Progress, format+"\n", args...)
	}
}

// baseline runs the journey without faults, checking every SLO of the lab
// over it, and returns the SLOs it measured. An SLO the baseline already
// fails makes the lab unexplorable: every point would fail it.
func (x *Explorer) baseline(ctx context.Context, o Options, exp Experiment) ([]SLO, *journal.Journal, string, error) {
	var all []SLO
	for _, s := range x.SLOs.SLOs {
		events, err := x.SLOs.EventRate(s.Name, "$window")
		if err != nil {
			return nil, nil, "", err
		}
		all = append(all, SLO{Name: s.Name, Objective: s.Objective, Events: events})
	}
	if len(all) == 0 {
		return nil, nil, "", fmt.Errorf("%w: the lab has no SLOs (%s) for the points to be judged by", ErrBaseline, x.SLOs.File)
	}
	name := "explore-baseline"
	data, err := baselineFile(name, exp, all, o.BaselineFor)
	if err != nil {
		return nil, nil, "", err
	}
	sc, err := x.Parse(name+".yaml", data)
	if err != nil {
		return nil, nil, "", fmt.Errorf("the generated baseline does not validate (a bug): %w", err)
	}
	if x.Stack != "" && !sc.RunsOn(x.Stack) {
		return nil, nil, "", fmt.Errorf("%w: lab %s does not run on the %s stack (it runs on %s)", ErrBaseline, x.Lab.Name, x.Stack, strings.Join(sc.Stacks, ", "))
	}
	x.say("baseline: %s of %s at %d/s, to read the reached fault space from its traces", o.BaselineFor, exp.Journey, exp.Rate)
	j := x.Run(ctx, sc, o.Dir)
	dir := filepath.Join(o.Dir, name)
	if j.Verdict == journal.VerdictError {
		return nil, j, dir, fmt.Errorf("the baseline could not run: %s", j.Error)
	}
	var measured []SLO
	var broken []string
	for _, c := range j.Checks {
		i := slices.IndexFunc(all, func(s SLO) bool { return s.Name == c.Name })
		if i < 0 || !c.OnData {
			continue
		}
		measured = append(measured, all[i])
		if c.Outcome == journal.Fail {
			broken = append(broken, c.Name+": "+c.Detail)
		}
	}
	switch {
	case len(broken) > 0:
		return nil, j, dir, fmt.Errorf("%w: without any fault the lab already misses %s, so every point would fail it; see %s", ErrBaseline, strings.Join(broken, "; "), dir)
	case len(measured) == 0:
		return nil, j, dir, fmt.Errorf("%w: the journey %s measured none of the lab's SLOs (%s): nothing could judge the points; see %s",
			ErrBaseline, exp.Journey, strings.Join(x.SLOs.Names(), ", "), dir)
	}
	for _, s := range all {
		if !slices.ContainsFunc(measured, func(m SLO) bool { return m.Name == s.Name }) {
			x.say("  SLO %s: not measured by %s, not checked", s.Name, exp.Journey)
		}
	}
	for i := range measured {
		measured[i].At = x.placeSLO(ctx, measured[i].Name, j)
		x.say("  SLO %s: measured at %s", measured[i].Name, orUnknown(measured[i].At))
	}
	return measured, j, dir, nil
}

// clientBudget is the smallest error budget of the SLOs measured at the
// entry (0.01 when none is known to be).
func clientBudget(slos []SLO, entry string) float64 {
	budget := 0.0
	for _, s := range slos {
		if slices.Contains(s.At, entry) && (budget == 0 || 1-s.Objective < budget) {
			budget = 1 - s.Objective
		}
	}
	if budget == 0 {
		return 0.01
	}
	return math.Round(budget*1e6) / 1e6
}

func orUnknown(at []string) string {
	if len(at) == 0 {
		return "(not known: judges every point)"
	}
	return strings.Join(at, ", ")
}

// placeSLO returns the Prometheus jobs — the lab's services, one job each —
// whose series make up the events of the SLO named name over the
// baseline j; nil when that cannot be told (no Prometheus, an SLI written
// as a query, an error).
func (x *Explorer) placeSLO(ctx context.Context, name string, j *journal.Journal) []string {
	s, err := x.SLOs.SLO(name)
	if err != nil || x.Prometheus == nil || strings.Contains(s.SLI.Total, promql.WindowVar) || len(j.Phases) == 0 {
		return nil
	}
	p := j.Phases[len(j.Phases)-1]
	window := max(1, int(p.End.Sub(j.Phases[0].Start).Seconds()))
	v, _, err := x.Prometheus.Query(ctx, fmt.Sprintf("count by (job) (last_over_time(%s[%ds]))", s.SLI.Total, window), p.End)
	vec, ok := v.(model.Vector)
	if err != nil || !ok {
		return nil
	}
	var out []string
	for _, smp := range vec {
		if job := string(smp.Metric["job"]); job != "" {
			out = append(out, job)
		}
	}
	slices.Sort(out)
	return out
}

// baselineFile is the baseline scenario: the journey alone, every SLO over
// it (inconclusive when the journey does not measure it).
func baselineFile(name string, exp Experiment, slos []SLO, d time.Duration) ([]byte, error) {
	f := scenarioFile{
		Name: name, Expect: string(scenario.ExpectPass),
		Purpose:  "Generated by chaoslab explore: the journey under steady load without faults, whose traces give the fault space and whose SLOs say which ones the points are judged by.",
		Load:     loadFile{Script: exp.Journey, Executor: "constant-arrival-rate", Rate: exp.Rate},
		Phases:   []phaseFile{{Name: PhaseBaseline, Duration: d.String()}},
		Services: knobsFile(exp.Knobs),
	}
	for _, s := range slos {
		f.Checks.SLO = append(f.Checks.SLO, sloCheckFile{Name: s.Name, Phase: PhaseBaseline, SLO: s.Name,
			Objective: fmt.Sprintf(">= %g", s.Objective), OnEmpty: "inconclusive", OnNaN: "inconclusive"})
	}
	return encode(f, f.Purpose)
}

// reach reads the baseline's traces: those of the entry service that
// started in the baseline phase.
func (x *Explorer) reach(ctx context.Context, j *journal.Journal) (Reach, error) {
	i := slices.IndexFunc(j.Phases, func(p journal.Phase) bool { return p.Name == PhaseBaseline })
	if i < 0 {
		return Reach{}, fmt.Errorf("the baseline's journal has no %s phase", PhaseBaseline)
	}
	entry, ok := x.Lab.Edge(x.Lab.Load.Entry)
	if !ok {
		return Reach{}, fmt.Errorf("the lab's load.entry %q is not one of its edges", x.Lab.Load.Entry)
	}
	ts, err := x.Traces.Find(ctx, traces.Query{Service: entry.To, Start: j.Phases[i].Start, End: j.Phases[i].End, Limit: 300})
	if err != nil {
		return Reach{}, err
	}
	r := ReachOf(labView{x.Lab}, ts)
	if len(r.Calls) == 0 {
		return r, fmt.Errorf("%w: Jaeger has no trace of %s with a call on the lab's edges in the baseline (%d traces): do the services export spans to the lab's Jaeger?",
			ErrBaseline, entry.To, len(ts))
	}
	return r, nil
}

// runPoint runs the experiment of pr's points and judges it.
func (x *Explorer) runPoint(ctx context.Context, o Options, exp Experiment, reach Reach, pr PointResult, origin string) PointResult {
	start := x.now()
	pr = x.judge(ctx, o, exp, reach, pr, origin)
	pr.Seconds = x.now().Sub(start).Seconds()
	return pr
}

// judge generates, runs and judges pr's scenario, and keeps its file when
// it failed.
func (x *Explorer) judge(ctx context.Context, o Options, exp Experiment, reach Reach, pr PointResult, origin string) PointResult {
	data, err := exp.File(pr.Name, origin, pr.Points)
	if err == nil {
		var sc *scenario.Scenario
		if sc, err = x.Parse(pr.Name+".yaml", data); err == nil {
			j := x.Run(ctx, sc, filepath.Join(o.Dir, "points"))
			pr.Report = filepath.Join(o.Dir, "points", pr.Name)
			if len(pr.Points) == 1 && pr.Points[0].Kind == KindEdge && j.Verdict != journal.VerdictError {
				j.Checks = append(j.Checks, x.edgeActed(ctx, pr.Points[0], j, reach, exp.Entry))
			}
			pr.Checks = j.Checks
			pr.Status, pr.Reason = status(j)
		}
	}
	if err != nil {
		pr.Status, pr.Reason = StatusError, err.Error()
		return pr
	}
	if pr.Status == StatusFail {
		path := filepath.Join(o.Dir, "scenarios", pr.Name+".yaml")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			if err := os.WriteFile(path, data, 0o644); err == nil {
				pr.Scenario = path
			}
		}
	}
	return pr
}

// slowCall is how long a call on a faulted edge must take, when it does
// not fail, to count as the fault's doing.
const slowCall = time.Second

// edgeActed is the check that an edge point's fault acted, from the traces
// of its fault phase: a call on the edge that failed or took slowCall or
// more (the caller's client span, matched by the methods the baseline saw
// on the edge), or far fewer traces crossing the edge than in the
// baseline (a breaker that fails fast leaves no client span).
func (x *Explorer) edgeActed(ctx context.Context, p Point, j *journal.Journal, reach Reach, entry string) journal.Check {
	c := journal.Check{Name: ActedCheck, Kind: "trace", Phase: PhaseFault, Objective: "a call on the edge failed or was slow, or the edge was crossed far less than in the baseline", Outcome: journal.Inconclusive}
	i := slices.IndexFunc(j.Phases, func(ph journal.Phase) bool { return ph.Name == PhaseFault })
	if i < 0 {
		c.Detail = "the journal has no fault phase"
		return c
	}
	ts, err := x.Traces.Find(ctx, traces.Query{Service: entry, Start: j.Phases[i].Start, End: j.Phases[i].End, Limit: 300})
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	if len(ts) < 10 {
		c.Detail = fmt.Sprintf("%d traces of %s started in the fault phase: too few to tell", len(ts), entry)
		return c
	}
	caller, _, _ := strings.Cut(p.Edge, "->")
	methods := map[string]bool{}
	for call := range reach.Calls {
		if call.Edge == p.Edge {
			methods[call.Method] = true
		}
	}
	bad, crossed := 0, 0
	view := labView{x.Lab}
	for _, t := range ts {
		hit := false
		for _, s := range t.Spans {
			if s.Service == caller && methods["/"+strings.TrimPrefix(s.Operation, "/")] && (s.Error || s.Duration >= slowCall) {
				hit = true
			}
		}
		if hit {
			bad++
		}
		if slices.ContainsFunc(callsOf(view, t, map[string]int{}), func(cl Call) bool { return cl.Edge == p.Edge }) {
			crossed++
		}
	}
	base := float64(reach.Edges()[p.Edge]) / float64(max(1, reach.Traces))
	share := float64(crossed) / float64(len(ts))
	c.Value, c.Threshold, c.OnData = journal.Float(share), journal.Float(base/2), true
	c.Detail = fmt.Sprintf("%d of %d traces had a failed or slow (≥ %s) call on %s; %.2f of them crossed it, %.2f in the baseline", bad, len(ts), slowCall, p.Edge, share, base)
	if bad > 0 || share < base/2 {
		c.Outcome = journal.Pass
		c.Detail += " → the fault acted"
	} else {
		c.Outcome = journal.Fail
		c.Detail += " → no sign of the fault"
	}
	return c
}

// status is a point's status from its journal: fail only on a measured
// value (the rule of an expect-fail scenario: a failure on missing data
// does not count); pass when every other check passed on data, an
// invariant that found nothing to examine aside (no order failed, so none
// needed compensating: it neither passes nor blocks); inconclusive
// otherwise.
func status(j *journal.Journal) (string, string) {
	if j.Verdict == journal.VerdictError {
		return StatusError, j.Error
	}
	if i := slices.IndexFunc(j.Checks, func(c journal.Check) bool { return c.Name == ActedCheck }); i >= 0 && !(j.Checks[i].Outcome == journal.Pass && j.Checks[i].OnData) {
		// Whatever else was measured, it was not the fault's doing.
		return StatusInconclusive, "the fault was not seen to act (" + j.Checks[i].Detail + "): neither a pass nor a failure would be its"
	}
	if on := failedOnData(j.Checks); len(on) > 0 {
		return StatusFail, "failed on data: " + strings.Join(on, ", ")
	}
	var undecided, nothing []string
	decided := 0
	for _, c := range j.Checks {
		switch {
		case c.Outcome == journal.Pass && c.OnData:
			decided++
		case c.NothingToExamine:
			nothing = append(nothing, c.Name)
		default:
			undecided = append(undecided, c.Name)
		}
	}
	switch {
	case decided == 0:
		return StatusInconclusive, "no check passed on data"
	case len(undecided) > 0:
		return StatusInconclusive, "not decided: " + strings.Join(undecided, ", ")
	case len(nothing) > 0:
		return StatusPass, "every check passed on data; nothing to examine for " + strings.Join(nothing, ", ")
	}
	return StatusPass, ""
}

func failedOnData(cs []journal.Check) []string {
	var out []string
	for _, c := range cs {
		if c.Outcome == journal.Fail && c.OnData {
			out = append(out, c.Name)
		}
	}
	return out
}

// pairs runs up to o.Pairs pairs of points that passed alone, on two
// different services, in journey order: faults that each are survived may
// not be together.
func (x *Explorer) pairs(ctx context.Context, o Options, exp Experiment, res *Result, deadline time.Time, est time.Duration) []PointResult {
	now := x.now
	var passed []Point
	for _, r := range res.Points {
		if r.Status == StatusPass && len(r.Points) == 1 {
			passed = append(passed, r.Points[0])
		}
	}
	var out []PointResult
	for i := 0; i < len(passed) && len(out) < o.Pairs; i++ {
		for j := i + 1; j < len(passed) && len(out) < o.Pairs; j++ {
			a, b := passed[i], passed[j]
			if a.Service == b.Service || ctx.Err() != nil {
				continue
			}
			pr := PointResult{Points: []Point{a, b}, Name: slug("explore-pair-" + strings.TrimPrefix(a.Name(), "explore-") + "-and-" + strings.TrimPrefix(b.Name(), "explore-"))}
			if len(pr.Name) > 64 {
				pr.Name = fmt.Sprintf("explore-pair-%d", len(out)+1)
			}
			if o.Budget > 0 && now().Add(est).After(deadline) {
				pr.Status, pr.Reason = StatusNotRun, "the budget ran out"
				out = append(out, pr)
				continue
			}
			pr = x.runPoint(ctx, o, exp, res.Reach, pr, "a pair of points that each passed alone")
			x.say("[pair %d/%d] %s: %s", len(out)+1, o.Pairs, pr.ID(), pr.Status)
			out = append(out, pr)
		}
	}
	return out
}

// focus keeps the points on the services or edges named (all when none
// is), and lists the others as outside the focus.
func focus(sp Space, on []string) Space {
	if len(on) == 0 {
		return sp
	}
	var kept []Point
	for _, p := range sp.Points {
		if slices.Contains(on, p.Service) || p.Edge != "" && slices.Contains(on, p.Edge) {
			kept = append(kept, p)
			continue
		}
		sp.Unreached = append(sp.Unreached, Unreached{What: p.ID, Why: "outside -focus " + strings.Join(on, ",")})
	}
	sp.Points = kept
	return sp
}

// labView is what ReachOf needs of a lab file.
type labView struct{ l *lab.Lab }

func (v labView) HasEdge(name string) bool { _, ok := v.l.Edge(name); return ok }

func (v labView) GRPC(service string) bool {
	s, ok := v.l.Service(service)
	return ok && s.Protocol == lab.GRPC
}
