package journal

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCombineAndVerdict(t *testing.T) {
	c := func(outcomes ...string) []Check {
		var out []Check
		for _, o := range outcomes {
			out = append(out, Check{Outcome: o})
		}
		return out
	}
	tests := []struct {
		name    string
		checks  []Check
		expect  string
		outcome string
		verdict string
	}{
		{"all pass, expect pass", c(Pass, Pass), Pass, Pass, AsExpected},
		{"one fails, expect pass", c(Pass, Fail), Pass, Fail, Unexpected},
		{"one fails, expect fail", c(Pass, Fail, Inconclusive), Fail, Fail, AsExpected},
		{"all pass, expect fail", c(Pass), Fail, Pass, Unexpected},
		{"inconclusive", c(Pass, Inconclusive), Pass, Inconclusive, VerdictInconclusive},
		{"no checks", nil, Pass, Inconclusive, VerdictInconclusive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Combine(tt.checks)
			assert.Equal(t, tt.outcome, got)
			assert.Equal(t, tt.verdict, VerdictFor(tt.expect, got))
		})
	}
}

func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	j := &Journal{RunID: "r1", Scenario: "s", Started: time.Unix(10, 0).UTC(),
		Checks: []Check{{Name: "c", Kind: KindSLO, Outcome: Pass, Value: Float(0.5)}}}
	require.NoError(t, Write(dir, j))
	got, err := Read(dir)
	require.NoError(t, err)
	assert.Equal(t, j, got)
}
