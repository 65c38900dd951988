package cli

import (
	"context"
	"fmt"
	"github.com/chaoslab/chaoslab/harness/exitcode"
	"time"
)

// runChaos brings a lab up, runs the scenario library on it, and tears it
// down — always, also on failure or Ctrl-C. This is `make chaos`.
func runChaos(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "chaos", "chaos [flags] [file|dir ...]\n\nStarts a lab (local processes, or -stack compose), runs every scenario (or -scenario NAME) that\nruns on that stack, stops the lab, and exits 0 only if every scenario met its expectation.\nWith -sensitivity, every expect-pass scenario with faults runs with its faults replaced by no-ops and\nmust fail on data: the run proves that each scenario notices a fault that did nothing.")
	o := labFlags(fs, env)
	o.chaosFlags(fs)
	var sf suiteFlags
	sf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	scs, defs, lf, err := sf.selectScenarios(fs.Args())
	if err != nil {
		return err
	}
	scs, err = forStack(env, scs, o.stack)
	if err != nil {
		return err
	}
	if sf.sensitivity {
		if scs, err = forSensitivity(env, scs); err != nil {
			return err
		}
	}
	start := time.Now()
	fmt.Fprintf(env.Stdout, "starting a %s of lab %s for %d scenarios\n", o.describe(), lf.Name, len(scs))
	lab, err := o.up(ctx, lf, env.Stdout)
	if err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		fmt.Fprintln(env.Stdout, "\nstopping the lab")
		if derr := o.down(dctx, env.Stdout); derr != nil {
			fmt.Fprintf(env.Stderr, "stopping the lab: %v\n", derr)
		}
		fmt.Fprintf(env.Stdout, "chaos run took %s\n", time.Since(start).Round(time.Second))
	}()
	return runSuite(ctx, env, lab, lf, o, sf, scs, defs)
}
