package cli

import "context"

// runStatus shows what runs, whether it is ready, and its memory.
func runStatus(ctx context.Context, env Env, args []string) error {
	fset := newFlagSet(env, "status", "status [flags]\n\nShows each lab component: pid, running, ready, resident memory; exits 4 unless all are ready.")
	o := labFlags(fset, env)
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	return o.p.Status(ctx, env.Stdout)
}
