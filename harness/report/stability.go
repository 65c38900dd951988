package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/chaoslab/chaoslab/harness/journal"
)

// Stability writes how steady the verdicts of repeated runs of the same
// scenarios were (chaoslab chaos -repeat N): for each scenario, in the
// order it first ran, how many of its runs ended as expected and the
// outcome of each run, then one line that says whether every verdict held.
// A gate that a release depends on should hold in every round.
func Stability(w io.Writer, rounds [][]*journal.Journal) {
	type row struct {
		asExpected int
		outcomes   []string // one per run
	}
	var order []string
	rows := map[string]*row{}
	for _, js := range rounds {
		for _, j := range js {
			name := oneLine(j.Scenario)
			r, ok := rows[name]
			if !ok {
				r = &row{}
				rows[name] = r
				order = append(order, name)
			}
			o := outcome(j)
			switch v := verdict(j); v {
			case journal.AsExpected:
				r.asExpected++
			case journal.VerdictError:
				o = v
			default:
				o += "(" + strings.ReplaceAll(v, "_", " ") + ")"
			}
			r.outcomes = append(r.outcomes, o)
		}
	}
	fmt.Fprintf(w, "Verdict stability over %d rounds:\n", len(rounds))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tAS EXPECTED\tOUTCOME PER ROUND")
	steady := 0
	for _, name := range order {
		r := rows[name]
		if r.asExpected == len(r.outcomes) {
			steady++
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\n", name, r.asExpected, len(r.outcomes), strings.Join(r.outcomes, " "))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d of %d scenarios ended as expected in every round\n", steady, len(order))
}
