package cli

import (
	"context"
	"fmt"

	"github.com/chaoslab/chaoslab/harness/stack/local"
)

// runDown stops every process of the local lab, even if `up` was killed.
func runDown(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "down", "down [flags]\n\nStops every process the lab started (SIGTERM, then SIGKILL after -stop-grace), from its state file.")
	cfg := labFlags(fs, env)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.Progress = env.Stdout
	if err := local.Down(ctx, *cfg); err != nil {
		return &exitError{code: ExitInfra, err: err}
	}
	fmt.Fprintln(env.Stdout, "lab down")
	return nil
}
