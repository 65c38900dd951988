package scenario

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestObjectiveRequiresChange(t *testing.T) {
	tests := []struct {
		objective string
		want      bool
	}{
		{"> baseline", true},
		{">= baseline + 0.03", true},
		{">= 2 * baseline", true},
		{">= baseline", false},
		{">= 0.5 * baseline", false},
		{"< baseline", true},
		{"<= baseline - 0.1", true},
		{"<= 0.5 * baseline", true},
		{"<= 2 * baseline", false},
		{"<= baseline + 0.1", false},
		{"== 2", false},
		{">= 0.99", false},
		{"< 0.5", false},
	}
	for _, tt := range tests {
		t.Run(tt.objective, func(t *testing.T) {
			o, err := ParseObjective(tt.objective)
			require.NoError(t, err)
			assert.Equal(t, tt.want, o.RequiresChange())
		})
	}
}

func TestSensitivityWarning(t *testing.T) {
	const head = `name: t
purpose: p
expect: %s
load: {script: checkout.js, executor: constant-arrival-rate, rate: 1}
phases:
  - {name: baseline, duration: 10s}
  - name: fault
    duration: 10s
    faults: [{network: {edge: store->ledger, toxic: latency, attributes: {latency: 50}}}]
  - {name: recovery, duration: 15s}
checks:
`
	tests := []struct {
		name, expect, checks string
		warn                 bool
	}{
		{"only bounds, a recovery and invariants", "pass", `  slo:
    - {name: p99, phase: fault, query: 'max_over_time(x[$window])', objective: "< 0.5"}
    - {name: avail, phase: fault, query: 'max_over_time(x[$window])', objective: ">= 0.99"}
  recovery:
    - {name: r, after: fault, query: up, tolerance: ">= 1", within: 5s}
  invariants: [no_double_debit]
`, true},
		{"a bound relative to the baseline that an unchanged value meets", "pass", `  slo:
    - {name: p99, phase: fault, query: 'max_over_time(x[$window])', objective: "<= 2 * baseline"}
`, true},
		{"the median must move", "pass", `  slo:
    - {name: med, phase: fault, query: 'max_over_time(x[$window])', objective: ">= baseline + 0.03"}
`, false},
		{"a state the fault sets", "pass", `  slo:
    - {name: open, phase: fault, query: 'max_over_time(x[$window])', objective: "== 2"}
`, false},
		{"a span event", "pass", `  traces:
    - {name: retried, phase: fault, service: api, require_event: {name: retry}}
`, false},
		{"expect fail is not asked", "fail", `  slo:
    - {name: p99, phase: fault, query: 'max_over_time(x[$window])', objective: "< 0.5"}
`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(fmt.Sprintf(head, tt.expect)+tt.checks), WithScriptCheck(anyScript), WithLab(testLab(t)))
			require.NoError(t, err)
			w := s.SensitivityWarning()
			if !tt.warn {
				assert.Empty(t, w)
				return
			}
			assert.Contains(t, w, "t.yaml: no check can be seen to notice its faults missing")
		})
	}

	t.Run("no fault, nothing to miss", func(t *testing.T) {
		s, err := Parse("t.yaml", []byte(`name: t
purpose: p
expect: pass
load: {script: checkout.js, executor: constant-arrival-rate, rate: 1}
phases: [{name: steady, duration: 10s}]
checks:
  slo: [{name: p99, phase: steady, query: 'max_over_time(x[$window])', objective: "< 0.5"}]
`), WithScriptCheck(anyScript), WithLab(testLab(t)))
		require.NoError(t, err)
		assert.Empty(t, s.SensitivityWarning())
	})
}
