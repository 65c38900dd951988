package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/chaoslab/chaoslab/harness/exitcode"
	"io/fs"
	"text/tabwriter"

	"github.com/chaoslab/chaoslab/harness/stack/compose"
	"github.com/chaoslab/chaoslab/harness/stack/local"
)

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
	if o.stack == stackCompose {
		return composeStatus(ctx, env, o)
	}
	comps, st, err := local.Status(ctx, o.local)
	if errors.Is(err, fs.ErrNotExist) {
		return &exitError{code: exitcode.Infra, err: fmt.Errorf("no lab in %s: start one with `chaoslab up`", o.local.RunDir)}
	}
	if err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "COMPONENT\tPID\tRUNNING\tREADY\tRSS")
	var total int64
	unhealthy := 0
	for _, c := range comps {
		ready := "yes"
		if c.Ready != nil {
			ready = "no: " + c.Ready.Error()
			unhealthy++
		}
		total += c.RSSBytes
		fmt.Fprintf(w, "%s\t%d\t%t\t%s\t%s\n", c.Name, c.PID, c.Running, ready, mib(c.RSSBytes))
	}
	fmt.Fprintf(w, "total\t\t\t\t%s\n", mib(total))
	w.Flush()
	fmt.Fprintf(env.Stdout, "started %s, run dir %s\n", st.StartedAt.Local().Format("15:04:05"), st.RunDir)
	if unhealthy > 0 {
		return &exitError{code: exitcode.Infra, err: fmt.Errorf("%d of %d components not ready", unhealthy, len(comps))}
	}
	return nil
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// composeStatus shows each container of the compose lab.
func composeStatus(ctx context.Context, env Env, o *labOptions) error {
	comps, st, err := compose.Status(ctx, o.compose)
	if err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "CONTAINER\tSTATE\tREADY")
	unhealthy := 0
	for _, c := range comps {
		ready := "yes"
		if c.Ready != nil {
			ready = "no: " + c.Ready.Error()
			unhealthy++
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", c.Name, c.State, ready)
	}
	w.Flush()
	fmt.Fprintf(env.Stdout, "compose project %s, started %s\n", o.compose.Project, st.StartedAt.Local().Format("15:04:05"))
	if unhealthy > 0 {
		return &exitError{code: exitcode.Infra, err: fmt.Errorf("%d of %d containers not ready", unhealthy, len(comps))}
	}
	return nil
}
