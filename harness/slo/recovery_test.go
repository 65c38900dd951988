package slo

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/scenario"
)

func TestEvaluateRecovery(t *testing.T) {
	const sli = `sum(rate(ok[5s])) / sum(rate(all[5s]))`
	faultEnd := phases[1].End
	runEnd := faultEnd.Add(20 * time.Second)
	ok, bad, nan := 1.0, 0.5, math.NaN()
	after := func(values ...float64) map[string]reply {
		return map[string]reply{sli: {v: stream(faultEnd, time.Second, values...)}}
	}
	cat := func(parts ...[]float64) []float64 {
		var out []float64
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name      string
		tolerance string
		within    time.Duration
		instant   map[string]reply
		ranges    map[string]reply
		outcome   string
		detail    string // exact, or a substring after "~"
		seconds   *float64
		threshold *float64
		noRange   bool // the check stops before sampling
	}{
		{
			name: "within at once", tolerance: ">= 0.99", within: 10 * time.Second,
			ranges:  after(repeat(ok, 21)...),
			outcome: journal.Pass, seconds: journal.Float(0), threshold: journal.Float(0.99),
			detail: "recovered 0s after the end of fault (3 samples in a row >= 0.99, the first 1), within 10s → pass",
		},
		{
			name: "recovers after 4 samples", tolerance: ">= 0.99", within: 10 * time.Second,
			ranges:  after(cat(repeat(bad, 4), repeat(ok, 17))...),
			outcome: journal.Pass, seconds: journal.Float(4),
			detail: "recovered 4s after the end of fault (3 samples in a row >= 0.99, the first 1), within 10s → pass",
		},
		{
			name: "a dip restarts the count", tolerance: ">= 0.99", within: 10 * time.Second,
			ranges:  after(bad, ok, ok, bad, ok, ok, ok, bad),
			outcome: journal.Pass, seconds: journal.Float(4),
		},
		{
			name: "a missing step restarts the count", tolerance: ">= 0.99", within: 10 * time.Second,
			ranges:  after(bad, ok, ok, missing, ok, ok, ok),
			outcome: journal.Pass, seconds: journal.Float(4),
		},
		{
			name: "NaN restarts the count", tolerance: ">= 0.99", within: 10 * time.Second,
			ranges:  after(bad, ok, nan, ok, ok, ok),
			outcome: journal.Pass, seconds: journal.Float(3),
		},
		{
			name: "recovers, but later than within", tolerance: ">= 0.99", within: 10 * time.Second,
			ranges:  after(cat(repeat(bad, 12), repeat(ok, 9))...),
			outcome: journal.Fail, seconds: journal.Float(12),
			detail: "recovered 12s after the end of fault (3 samples in a row >= 0.99, the first 1), more than 10s → fail",
		},
		{
			name: "never recovers", tolerance: ">= 0.99", within: 10 * time.Second,
			ranges:  after(cat(repeat(bad, 20), []float64{0.82})...),
			outcome: journal.Fail,
			detail:  "not recovered within the remaining 20s after fault: never 3 samples in a row >= 0.99 (last 0.82 at +20s) → fail",
		},
		{
			name: "back in tolerance too late to count", tolerance: ">= 0.99", within: 30 * time.Second,
			ranges:  after(cat(repeat(bad, 19), repeat(ok, 2))...),
			outcome: journal.Fail, detail: "~not recovered within the remaining 20s",
		},
		{
			name: "no data at all", tolerance: ">= 0.99", within: 10 * time.Second,
			ranges:  map[string]reply{sli: {v: model.Matrix{}}},
			outcome: journal.Inconclusive, detail: "no data after fault: 0 samples over the remaining 20s, none a number",
		},
		{
			name: "only NaN", tolerance: ">= 0.99", within: 10 * time.Second,
			ranges:  after(repeat(nan, 21)...),
			outcome: journal.Inconclusive, detail: "no data after fault: 21 samples over the remaining 20s, none a number",
		},
		{
			name: "Prometheus error", tolerance: ">= 0.99", within: 10 * time.Second,
			ranges:  map[string]reply{sli: {err: errors.New("server error: 503")}},
			outcome: journal.Inconclusive, detail: "sampling after fault: querying Prometheus: server error: 503",
		},
		{
			name: "several series", tolerance: ">= 0.99", within: 10 * time.Second,
			ranges:  map[string]reply{sli: {v: append(stream(faultEnd, time.Second, ok), stream(faultEnd, time.Second, ok)...)}},
			outcome: journal.Inconclusive, detail: "~returned 2 series ({}, {}): the query must return one",
		},
		{
			name: "relative tolerance", tolerance: ">= 0.9 * baseline", within: 10 * time.Second,
			instant: map[string]reply{key(sli, phases[0].End): {v: vec(100)}},
			ranges:  after(50, 80, 95, 95, 95),
			outcome: journal.Pass, seconds: journal.Float(2), threshold: journal.Float(90),
			detail: "recovered 2s after the end of fault (3 samples in a row >= 0.9 × baseline 100 = 90, the first 95), within 10s → pass",
		},
		{
			name: "relative tolerance, base empty", tolerance: ">= 0.9 * baseline", within: 10 * time.Second,
			instant: map[string]reply{key(sli, phases[0].End): {v: vec()}},
			ranges:  after(ok, ok, ok),
			outcome: journal.Inconclusive, detail: "base baseline has no series (empty result): no tolerance to compare with", noRange: true,
		},
		{
			name: "relative tolerance, base NaN", tolerance: ">= 0.9 * baseline", within: 10 * time.Second,
			instant: map[string]reply{key(sli, phases[0].End): {v: vec(math.NaN())}},
			ranges:  after(ok, ok, ok),
			outcome: journal.Inconclusive, detail: "~base baseline is NaN", noRange: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := scenario.RecoveryCheck{Name: "recovers", After: "fault", Query: sli,
				Tolerance: objective(t, tt.tolerance), Consecutive: 3, Step: time.Second, Within: tt.within}
			prom := &fakeProm{instant: tt.instant, ranges: tt.ranges}
			got := EvaluateRecovery(t.Context(), prom, c, phases, runEnd, nil)

			assert.Equal(t, tt.outcome, got.Outcome, got.Detail)
			// Every pass or fail rests on samples of the SLI after the fault;
			// only the inconclusive ones do not.
			assert.Equal(t, got.Outcome != journal.Inconclusive, got.OnData, "on data")
			if len(tt.detail) > 0 && tt.detail[0] == '~' {
				assert.Contains(t, got.Detail, tt.detail[1:])
			} else if tt.detail != "" {
				assert.Equal(t, tt.detail, got.Detail)
			}
			assert.Equal(t, journal.KindRecovery, got.Kind)
			assert.Equal(t, "fault", got.Phase)
			assert.Equal(t, tt.tolerance, got.Objective)
			if tt.seconds != nil {
				require.NotNil(t, got.RecoverySeconds)
				assert.InDelta(t, *tt.seconds, *got.RecoverySeconds, 1e-9)
			} else {
				assert.Nil(t, got.RecoverySeconds)
			}
			if tt.threshold != nil {
				require.NotNil(t, got.Threshold)
				assert.InDelta(t, *tt.threshold, *got.Threshold, 1e-9)
			}
			// The range starts at the fault's removal and ends with the run.
			var ranged []call
			for _, c := range prom.calls {
				if c.ts.IsZero() {
					ranged = append(ranged, c)
				}
			}
			if tt.noRange {
				assert.Empty(t, ranged)
			} else {
				require.Len(t, ranged, 1)
				assert.Equal(t, promv1.Range{Start: faultEnd, End: runEnd, Step: time.Second}, ranged[0].r)
				require.NotEmpty(t, got.Queries)
				last := got.Queries[len(got.Queries)-1]
				assert.Equal(t, sli, last.PromQL)
				assert.Equal(t, faultEnd, last.At)
				assert.Equal(t, "20s", last.Window)
			}
		})
	}
}

