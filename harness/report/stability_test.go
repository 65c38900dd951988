package report

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/chaoslab/chaoslab/harness/journal"
)

func TestStability(t *testing.T) {
	run := func(name, expect, outcome, errText string) *journal.Journal {
		return &journal.Journal{Scenario: name, Expect: expect, Outcome: outcome, Error: errText}
	}
	rounds := [][]*journal.Journal{
		{run("baseline", "pass", "pass", ""), run("no-retries", "fail", "fail", ""), run("resets", "pass", "pass", "")},
		{run("baseline", "pass", "pass", ""), run("no-retries", "fail", "fail", ""), run("resets", "pass", "fail", "")},
		{run("baseline", "pass", "pass", ""), run("no-retries", "fail", "fail", ""), run("resets", "pass", "", "k6 died")},
	}
	var b strings.Builder
	Stability(&b, rounds)
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	assert.Equal(t, []string{
		"Verdict stability over 3 rounds:",
		"SCENARIO    AS EXPECTED  OUTCOME PER ROUND",
		"baseline    3/3          pass pass pass",
		"no-retries  3/3          fail fail fail",
		"resets      1/3          pass fail(unexpected) error",
		"2 of 3 scenarios ended as expected in every round",
	}, lines)
}
