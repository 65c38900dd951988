package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/chaoslab/chaoslab/harness/journal"
)

// SensitivityTable writes the table of a sensitivity run (chaoslab chaos
// -sensitivity): for each scenario run with its faults replaced by no-ops,
// the faults it went without, the checks that caught the missing fault
// (those that failed on data), and whether it was sensitive — then one
// line that says whether every scenario was. A scenario that no check
// caught is INSENSITIVE: its verdict would be the same if its injector
// silently did nothing.
func SensitivityTable(w io.Writer, js []*journal.Journal) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tNO-OP FAULTS\tCAUGHT BY (failed on data)\tSENSITIVE")
	sensitive := 0
	for _, j := range js {
		var faults []string
		for _, f := range j.Faults {
			if f.NoOp {
				faults = append(faults, f.Kind+" "+f.Target)
			}
		}
		var caught []string
		for _, c := range j.Checks {
			if c.Outcome == journal.Fail && c.OnData {
				caught = append(caught, c.Kind+"/"+c.Name)
			}
		}
		mark := "INSENSITIVE"
		switch verdict(j) {
		case journal.AsExpected:
			mark = "yes"
			sensitive++
		case journal.VerdictInconclusive:
			mark = "inconclusive"
		case journal.VerdictError:
			mark = "error"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", oneLine(j.Scenario), orDash(strings.Join(faults, ", ")), orDash(strings.Join(caught, ", ")), mark)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d of %d scenarios noticed that their faults did nothing\n", sensitive, len(js))
}