func TestEvaluateRecoveryStepAndConsecutive(t *testing.T) {
	const sli = `x`
	faultEnd := phases[1].End
	runEnd := faultEnd.Add(10 * time.Second)
	// Sampled every 500ms: 2 bad samples, then 5 good ones in a row needed.
	values := append(repeat(0, 2), repeat(1, 19)...)
	prom := &fakeProm{ranges: map[string]reply{sli: {v: stream(faultEnd, 500*time.Millisecond, values...)}}}
	c := scenario.RecoveryCheck{Name: "r", After: "fault", Query: sli, Tolerance: objective(t, "> 0.5"),
		Consecutive: 5, Step: 500 * time.Millisecond, Within: 2 * time.Second}
	got := EvaluateRecovery(t.Context(), prom, c, phases, runEnd, nil)
	assert.Equal(t, journal.Pass, got.Outcome, got.Detail)
	require.NotNil(t, got.RecoverySeconds)
	assert.InDelta(t, 1.0, *got.RecoverySeconds, 1e-9)
	assert.Equal(t, "recovered 1s after the end of fault (5 samples in a row > 0.5, the first 1), within 2s → pass", got.Detail)
	require.Len(t, prom.calls, 1)
	assert.Equal(t, 500*time.Millisecond, prom.calls[0].r.Step)
}

