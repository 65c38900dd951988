package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/chaoslab/chaoslab/harness/exitcode"
	"os"
	"path/filepath"
	"strings"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/chaoslab/chaoslab/harness/auth"
	"github.com/chaoslab/chaoslab/harness/journal"
	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/load"
	"github.com/chaoslab/chaoslab/harness/report"
	"github.com/chaoslab/chaoslab/harness/runner"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/slodef"
	"github.com/chaoslab/chaoslab/harness/traces"
)

// suiteFlags are the flags of run and chaos.
type suiteFlags struct {
	scenarios string
	name      string
	loadtests string
	reports   string
	slos      string
	labFile   string
	repeat    int
	// sensitivity runs the scenarios with their faults replaced by no-ops.
	sensitivity bool
	// shard, when set (chaos -shard K/N), is the part of the library the
	// selection is: each journal and report directory records it.
	shard *journal.Shard
}

func (s *suiteFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.scenarios, "scenarios", "", "directory of scenario files, used when no file is given (default: scenarios/ in the lab file's root)")
	fs.StringVar(&s.name, "scenario", "", "run only the scenario with this name (see chaoslab list)")
	fs.StringVar(&s.loadtests, "loadtests", "", "directory of the k6 scripts (default: the lab file's load.scripts)")
	fs.StringVar(&s.reports, "reports", filepath.Join("reports", "chaos"), "where each run's report directory goes")
	fs.StringVar(&s.slos, "slos", "", "SLO definitions that scenario checks refer to by name (default: the lab file's slos)")
	registerLabFile(fs, &s.labFile)
	fs.IntVar(&s.repeat, "repeat", 1, "run the selection this many rounds on the same lab, a report directory per round, and end with how steady each scenario's verdict was")
	fs.BoolVar(&s.sensitivity, "sensitivity", false, "sensitivity run: run every expect-pass scenario that has faults with its faults replaced by no-ops (nothing injected) and require that a check then fails on data; exit 1 when a scenario does not notice its fault missing")
}

// forSensitivity keeps the scenarios a sensitivity run applies to — those
// that expect to pass and have at least one fault — and says why it leaves
// the others out; none left is a usage error.
func forSensitivity(env Env, scs []*scenario.Scenario) ([]*scenario.Scenario, error) {
	var out []*scenario.Scenario
	for _, sc := range scs {
		switch {
		case sc.Expect != scenario.ExpectPass:
			fmt.Fprintf(env.Stdout, "not in the sensitivity run: %s (expect %s: it shows that the gate can fail)\n", sc.Name, sc.Expect)
		case sc.FaultCount() == 0:
			fmt.Fprintf(env.Stdout, "not in the sensitivity run: %s (no fault to leave out)\n", sc.Name)
		default:
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, usageErr("a sensitivity run needs a scenario that expects to pass and has faults; none of the %d selected has", len(scs))
	}
	return out, nil
}

// selectScenarios loads and validates the scenarios named by args (files or
// directories; none: the scenarios directory) and the SLO definitions their
// checks name, before anything starts, with the lab file they were checked
// against (the one the stacks then run).
func (s *suiteFlags) selectScenarios(args []string) ([]*scenario.Scenario, *slodef.Set, *labfile.Lab, error) {
	if s.repeat < 1 || s.repeat > 100 {
		return nil, nil, nil, usageErr("-repeat must be from 1 to 100, got %d", s.repeat)
	}
	lf, err := loadLabFile(s.labFile)
	if err != nil {
		return nil, nil, nil, err
	}
	s.fromLab(lf)
	if len(args) == 0 {
		args = []string{s.scenarios}
	}
	opt, defs, err := scenarioChecks(s.loadtests, s.slos, lf)
	if err != nil {
		return nil, nil, nil, err
	}
	var out []*scenario.Scenario
	var problems []error
	for _, a := range args {
		info, err := os.Stat(a)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		if info.IsDir() {
			scs, err := scenario.LoadDir(a, opt...)
			if err != nil {
				problems = append(problems, err)
			}
			out = append(out, scs...)
			continue
		}
		sc, err := scenario.Load(a, opt...)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		out = append(out, sc)
	}
	if len(problems) > 0 {
		return nil, nil, nil, &exitError{code: exitcode.Usage, err: fmt.Errorf("invalid scenarios, nothing was run:\n%w", errors.Join(problems...))}
	}
	if s.name != "" {
		for _, sc := range out {
			if sc.Name == s.name {
				return []*scenario.Scenario{sc}, defs, lf, nil
			}
		}
		names := make([]string, 0, len(out))
		for _, sc := range out {
			names = append(names, sc.Name)
		}
		return nil, nil, nil, usageErr("no scenario named %q; there are: %s", s.name, strings.Join(names, ", "))
	}
	if len(out) == 0 {
		return nil, nil, nil, usageErr("no scenario files found in %s", strings.Join(args, ", "))
	}
	return out, defs, lf, nil
}

// fromLab fills the paths the flags left empty from the lab file lf.
func (s *suiteFlags) fromLab(lf *labfile.Lab) {
	defaults := labDefaults(lf)
	if s.scenarios == "" {
		s.scenarios = defaults.scenarios
	}
	if s.loadtests == "" {
		s.loadtests = defaults.loadtests
	}
	if s.slos == "" {
		s.slos = defaults.slos
	}
}

// scenarioChecks loads the SLO definitions in slos ("": none) and returns
// the options that make scenario files name only the services, edges and
// knobs of lab file lf, k6 scripts in loadtests and SLOs that the
// definitions define.
func scenarioChecks(loadtests, slos string, lf *labfile.Lab) ([]scenario.Option, *slodef.Set, error) {
	defs := &slodef.Set{File: "the lab file's slos (none)"}
	if slos != "" {
		var err error
		if defs, err = slodef.Load(slos); err != nil {
			return nil, nil, usageErr("%v", err)
		}
	}
	return []scenario.Option{
		scenario.WithLab(lf),
		scenario.WithScriptCheck(scenario.ScriptsIn(loadtests)),
		scenario.WithSLOCheck(func(name string) error {
			_, err := defs.SLO(name)
			return err
		}),
	}, defs, nil
}

// runCmd runs scenarios against an already running local lab.
func runCmd(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "run", "run [flags] [file|dir ...]\n\nRuns scenarios against the running lab (chaoslab up) and writes a report directory;\nexit 0 when every scenario ended as expected.")
	o := labFlags(fs, env)
	var sf suiteFlags
	sf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	scs, defs, lf, err := sf.selectScenarios(fs.Args())
	if err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	if scs, err = forStack(env, scs, o.stack); err != nil {
		return err
	}
	if scs, err = o.forCapabilities(env, scs, lf, namedBy(fs.Args(), sf.name)); err != nil {
		return err
	}
	if sf.sensitivity {
		if scs, err = forSensitivity(env, scs); err != nil {
			return err
		}
	}
	lab, err := o.attach(lf)
	if err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	return runSuite(ctx, env, lab, lf, o, sf, scs, defs)
}

