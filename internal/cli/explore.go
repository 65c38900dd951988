package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	"github.com/chaoslab/chaoslab/harness/explore"
	"github.com/chaoslab/chaoslab/harness/journal"
	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/scenario"
)

// exploreFlags are explore's own flags.
type exploreFlags struct {
	labFile, journey, loadtests, slos, reports string
	attach                                     bool
	rate                                       int
	budget, baseline                           time.Duration
	pointBaseline, fault, recovery             time.Duration
	probability, throughput                    float64
	latency, restartAfter                      time.Duration
	seed                                       uint64
	reduce, focus, knobs                       string
	pairs                                      int
}

func (f *exploreFlags) register(fs *flag.FlagSet) {
	registerLabFile(fs, &f.labFile)
	fs.StringVar(&f.journey, "journey", "", "the k6 script of the journey to explore (default: the only script in the lab's load.scripts)")
	fs.StringVar(&f.loadtests, "loadtests", "", "directory of the k6 scripts (default: the lab file's load.scripts)")
	fs.StringVar(&f.slos, "slos", "", "the SLO definitions the points are judged by (default: the lab file's slos)")
	fs.StringVar(&f.reports, "reports", filepath.Join("reports", "explore"), "where the exploration's report directory goes")
	fs.BoolVar(&f.attach, "attach", false, "explore the lab that chaoslab up started instead of starting (and stopping) one")
	fs.IntVar(&f.rate, "rate", 15, "the journey's steady arrival rate, per second, in the baseline and every point")
	fs.DurationVar(&f.budget, "budget", 10*time.Minute, "wall time the exploration may take, baseline included: a point that would end after it is listed as not run")
	fs.DurationVar(&f.baseline, "baseline", 15*time.Second, "how long the baseline whose traces give the fault space runs")
	fs.DurationVar(&f.pointBaseline, "point-baseline", 5*time.Second, "each point's baseline phase, what its throughput is compared with")
	fs.DurationVar(&f.fault, "fault", 8*time.Second, "each point's fault phase, over which the SLOs must hold")
	fs.DurationVar(&f.recovery, "recovery", 8*time.Second, "the recovery bound: each SLO must be back within this after the fault ends")
	fs.Float64Var(&f.probability, "probability", 0.1, "the share of a method's requests that a method point fails or delays, in (0, 1]")
	fs.Float64Var(&f.throughput, "throughput", 0.8, "the share of the baseline's answered rate the journey must keep during a fault, in (0, 1]")
	fs.DurationVar(&f.latency, "latency", 2*time.Second, "the delay of a method latency point")
	fs.DurationVar(&f.restartAfter, "restart-after", 2*time.Second, "how long after a kill point's SIGKILL the service starts again")
	fs.Uint64Var(&f.seed, "seed", 0, "the seed of the request faults' draws, recorded in the report and in every generated scenario (default: a random one)")
	fs.StringVar(&f.reduce, "reduce", strings.Join(explore.Rules(), ","), "the reduction rules, comma-separated: "+strings.Join(explore.Rules(), ", ")+", or none (docs/explore.md)")
	fs.StringVar(&f.focus, "focus", "", "keep only the points on these services or edges, comma-separated (the space is still built from every trace)")
	fs.StringVar(&f.knobs, "knobs", "", "service flags every point runs with, comma-separated service.flag=value (api.retries=false): explore a weaker configuration")
	fs.IntVar(&f.pairs, "pairs", 0, "after the single points, run up to this many pairs of points that each passed alone")
}

