package report

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/chaoslab/chaoslab/harness/journal"
)

func TestStability(t *testing.T) {
	run := func(name, expect, outcome, errText string) *journal.Journal {
		j := &journal.Journal{Scenario: name, Expect: expect, Outcome: outcome, Error: errText}
		if outcome != "" {
			j.Checks = []journal.Check{{Name: "c", Outcome: outcome, OnData: true}}
		}
		return j
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

func TestSensitivityTable(t *testing.T) {
	noop := []journal.Fault{{Kind: "network", Target: "orders->payments", NoOp: true}}
	run := func(name, verdict string, checks ...journal.Check) *journal.Journal {
		return &journal.Journal{Scenario: name, Expect: journal.Fail, Sensitivity: true, Faults: noop, Checks: checks, Verdict: verdict}
	}
	js := []*journal.Journal{
		run("latency", journal.AsExpected,
			journal.Check{Name: "median-moves", Kind: journal.KindSLO, Outcome: journal.Fail, OnData: true},
			journal.Check{Name: "p99", Kind: journal.KindSLO, Outcome: journal.Pass, OnData: true}),
		run("blackhole", journal.Unexpected, journal.Check{Name: "p99", Kind: journal.KindSLO, Outcome: journal.Pass, OnData: true}),
		run("renamed", journal.VerdictInconclusive, journal.Check{Name: "gone", Kind: journal.KindSLO, Outcome: journal.Fail}),
	}
	var b strings.Builder
	SensitivityTable(&b, js)
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	assert.Equal(t, []string{
		"SCENARIO   NO-OP FAULTS              CAUGHT BY (failed on data)  SENSITIVE",
		"latency    network orders->payments  slo/median-moves            yes",
		"blackhole  network orders->payments  -                           INSENSITIVE",
		"renamed    network orders->payments  -                           inconclusive",
		"1 of 3 scenarios noticed that their faults did nothing",
	}, lines)
}