func TestEvaluateRecoveryNoTimeLeft(t *testing.T) {
	c := scenario.RecoveryCheck{Name: "r", After: "recovery", Query: "x", Tolerance: objective(t, "> 0"), Within: time.Second}
	got := EvaluateRecovery(t.Context(), &fakeProm{}, c, phases, phases[2].End, nil)
	assert.Equal(t, journal.Inconclusive, got.Outcome)
	assert.Contains(t, got.Detail, "no time to recover in")
}

func TestSampleSeries(t *testing.T) {
	start := t0
	end := t0.Add(4 * time.Second)
	tests := []struct {
		name   string
		reply  reply
		points [][2]float64
		err    string
	}{
		{
			name:  "points in unix seconds, NaN and infinities dropped",
			reply: reply{v: stream(start, time.Second, 0.1, math.NaN(), 0.3, math.Inf(1), 0.5)},
			points: [][2]float64{
				{float64(t0.Unix()), 0.1},
				{float64(t0.Unix()) + 2, 0.3},
				{float64(t0.Unix()) + 4, 0.5},
			},
		},
		{name: "no data", reply: reply{v: model.Matrix{}}, points: [][2]float64{}},
		{name: "error", reply: reply{err: errors.New("timeout")}, err: "sampling p99: querying Prometheus: timeout"},
		{
			name:  "several series",
			reply: reply{v: append(stream(start, time.Second, 1), stream(start, time.Second, 2)...)},
			err:   "sampling p99: returned 2 series",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prom := &fakeProm{ranges: map[string]reply{"q": tt.reply}}
			s, err := SampleSeries(t.Context(), prom, "p99", "s", "q", start, end, time.Second)
			require.Len(t, prom.calls, 1)
			assert.Equal(t, promv1.Range{Start: start, End: end, Step: time.Second}, prom.calls[0].r)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, journal.Series{Name: "p99", Unit: "s", Points: tt.points}, s)
		})
	}
}

// A recovery check that names an SLO samples that SLO's SLI over its range;
// an SLO that cannot be resolved leaves the check inconclusive.
func TestEvaluateRecoveryOfAnSLO(t *testing.T) {
	const sli = `sum(rate(good[$window])) / sum(rate(all[$window]))`
	resolver := func(name string) (string, error) {
		if name != "availability" {
			return "", fmt.Errorf("unknown SLO %q", name)
		}
		return sli, nil
	}
	faultEnd := phases[1].End
	runEnd := faultEnd.Add(10 * time.Second)
	tests := []struct {
		name        string
		slo         string
		resolve     func(string) (string, error)
		wantOutcome string
		wantDetail  string
	}{
		{"resolved and sampled over its range", "availability", resolver, journal.Pass, "recovered 2s after the end of fault"},
		{"unknown SLO", "latency", resolver, journal.Inconclusive, `slo "latency": unknown SLO "latency"`},
		{"no definitions", "availability", nil, journal.Inconclusive, `slo "availability": no SLO definitions loaded`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const sampled = `sum(rate(good[2s])) / sum(rate(all[2s]))`
			prom := &fakeProm{ranges: map[string]reply{sampled: {v: stream(faultEnd, time.Second, append(repeat(0.5, 2), repeat(1, 9)...)...)}}}
			c := scenario.RecoveryCheck{Name: "r", After: "fault", SLO: tt.slo, Range: 2 * time.Second,
				Tolerance: objective(t, ">= 0.99"), Consecutive: 3, Step: time.Second, Within: 5 * time.Second}
			got := EvaluateRecovery(t.Context(), prom, c, phases, runEnd, tt.resolve)
			assert.Equal(t, tt.wantOutcome, got.Outcome, got.Detail)
			assert.Contains(t, got.Detail, tt.wantDetail)
			if tt.wantOutcome == journal.Pass {
				require.Len(t, prom.calls, 1)
				assert.Equal(t, sampled, prom.calls[0].query)
			} else {
				assert.Empty(t, prom.calls, "nothing is queried")
			}
		})
	}
}
