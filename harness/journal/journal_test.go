package journal

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecide(t *testing.T) {
	onData := func(o string) Check { return Check{Name: "m-" + o, Outcome: o, OnData: true} }
	noData := func(o string) Check { return Check{Name: "e-" + o, Outcome: o} }
	tests := []struct {
		name    string
		checks  []Check
		expect  string
		outcome string
		verdict string
		reason  string // a part of the reason; "" none
	}{
		{"all pass on data, expect pass", []Check{onData(Pass), onData(Pass)}, Pass, Pass, AsExpected, ""},
		{"one fails on data, expect pass", []Check{onData(Pass), onData(Fail)}, Pass, Fail, Unexpected, ""},
		{"one fails on missing data, expect pass: fails safe", []Check{onData(Pass), noData(Fail)}, Pass, Fail, Unexpected, "failed without data: e-fail"},
		{"inconclusive, expect pass", []Check{onData(Pass), noData(Inconclusive)}, Pass, Inconclusive, VerdictInconclusive, "e-inconclusive"},
		{"a pass without data is not a pass", []Check{onData(Pass), noData(Pass)}, Pass, Inconclusive, VerdictInconclusive, "e-pass"},
		{"fails on data, expect fail", []Check{onData(Pass), onData(Fail), noData(Inconclusive)}, Fail, Fail, AsExpected, ""},
		{"fails on data and on missing data, expect fail", []Check{noData(Fail), onData(Fail)}, Fail, Fail, AsExpected, ""},
		{"fails only on missing data, expect fail", []Check{onData(Pass), noData(Fail)}, Fail, Fail, VerdictInconclusive, "no check failed on a measurement: e-fail"},
		{"all pass, expect fail", []Check{onData(Pass)}, Fail, Pass, Unexpected, "every check passed"},
		{"undecided, expect fail", []Check{onData(Pass), noData(Inconclusive)}, Fail, Inconclusive, VerdictInconclusive, "not decided: e-inconclusive"},
		{"no checks", nil, Pass, Inconclusive, VerdictInconclusive, "no checks"},
		{"no checks, expect fail", nil, Fail, Inconclusive, VerdictInconclusive, "no checks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.expect, tt.checks)
			assert.Equal(t, tt.outcome, d.Outcome, "outcome")
			assert.Equal(t, tt.outcome, Combine(tt.checks), "Combine agrees")
			assert.Equal(t, tt.verdict, d.Verdict, "verdict")
			if tt.reason == "" {
				assert.Empty(t, d.Reason)
			} else {
				assert.Contains(t, d.Reason, tt.reason)
			}
		})
	}
}

func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	j := &Journal{RunID: "r1", Scenario: "s", Started: time.Unix(10, 0).UTC(),
		Checks: []Check{{Name: "c", Kind: KindSLO, Outcome: Pass, Value: Float(0.5), OnData: true}}, Sensitivity: true,
		Faults: []Fault{{ID: "f", Kind: "network", NoOp: true}}}
	require.NoError(t, Write(dir, j))
	got, err := Read(dir)
	require.NoError(t, err)
	assert.Equal(t, j, got)
}
