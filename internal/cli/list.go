package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

// runList prints the scenario library: name, expectation, duration, faults
// and purpose.
func runList(_ context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "list", "list [flags] [file|dir ...]\n\nLists the scenarios (default: scenarios/) with what each shows.")
	var sf suiteFlags
	sf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	scs, _, _, err := sf.selectScenarios(fs.Args())
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SCENARIO\tEXPECT\tDURATION\tFAULTS\tPURPOSE")
	var total time.Duration
	for _, sc := range scs {
		var d time.Duration
		var fs []string
		for _, p := range sc.Phases {
			d += p.Duration
			for _, f := range p.Faults {
				fs = append(fs, f.Kind()+" "+f.Target())
			}
		}
		total += d
		faults := strings.Join(fs, ", ")
		if faults == "" {
			faults = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", sc.Name, sc.Expect, d, faults, truncate(strings.Join(strings.Fields(sc.Purpose), " "), 90))
	}
	w.Flush()
	fmt.Fprintf(env.Stdout, "\n%d scenarios, %s of phases in all\n", len(scs), total)
	return nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