// runSuite runs the scenarios on lab one after the other, writes the suite
// report and maps the verdicts to the exit code. The lab file lf gives the
// settle probe, the invariants, the plots, the restart order and the load's
// token.
func runSuite(ctx context.Context, env Env, lab lab, lf *labfile.Lab, o *labOptions, sf suiteFlags, scs []*scenario.Scenario, defs *slodef.Set) error {
	r, release, err := newRunner(ctx, env, lab, lf, o, sf.loadtests, defs)
	if err != nil {
		return err
	}
	defer release()
	r.Sensitivity, r.Shard = sf.sensitivity, sf.shard
	runID := newRunID(time.Now(), sf.shard)
	// k6 runs in the report directory: every path it gets must be absolute.
	reports, err := filepath.Abs(sf.reports)
	if err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	var rounds [][]*journal.Journal
	for round := 1; round <= sf.repeat && ctx.Err() == nil; round++ {
		r.RunID = runID
		if sf.repeat > 1 {
			r.RunID = fmt.Sprintf("%s-r%d", runID, round)
			fmt.Fprintf(env.Stdout, "\n=== round %d of %d\n", round, sf.repeat)
		}
		r.ReportDir = filepath.Join(reports, r.RunID)
		if err := writeManifest(r.ReportDir, r.RunID, sf.shard, scs); err != nil {
			return &exitError{code: exitcode.Infra, err: err}
		}
		rounds = append(rounds, runRound(ctx, env, r, scs))
	}
	var all []*journal.Journal
	for _, js := range rounds {
		all = append(all, js...)
	}
	if sf.repeat > 1 {
		fmt.Fprintln(env.Stdout)
		report.Stability(env.Stdout, rounds)
	}
	if ctx.Err() != nil {
		return &exitError{code: exitcode.Infra, err: fmt.Errorf("interrupted: faults rolled back, %d of %d scenarios ran", len(all), len(scs)*sf.repeat)}
	}
	if code := report.ExitCode(all); code != exitcode.OK {
		return &exitError{code: code, err: fmt.Errorf("not every scenario ended as expected (see the summary above)")}
	}
	return nil
}

// runRound runs scs once with r, one after the other, and writes and prints
// the round's report and summary.
func runRound(ctx context.Context, env Env, r *runner.Runner, scs []*scenario.Scenario) []*journal.Journal {
	fmt.Fprintf(env.Stdout, "running %d scenarios (run %s, reports in %s)\n", len(scs), r.RunID, r.ReportDir)
	var js []*journal.Journal
	for i, sc := range scs {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(env.Stdout, "\n[%d/%d]", i+1, len(scs))
		js = append(js, r.Run(ctx, sc))
	}
	if err := report.WriteSuite(r.ReportDir, js); err != nil {
		fmt.Fprintf(env.Stderr, "writing the suite report: %v\n", err)
	}
	fmt.Fprintln(env.Stdout)
	report.Summary(env.Stdout, js)
	if r.Sensitivity {
		fmt.Fprintln(env.Stdout, "\nSensitivity: each scenario ran with its faults replaced by no-ops; a check must fail on data.")
		report.SensitivityTable(env.Stdout, js)
	}
	fmt.Fprintf(env.Stdout, "\nreport: %s\n", filepath.Join(r.ReportDir, "index.html"))
	return js
}