// check validates the flags against lab file lf and returns the knobs and
// the rules.
func (f *exploreFlags) check(lf *labfile.Lab) ([]scenario.Knob, []string, error) {
	switch {
	case f.rate < 1 || f.rate > 10000:
		return nil, nil, usageErr("-rate %d: from 1 to 10000 per second", f.rate)
	case !(f.probability > 0 && f.probability <= 1):
		return nil, nil, usageErr("-probability %g: in (0, 1]", f.probability)
	case !(f.throughput > 0 && f.throughput <= 1):
		return nil, nil, usageErr("-throughput %g: in (0, 1]", f.throughput)
	case f.budget <= 0:
		return nil, nil, usageErr("-budget %s: must be positive", f.budget)
	case f.baseline < 5*time.Second, f.pointBaseline < 3*time.Second, f.fault < 3*time.Second, f.recovery < 3*time.Second:
		return nil, nil, usageErr("-baseline (5s at least), -point-baseline, -fault and -recovery (3s at least) must each hold a few scrapes")
	case f.restartAfter <= 0 || f.restartAfter >= f.fault:
		return nil, nil, usageErr("-restart-after %s: positive and shorter than -fault (%s)", f.restartAfter, f.fault)
	}
	var rules []string
	if f.reduce != "none" {
		for _, r := range strings.Split(f.reduce, ",") {
			r = strings.TrimSpace(r)
			if !slices.Contains(explore.Rules(), r) {
				return nil, nil, usageErr("-reduce: unknown rule %q; the rules are %s, or none", r, strings.Join(explore.Rules(), ", "))
			}
			rules = append(rules, r)
		}
	}
	for _, on := range splitList(f.focus) {
		_, svc := lf.Service(on)
		_, edge := lf.Edge(on)
		if !svc && !edge {
			return nil, nil, usageErr("-focus %q: not a service or edge of lab %s (services: %s; edges: %s)", on, lf.Name,
				strings.Join(lf.ServiceNames(), ", "), strings.Join(lf.EdgeNames(), ", "))
		}
	}
	var knobs []scenario.Knob
	for _, kv := range splitList(f.knobs) {
		key, value, ok := strings.Cut(kv, "=")
		svc, flagName, ok2 := strings.Cut(key, ".")
		if !ok || !ok2 {
			return nil, nil, usageErr("-knobs %q: want service.flag=value", kv)
		}
		if err := lf.CheckKnob(svc, flagName, value); err != nil {
			return nil, nil, usageErr("-knobs %s: %v", kv, err)
		}
		knobs = append(knobs, scenario.Knob{Service: svc, Flag: flagName, Value: value})
	}
	return knobs, rules, nil
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// journeyScript is -journey, or the only script in dir.
func journeyScript(journey, dir string) (string, error) {
	if journey != "" {
		return journey, nil
	}
	scripts, err := filepath.Glob(filepath.Join(dir, "*.js"))
	if err != nil {
		return "", err
	}
	if len(scripts) != 1 {
		names := make([]string, len(scripts))
		for i, s := range scripts {
			names[i] = filepath.Base(s)
		}
		return "", usageErr("-journey: name the k6 script of the journey to explore; %s holds %s", dir, strings.Join(names, ", "))
	}
	return filepath.Base(scripts[0]), nil
}

// runExplore is `chaoslab explore`.
func runExplore(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "explore", `explore [flags]

Finds the faults that break a lab, without a scenario written by hand:
  1. runs a short baseline of the journey (-journey) under steady load and reads
     its traces from Jaeger: which edges, methods and services it reaches, in what order;
  2. builds the fault space of what was reached: each edge × {down, blackhole, reset},
     each method × {UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, latency} (a -probability
     share of its requests), each service × {kill, pause}; what no trace reached is
     listed, not run;
  3. runs each point as a generated scenario (baseline, fault, recovery), judged by the
     lab's SLOs, the journey's throughput, the client's failures and latency (k6), a
     recovery bound and the lab's invariants; a point passes only if its fault was seen to act;
  4. skips what the failures so far make redundant (-reduce), explaining each skip;
  5. writes a matrix (index.html, explore.json, junit.xml) and, for each failed point,
     a scenario file that chaoslab validate accepts and chaoslab run reproduces.
Starts its own lab (or -attach to the one chaoslab up started) and stops it at the end.
Exit 0: no point failed; 1: some did (the findings); 3: none failed but some could not
be decided; 2: bad input; 4: the lab or the baseline could not be used.

Examples:
  chaoslab explore -journey checkout.js
  chaoslab explore -journey checkout.js -knobs api.retries=false -focus store
  chaoslab explore -lab examples/bookings/lab.yaml -budget 6m`)
	o := labFlags(fs, env)
	o.chaosFlags(fs)
	var ef exploreFlags
	ef.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("explore takes no arguments, got %q", strings.Join(fs.Args(), " "))
	}
	if err := o.check(); err != nil {
		return err
	}
	lf, err := loadLabFile(ef.labFile)
	if err != nil {
		return err
	}
	sf := suiteFlags{loadtests: ef.loadtests, slos: ef.slos, labFile: ef.labFile}
	sf.fromLab(lf)
	knobs, rules, err := ef.check(lf)
	if err != nil {
		return err
	}
	journey, err := journeyScript(ef.journey, sf.loadtests)
	if err != nil {
		return err
	}
	opts, defs, err := scenarioChecks(sf.loadtests, sf.slos, lf)
	if err != nil {
		return err
	}
	if err := scenario.ScriptsIn(sf.loadtests)(journey); err != nil {
		return usageErr("-journey: %v", err)
	}
	seed := ef.seed
	if seed == 0 {
		seed = rand.Uint64N(1<<53) + 1
	}
	runID := time.Now().UTC().Format("20060102-150405")
	dir, err := filepath.Abs(filepath.Join(ef.reports, runID))
	if err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}

	var running lab
	if ef.attach {
		if running, err = o.attach(lf); err != nil {
			return &exitError{code: exitcode.Infra, err: err}
		}
	} else {
		fmt.Fprintf(env.Stdout, "starting a %s of lab %s to explore\n", o.describe(), lf.Name)
		if running, err = o.up(ctx, lf, env.Stdout); err != nil {
			return &exitError{code: exitcode.Infra, err: err}
		}
		defer o.stop(ctx, env)
	}
	r, release, err := newRunner(ctx, env, running, lf, o, sf.loadtests, defs)
	if err != nil {
		return err
	}
	defer release()
	r.RunID = runID
	x := &explore.Explorer{
		// The runner's own Jaeger and Prometheus clients: one connection each.
		Lab: lf, SLOs: defs, Traces: r.Traces, Progress: env.Stdout, Stack: o.stack, Prometheus: r.Prometheus,
		Run: func(ctx context.Context, sc *scenario.Scenario, dir string) *journal.Journal {
			r.ReportDir = dir
			return r.Run(ctx, sc)
		},
		Parse: func(name string, data []byte) (*scenario.Scenario, error) { return scenario.Parse(name, data, opts...) },
	}
	fmt.Fprintf(env.Stdout, "exploring lab %s with %s at %d/s (seed %d, budget %s, report in %s)\n", lf.Name, journey, ef.rate, seed, ef.budget, dir)
	res, err := x.Explore(ctx, explore.Options{
		Experiment: explore.Experiment{Journey: journey, Rate: ef.rate, Baseline: ef.pointBaseline, Fault: ef.fault,
			Recovery: ef.recovery, Throughput: ef.throughput, Knobs: knobs},
		BaselineFor: ef.baseline,
		Space:       explore.SpaceOptions{Probability: ef.probability, Latency: ef.latency, RestartAfter: ef.restartAfter, Seed: seed},
		Rules:       rules, Pairs: ef.pairs, Focus: splitList(ef.focus), Budget: ef.budget, Dir: dir, RunID: runID,
	})
	if res != nil {
		if werr := explore.Write(dir, res); werr != nil {
			fmt.Fprintf(env.Stderr, "writing the report: %v\n", werr)
		}
	}
	switch {
	case errors.Is(err, explore.ErrBaseline):
		return &exitError{code: exitcode.Infra, err: err}
	case err != nil && ctx.Err() != nil:
		return &exitError{code: exitcode.Infra, err: fmt.Errorf("interrupted: faults rolled back; the matrix so far is in %s", dir)}
	case err != nil:
		return &exitError{code: exitcode.Infra, err: err}
	}
	fmt.Fprintln(env.Stdout)
	explore.Summary(env.Stdout, res)
	fmt.Fprintf(env.Stdout, "\nmatrix: %s\n", filepath.Join(dir, "index.html"))
	switch {
	case res.Count(explore.StatusFail) > 0:
		return &exitError{code: exitcode.CheckFailed, err: fmt.Errorf("%d points broke the lab (findings above)", res.Count(explore.StatusFail))}
	case res.Count(explore.StatusInconclusive)+res.Count(explore.StatusError) > 0:
		return &exitError{code: exitcode.Inconclusive, err: fmt.Errorf("no point failed, but %d could not be decided", res.Count(explore.StatusInconclusive)+res.Count(explore.StatusError))}
	}
	return nil
}
