package cli

import (
	"context"
	"fmt"
	"github.com/chaoslab/chaoslab/harness/exitcode"
)

// runDown stops every process of the local lab, even if `up` was killed.
func runDown(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "down", "down [flags]\n\nStops every process the local lab started (SIGTERM, then SIGKILL after -stop-grace), from its state\nfile; with -stack compose, removes the compose project's containers, network and volumes.")
	o := labFlags(fs, env)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	if err := o.down(ctx, env.Stdout); err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	fmt.Fprintln(env.Stdout, "lab down")
	return nil
}
