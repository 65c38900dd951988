package report

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/journal"
)

// costJournal is scenario name started at start (seconds), with phases of
// the given lengths one after the other from start+lead, finished tail
// seconds after the last.
func costJournal(name string, start, lead, tail float64, phaseLens ...float64) *journal.Journal {
	j := &journal.Journal{Scenario: name, Started: at(start)}
	t := start + lead
	for i, l := range phaseLens {
		j.Phases = append(j.Phases, journal.Phase{Name: string(rune('a' + i)), Start: at(t), End: at(t + l)})
		t += l
	}
	j.Finished = at(t + tail)
	return j
}

func TestCostOf(t *testing.T) {
	js := []*journal.Journal{
		costJournal("one", 0, 2, 3, 10, 5),   // 20 s, 15 s of phases
		costJournal("two", 21, 0.5, 0.5, 10), // 11 s, 10 s of phases; a 1 s gap before it
	}
	c := CostOf(js)
	assert.Equal(t, 2, c.Scenarios)
	assert.Equal(t, 25*time.Second, c.Phases)
	assert.Equal(t, 6*time.Second, c.Overhead)
	assert.Equal(t, 3*time.Second, c.PerScenario())
	assert.Equal(t, 32*time.Second, c.Wall)
	assert.Equal(t, 3500*time.Millisecond, c.WallPerScenario(), "the gap between scenarios counts")
	assert.Zero(t, CostOf(nil).PerScenario())
}

func TestCost(t *testing.T) {
	before := []*journal.Journal{costJournal("baseline", 0, 2, 3, 15), costJournal("kill", 30, 2.5, 2.5, 30)}
	after := []*journal.Journal{costJournal("baseline", 0, 0.5, 1, 15), costJournal("kill", 20, 0.5, 1.5, 30), costJournal("new", 60, 1, 1, 5)}
	after[0].Harness = &journal.Harness{StartOffset: 0.5, LastScrape: 0.4, Checks: 0.6}

	t.Run("before and after", func(t *testing.T) {
		var b strings.Builder
		Cost(&b, []string{"before", "after"}, [][]*journal.Journal{before, after})
		lines := strings.Split(b.String(), "\n")
		require.GreaterOrEqual(t, len(lines), 7)
		assert.Regexp(t, `^SCENARIO +PHASES +OVERHEAD before +OVERHEAD after`, lines[0])
		assert.Regexp(t, `^baseline +15.00s +5.00s +1.50s`, lines[1])
		assert.Regexp(t, `^kill +30.00s +5.00s +2.00s`, lines[2])
		assert.Regexp(t, `^new +5.00s +- +2.00s`, lines[3], "a scenario one run lacks")
		assert.Regexp(t, `^mean +5.00s +1.83s`, lines[4])
		assert.Contains(t, b.String(), "before: 2 scenarios, 45.00s of phases, 10.00s of overhead (5.00s per scenario)")
		assert.NotContains(t, b.String(), "last scrape", "no breakdown when comparing runs")
	})
	t.Run("one run, broken down", func(t *testing.T) {
		var b strings.Builder
		Cost(&b, []string{"after"}, [][]*journal.Journal{after})
		lines := strings.Split(b.String(), "\n")
		assert.Regexp(t, `last scrape +checks +plots +restore +k6 late`, lines[0])
		assert.Regexp(t, `^baseline +15.00s +1.50s +0.00s +0.00s +0.50s +0.00s +0.00s +0.40s +0.60s`, lines[1])
		assert.Regexp(t, `^kill +30.00s +2.00s +- +-`, lines[2], "a journal without the runner's times")
	})
}
