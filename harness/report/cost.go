package report

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/chaoslab/chaoslab/harness/journal"
)

// RunCost is what a run's scenarios cost beyond their phases, from their
// journals' timestamps.
type RunCost struct {
	// Scenarios is how many journals the run has; Phases the sum of their
	// phases' durations; Overhead the sum of their overheads
	// (journal.Journal.Overhead).
	Scenarios        int
	Phases, Overhead time.Duration
	// Wall is from the first scenario's start to the last one's end: the
	// overheads plus the gaps between scenarios (reports written, …).
	Wall time.Duration
}

// PerScenario is the mean overhead of a scenario.
func (c RunCost) PerScenario() time.Duration {
	if c.Scenarios == 0 {
		return 0
	}
	return c.Overhead / time.Duration(c.Scenarios)
}

// WallPerScenario is the mean wall time of a scenario beyond its phases,
// the gaps between scenarios included.
func (c RunCost) WallPerScenario() time.Duration {
	if c.Scenarios == 0 {
		return 0
	}
	return (c.Wall - c.Phases) / time.Duration(c.Scenarios)
}

// CostOf tallies the cost of the journals of one run.
func CostOf(js []*journal.Journal) RunCost {
	c := RunCost{Scenarios: len(js)}
	var first, last time.Time
	for _, j := range js {
		c.Phases += j.PhaseTime()
		c.Overhead += j.Overhead()
		if first.IsZero() || j.Started.Before(first) {
			first = j.Started
		}
		if j.Finished.After(last) {
			last = j.Finished
		}
	}
	if last.After(first) {
		c.Wall = last.Sub(first)
	}
	return c
}

// Cost writes a table of what each scenario of runs cost beyond its phases
// — one OVERHEAD column per run, labelled by labels (say, the report
// directories of a run before and after a change) — then each run's totals.
// With one run whose journals have the runner's steps (journal.Harness),
// the table breaks each overhead down into them.
func Cost(w io.Writer, labels []string, runs [][]*journal.Journal) {
	var names []string
	byRun := make([]map[string]*journal.Journal, len(runs))
	for i, js := range runs {
		byRun[i] = map[string]*journal.Journal{}
		for _, j := range js {
			byRun[i][j.Scenario] = j
			if !slices.Contains(names, j.Scenario) {
				names = append(names, j.Scenario)
			}
		}
	}
	breakdown := false
	if len(runs) == 1 {
		for _, j := range runs[0] {
			breakdown = breakdown || j.Harness != nil
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "SCENARIO\tPHASES\t")
	for _, l := range labels {
		fmt.Fprintf(tw, "OVERHEAD %s\t", l)
	}
	if breakdown {
		fmt.Fprint(tw, "knobs\tobserved\tk6 lead\tload tail\tsettle\tlast scrape\tchecks\tplots\trestore\tk6 late\t")
	}
	fmt.Fprintln(tw)
	for _, name := range names {
		var phases time.Duration
		for i := range runs {
			if j := byRun[i][name]; j != nil {
				phases = j.PhaseTime()
				break
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t", oneLine(name), secs(phases))
		for i := range runs {
			if j := byRun[i][name]; j != nil {
				fmt.Fprintf(tw, "%s\t", secs(j.Overhead()))
			} else {
				fmt.Fprint(tw, "-\t")
			}
		}
		if breakdown {
			if h := byRun[0][name].Harness; h != nil {
				for _, v := range []float64{h.Knobs, h.Observed, h.StartOffset, h.LoadTail, h.Settle, h.LastScrape, h.Checks, h.Series, h.Restore, h.K6Late} {
					fmt.Fprintf(tw, "%.2fs\t", v)
				}
			} else {
				fmt.Fprint(tw, "-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t")
			}
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprint(tw, "mean\t\t")
	for _, js := range runs {
		fmt.Fprintf(tw, "%s\t", secs(CostOf(js).PerScenario()))
	}
	fmt.Fprintln(tw)
	_ = tw.Flush()
	fmt.Fprintln(w)
	for i, js := range runs {
		c := CostOf(js)
		fmt.Fprintf(w, "%s: %d scenarios, %s of phases, %s of overhead (%s per scenario); first start to last end %s (%s per scenario beyond the phases)\n",
			labels[i], c.Scenarios, secs(c.Phases), secs(c.Overhead), secs(c.PerScenario()), secs(c.Wall), secs(c.WallPerScenario()))
	}
}

// secs formats d in seconds with two decimals.
func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
