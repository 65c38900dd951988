package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/chaoslab/chaoslab/harness/stack/local"
)

// runChaos brings a lab up, runs the scenario library on it, and tears it
// down — always, also on failure or Ctrl-C. This is `make chaos`.
func runChaos(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "chaos", "chaos [flags] [file|dir ...]\n\nStarts a local lab, runs every scenario (or -scenario NAME) on it, stops the lab, and exits 0 only\nif every scenario met its expectation.")
	cfg := labFlags(fs, env)
	cfg.RunDir = filepath.Join(".run", "chaos")
	fs.StringVar(&cfg.RunDir, "chaos-run-dir", cfg.RunDir, "run dir of the lab this command starts")
	var sf suiteFlags
	sf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	scs, err := sf.selectScenarios(fs.Args())
	if err != nil {
		return err
	}
	start := time.Now()
	cfg.Progress = env.Stdout
	fmt.Fprintf(env.Stdout, "starting a lab for %d scenarios in %s\n", len(scs), cfg.RunDir)
	lab, err := local.Up(ctx, *cfg)
	if err != nil {
		return &exitError{code: ExitInfra, err: err}
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		fmt.Fprintln(env.Stdout, "\nstopping the lab")
		if derr := local.Down(dctx, *cfg); derr != nil {
			fmt.Fprintf(env.Stderr, "stopping the lab: %v\n", derr)
		}
		fmt.Fprintf(env.Stdout, "chaos run took %s\n", time.Since(start).Round(time.Second))
	}()
	return runSuite(ctx, env, lab, *cfg, sf, scs)
}