// newRunner returns a runner of scenarios on lab, with everything it
// reads and the faults it applies wired: the lab file lf's settle probe,
// invariants, plots, restart order and token, the SLO definitions defs,
// Prometheus, Jaeger, the fault ledger (after rolling back what a crashed
// run left) and the fault windows the harness serves. release undoes what
// newRunner opened.
func newRunner(ctx context.Context, env Env, lab lab, lf *labfile.Lab, o *labOptions, loadtestsDir string, defs *slodef.Set) (_ *runner.Runner, release func(), err error) {
	var undo []func()
	release = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	infra := func(err error) (*runner.Runner, func(), error) {
		return nil, release, &exitError{code: exitcode.Infra, err: err}
	}
	e := lab.Endpoints()
	k6, err := filepath.Abs(filepath.Join(o.toolsDir, "k6"))
	if err != nil {
		return infra(err)
	}
	loadtests, err := filepath.Abs(loadtestsDir)
	if err != nil {
		return infra(err)
	}
	vars := harnessVars(lf, e, lab.RunDir())
	checks, releaseChecks, err := labChecks(lf, e, vars)
	if err != nil {
		return infra(err)
	}
	undo = append(undo, releaseChecks)
	token, err := auth.Token(ctx, lf, lab.RunDir(), vars, time.Now())
	if err != nil {
		return infra(err)
	}
	scriptEnv, err := scriptEnv(lf, lab.RunDir(), vars)
	if err != nil {
		return infra(err)
	}
	inj, ledger, err := injectorFor(lab)
	if err != nil {
		return infra(err)
	}
	undo = append(undo, func() { ledger.Close() })
	// A previous run that crashed may have left faults in place, and
	// services running with its knobs.
	rolled, err := inj.RollbackPending(ctx)
	if err != nil {
		return infra(fmt.Errorf("rolling back the faults and knobs of a previous run: %w", err))
	}
	if len(rolled.Faults) > 0 {
		fmt.Fprintf(env.Stdout, "rolled back %d faults left by a previous run\n", len(rolled.Faults))
	}
	for _, k := range rolled.Knobs {
		fmt.Fprintln(env.Stdout, restoredKnobs(k))
	}
	pc, err := promapi.NewClient(promapi.Config{Address: e.PrometheusURL})
	if err != nil {
		return infra(err)
	}
	jc, err := traces.Dial(e.JaegerQueryGRPC)
	if err != nil {
		return infra(err)
	}
	undo = append(undo, func() { jc.Close() })
	windows, stopWindows, err := faultWindows(ctx, env, inj, e.HarnessMetricsAddr)
	if err != nil {
		return infra(err)
	}
	undo = append(undo, stopWindows)
	return &runner.Runner{
		Stack:          lab,
		Faults:         windows,
		Prometheus:     promv1.NewAPI(pc),
		Traces:         jc,
		Checks:         checks,
		Plots:          lf.Plots,
		ServiceOrder:   lf.StartOrder(),
		ResolveSLO:     defs.Resolve,
		Load:           load.Run,
		K6:             k6,
		LoadtestsDir:   loadtests,
		Token:          token,
		ScriptEnv:      scriptEnv,
		StackName:      o.stack,
		Progress:       env.Stdout,
		ScrapeInterval: lf.Telemetry.Prometheus.ScrapeInterval,
		SpanFlush:      lf.Telemetry.SpanFlush,
		Targets:        promv1.NewAPI(pc),
		IsDefault:      knobDefault(lf),
	}, release, nil
}

// forStack keeps the scenarios that run on the stack and says which it
// leaves out; none left is a usage error.
func forStack(env Env, scs []*scenario.Scenario, stackName string) ([]*scenario.Scenario, error) {
	var out []*scenario.Scenario
	for _, sc := range scs {
		if sc.RunsOn(stackName) {
			out = append(out, sc)
			continue
		}
		fmt.Fprintf(env.Stdout, "not on the %s stack: %s (runs on %s)\n", stackName, sc.Name, strings.Join(sc.Stacks, ", "))
	}
	if len(out) == 0 {
		return nil, usageErr("none of the %d scenarios runs on the %s stack", len(scs), stackName)
	}
	return out, nil
}

// scriptEnv is what the k6 scripts get besides the harness's contract:
// the lab's load.env and, with the client-credentials provider, the
// issuer's token URL and the client to fetch fresh tokens as.
func scriptEnv(lf *labfile.Lab, runDir string, vars labfile.HarnessVars) (map[string]string, error) {
	env := map[string]string{}
	for _, e := range lf.Load.Env {
		env[e.Name] = e.Value
	}
	if lf.Load.Auth.Provider == labfile.AuthClient {
		c, err := auth.ClientCredentials(lf, runDir, vars)
		if err != nil {
			return nil, err
		}
		env["TOKEN_URL"], env["CLIENT_ID"], env["CLIENT_SECRET"] = c.TokenURL, c.ClientID, c.ClientSecret
	}
	return env, nil
}
