package cli

import (
	"context"
	"fmt"
	"github.com/chaoslab/chaoslab/harness/exitcode"
	"time"

	"github.com/chaoslab/chaoslab/faults"
)

// runClean removes every fault chaoslab left in the running lab and restores
// the defaults of every service left with knobs.
func runClean(ctx context.Context, env Env, args []string) error {
	fset := newFlagSet(env, "clean", `clean [flags]

Removes every fault chaoslab left in the running lab: those its fault ledger
(<run dir>/`+faults.LedgerFile+`) says may still be in place — a runner that
crashed or was killed leaves them — and, to be sure, every toxic and in-service
fault named chaoslab-*. Proxies are enabled again, paused services resumed and
killed services restarted (containers started, unpaused, reconnected with -stack compose).
Knobs are rolled back too: a service the ledger says a run restarted with a
scenario's knobs, or that the lab's state says runs with flags other than its
defaults, is restarted with the lab's defaults. Exits 4 when there is no lab or
a fault could not be removed or a service's defaults restored (it stays in the
ledger: run clean again).`)
	o := labFlags(fset, env)
	timeout := fset.Duration("timeout", 2*time.Minute, "give up after this long (restarting a service waits until it is ready)")
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return usageErr("clean takes no arguments, got %q", fset.Args())
	}
	if err := o.check(); err != nil {
		return err
	}
	// Rolling back restarts services with their defaults, which the lab's
	// state records: clean needs no lab file.
	lab, err := o.attach(nil)
	if err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	inj, ledger, err := injectorFor(lab)
	if err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	defer ledger.Close()

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	rb, err := inj.RollbackPending(ctx)
	for _, a := range rb.Faults {
		fmt.Fprintf(env.Stdout, "rolled back %s (from run %s, phase %s)\n", a.Summary(), a.RunID, a.Phase)
	}
	fromLedger := len(rb.Faults)
	for _, k := range rb.Knobs {
		fmt.Fprintln(env.Stdout, restoredKnobs(k))
		if k.ID != "" {
			fromLedger++
		}
	}
	if err != nil {
		return &exitError{code: exitcode.Infra, err: fmt.Errorf("the lab is not clean: %w\n(what could not be removed stays in %s: fix the cause and run `chaoslab clean` again)", err, ledger.Path())}
	}
	if fromLedger == 0 {
		fmt.Fprintln(env.Stdout, "no fault pending in the ledger")
	}
	fmt.Fprintln(env.Stdout, "lab is clean")
	return nil
}

// restoredKnobs says that the rollback restarted k's service with its
// defaults, and whose knobs it ran with: "restored store's defaults:
// -breaker=false -retries=false were set by run X, scenario Y".
func restoredKnobs(k faults.Knobs) string {
	switch {
	case k.ID == "":
		return fmt.Sprintf("restored %s's defaults: it ran with %s, which no run in the ledger set", k.Service, k.FlagString())
	case k.AppliedAt.IsZero():
		return fmt.Sprintf("restored %s's defaults: %s were being set by run %s, scenario %s", k.Service, k.FlagString(), k.RunID, k.Scenario)
	}
	return fmt.Sprintf("restored %s's defaults: %s were set by run %s, scenario %s", k.Service, k.FlagString(), k.RunID, k.Scenario)
}
