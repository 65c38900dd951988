package slo

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/scenario"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// phases as they ran: durations slightly off the nominal 10s/15s/15s, as
// real phases are.
var phases = []journal.Phase{
	{Name: "baseline", Start: t0, End: t0.Add(10*time.Second + 40*time.Millisecond)},
	{Name: "fault", Start: t0.Add(10*time.Second + 40*time.Millisecond), End: t0.Add(25*time.Second + 300*time.Millisecond)},
	{Name: "recovery", Start: t0.Add(25*time.Second + 300*time.Millisecond), End: t0.Add(40*time.Second + 300*time.Millisecond)},
}

const (
	query   = `sum(rate(ok[$window])) / sum(rate(all[$window]))`
	inFault = `sum(rate(ok[15s])) / sum(rate(all[15s]))` // 15.26s rounds to 15s
	inBase  = `sum(rate(ok[10s])) / sum(rate(all[10s]))`
)

var (
	faultAt = phases[1].End.Add(time.Second) // one scrape after the end
	baseAt  = phases[0].End.Add(time.Second)
)

func objective(t *testing.T, s string) scenario.Objective {
	t.Helper()
	o, err := scenario.ParseObjective(s)
	require.NoError(t, err)
	return o
}

func TestEvaluateSLO(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name      string
		objective string
		slo       string // c.SLO instead of the query
		resolve   func(string) (string, error)
		onEmpty   scenario.Outcome
		onNaN     scenario.Outcome
		phase     string
		replies   map[string]reply
		outcome   string
		detail    string // exact when it does not start with "~", else a substring
		value     *float64
		threshold *float64
		queries   []journal.Query
	}{
		{
			name: "absolute pass", objective: ">= 0.99",
			replies: map[string]reply{key(inFault, faultAt): {v: vec(0.995)}},
			outcome: journal.Pass, detail: "fault 0.995 >= 0.99 → pass",
			value: journal.Float(0.995), threshold: journal.Float(0.99),
			queries: []journal.Query{{PromQL: inFault, At: faultAt, Window: "15s", Value: journal.Float(0.995)}},
		},
		{
			name: "absolute fail", objective: ">= 0.99",
			replies: map[string]reply{key(inFault, faultAt): {v: vec(0.9)}},
			outcome: journal.Fail, detail: "fault 0.9 >= 0.99 → fail",
			value: journal.Float(0.9), threshold: journal.Float(0.99),
		},
		{
			name: "scalar result", objective: "< 1",
			replies: map[string]reply{key(inFault, faultAt): {v: &model.Scalar{Value: 0.5}}},
			outcome: journal.Pass, detail: "fault 0.5 < 1 → pass",
		},
		{
			name: "relative pass", objective: "<= 2 * baseline + 0.25",
			replies: map[string]reply{
				key(inFault, faultAt): {v: vec(0.312)},
				key(inBase, baseAt):   {v: vec(0.12)},
			},
			outcome: journal.Pass, detail: "fault 0.312 <= 2 × baseline 0.12 + 0.25 = 0.49 → pass",
			value: journal.Float(0.312), threshold: journal.Float(0.49),
			queries: []journal.Query{
				{PromQL: inFault, At: faultAt, Window: "15s", Value: journal.Float(0.312)},
				{PromQL: inBase, At: baseAt, Window: "10s", Value: journal.Float(0.12)},
			},
		},
		{
			name: "relative fail", objective: "<= baseline - 0.05",
			replies: map[string]reply{
				key(inFault, faultAt): {v: vec(0.2)},
				key(inBase, baseAt):   {v: vec(0.2)},
			},
			outcome: journal.Fail, detail: "fault 0.2 <= baseline 0.2 - 0.05 = 0.15 → fail",
			threshold: journal.Float(0.2 - 0.05),
		},
		{
			name: "relative, factor 1 and no offset", objective: ">= baseline",
			replies: map[string]reply{
				key(inFault, faultAt): {v: vec(3)},
				key(inBase, baseAt):   {v: vec(2)},
			},
			outcome: journal.Pass, detail: "fault 3 >= baseline 2 → pass",
		},
		{
			name: "relative, base empty", objective: "<= 2 * baseline", onEmpty: scenario.Pass,
			replies: map[string]reply{
				key(inFault, faultAt): {v: vec(0.3)},
				key(inBase, baseAt):   {v: vec()},
			},
			outcome: journal.Inconclusive, detail: "fault 0.3, but base baseline has no series (empty result): nothing to compare with",
			value: journal.Float(0.3),
			queries: []journal.Query{
				{PromQL: inFault, At: faultAt, Window: "15s", Value: journal.Float(0.3)},
				{PromQL: inBase, At: baseAt, Window: "10s", Empty: true},
			},
		},
		{
			name: "relative, base NaN", objective: "<= 2 * baseline", onNaN: scenario.Fail,
			replies: map[string]reply{
				key(inFault, faultAt): {v: vec(0.3)},
				key(inBase, baseAt):   {v: vec(nan)},
			},
			outcome: journal.Inconclusive, detail: "~base baseline is NaN",
			queries: []journal.Query{
				{PromQL: inFault, At: faultAt, Window: "15s", Value: journal.Float(0.3)},
				{PromQL: inBase, At: baseAt, Window: "10s", NaN: true},
			},
		},
		{
			name: "relative, base errors", objective: "<= 2 * baseline",
			replies: map[string]reply{
				key(inFault, faultAt): {v: vec(0.3)},
				key(inBase, baseAt):   {err: errors.New("server error: 503")},
			},
			outcome: journal.Inconclusive, detail: "base baseline: querying Prometheus: server error: 503",
		},
		{
			name: "empty, on_empty fail", objective: ">= 0.99", onEmpty: scenario.Fail,
			replies: map[string]reply{key(inFault, faultAt): {v: model.Vector{}}},
			outcome: journal.Fail, detail: "fault: no series (empty result) → on_empty: fail",
			queries: []journal.Query{{PromQL: inFault, At: faultAt, Window: "15s", Empty: true}},
		},
		{
			name: "empty, on_empty pass is inconclusive: nothing measured never passes", objective: "== 0", onEmpty: scenario.Pass,
			replies: map[string]reply{key(inFault, faultAt): {v: model.Vector{}}},
			outcome: journal.Inconclusive, detail: "fault: no series (empty result) → on_empty: inconclusive",
		},
		{
			name: "empty, on_empty unset is inconclusive", objective: "== 0",
			replies: map[string]reply{key(inFault, faultAt): {v: model.Vector{}}},
			outcome: journal.Inconclusive, detail: "fault: no series (empty result) → on_empty: inconclusive",
		},
		{
			name: "empty skips the base of a relative objective", objective: "<= baseline", onEmpty: scenario.Fail,
			replies: map[string]reply{key(inFault, faultAt): {v: model.Vector{}}},
			outcome: journal.Fail, detail: "fault: no series (empty result) → on_empty: fail",
			queries: []journal.Query{{PromQL: inFault, At: faultAt, Window: "15s", Empty: true}},
		},
		{
			name: "NaN, on_nan fail", objective: ">= 0.99", onNaN: scenario.Fail, onEmpty: scenario.Pass,
			replies: map[string]reply{key(inFault, faultAt): {v: vec(nan)}},
			outcome: journal.Fail, detail: "fault: NaN (like 0/0: nothing to measure in the window) → on_nan: fail",
			queries: []journal.Query{{PromQL: inFault, At: faultAt, Window: "15s", NaN: true}},
		},
		{
			name: "NaN, on_nan pass is inconclusive", objective: ">= 0.99", onNaN: scenario.Pass,
			replies: map[string]reply{key(inFault, faultAt): {v: &model.Scalar{Value: model.SampleValue(nan)}}},
			outcome: journal.Inconclusive, detail: "~on_nan: inconclusive",
		},
		{
			name: "several samples", objective: ">= 0.99", onEmpty: scenario.Pass, onNaN: scenario.Pass,
			replies: map[string]reply{key(inFault, faultAt): {v: vec(0.99, 1)}},
			outcome: journal.Inconclusive,
			detail:  `fault: returned 2 series ({code="200"}, {code="201"}): the query must return one value; aggregate it with sum(), max() or similar`,
			queries: []journal.Query{{PromQL: inFault, At: faultAt, Window: "15s",
				Error: `returned 2 series ({code="200"}, {code="201"}): the query must return one value; aggregate it with sum(), max() or similar`}},
		},
		{
			name: "a range vector is not one value", objective: ">= 0.99",
			replies: map[string]reply{key(inFault, faultAt): {v: model.Matrix{}}},
			outcome: journal.Inconclusive, detail: "~returned a matrix, not one value",
		},
		{
			name: "Prometheus error", objective: ">= 0.99", onEmpty: scenario.Fail,
			replies: map[string]reply{key(inFault, faultAt): {err: errors.New(`bad_data: parse error: unexpected ")"`)}},
			outcome: journal.Inconclusive, detail: `fault: querying Prometheus: bad_data: parse error: unexpected ")"`,
			queries: []journal.Query{{PromQL: inFault, At: faultAt, Window: "15s", Error: `bad_data: parse error: unexpected ")"`}},
		},
		{
			name: "infinite value compares, stays out of the JSON fields", objective: "< 0.5",
			replies: map[string]reply{key(inFault, faultAt): {v: vec(math.Inf(1))}},
			outcome: journal.Fail, detail: "fault +Inf < 0.5 → fail",
			queries: []journal.Query{{PromQL: inFault, At: faultAt, Window: "15s"}},
		},
		{
			name: "warnings go into the detail", objective: ">= 0.99",
			replies: map[string]reply{key(inFault, faultAt): {v: vec(1), warnings: promv1.Warnings{"partial data"}}},
			outcome: journal.Pass, detail: "fault 1 >= 0.99 → pass (Prometheus warned: partial data)",
		},
		{
			name: "phase that did not run", objective: ">= 0.99", phase: "cooldown",
			outcome: journal.Inconclusive, detail: `phase "cooldown" did not run`,
		},
		{
			name: "base phase that did not run", objective: "<= 2 * warmup",
			replies: map[string]reply{key(inFault, faultAt): {v: vec(1)}},
			outcome: journal.Inconclusive, detail: `the objective's base: phase "warmup" did not run`,
		},
		{
			name: "slo reference without definitions", objective: ">= 0.99", slo: "checkout-availability",
			outcome: journal.Inconclusive, detail: `slo "checkout-availability": no SLO definitions loaded`,
		},
		{
			name: "slo reference resolved", objective: ">= 0.99", slo: "checkout-availability",
			resolve: func(name string) (string, error) {
				if name != "checkout-availability" {
					return "", errors.New("unknown")
				}
				return query, nil
			},
			replies: map[string]reply{key(inFault, faultAt): {v: vec(1)}},
			outcome: journal.Pass, detail: "fault 1 >= 0.99 → pass",
		},
		{
			name: "slo reference that does not resolve", objective: ">= 0.99", slo: "nope",
			resolve: func(name string) (string, error) {
				return "", errors.New(`no SLO "nope"; defined: checkout-availability`)
			},
			outcome: journal.Inconclusive, detail: `slo "nope": no SLO "nope"; defined: checkout-availability`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := scenario.SLOCheck{Name: "check", Phase: "fault", Query: query, SLO: tt.slo,
				Objective: objective(t, tt.objective), OnEmpty: tt.onEmpty, OnNaN: tt.onNaN}
			if tt.slo != "" {
				c.Query = ""
			}
			if tt.phase != "" {
				c.Phase = tt.phase
			}
			prom := &fakeProm{instant: tt.replies}
			got := EvaluateSLO(t.Context(), prom, c, phases, 0, tt.resolve)

			assert.Equal(t, tt.outcome, got.Outcome)
			// On data exactly when a value was compared with the objective:
			// the detail then ends "→ pass" or "→ fail", never "→ on_…".
			compared := got.Outcome != journal.Inconclusive && !strings.Contains(got.Detail, "→ on_")
			assert.Equal(t, compared, got.OnData, "on data")
			if len(tt.detail) > 0 && tt.detail[0] == '~' {
				assert.Contains(t, got.Detail, tt.detail[1:])
			} else {
				assert.Equal(t, tt.detail, got.Detail)
			}
			assert.Equal(t, "check", got.Name)
			assert.Equal(t, journal.KindSLO, got.Kind)
			assert.Equal(t, c.Phase, got.Phase)
			assert.Equal(t, tt.objective, got.Objective)
			if tt.value != nil {
				require.NotNil(t, got.Value)
				assert.InDelta(t, *tt.value, *got.Value, 1e-12)
			}
			if tt.threshold != nil {
				require.NotNil(t, got.Threshold)
				assert.InDelta(t, *tt.threshold, *got.Threshold, 1e-12)
			}
			if tt.queries != nil {
				assert.Equal(t, tt.queries, got.Queries)
			}
			for _, q := range got.Queries { // whatever happened, the journal can be written
				assert.NotContains(t, q.PromQL, scenario.WindowVar)
			}
		})
	}
}

func TestEvaluateSLOWaitsForItsEvaluationTime(t *testing.T) {
	// A phase that ends in an hour cannot be evaluated yet: the evaluator
	// waits, and gives up when ctx does, without asking Prometheus.
	now := time.Now()
	future := []journal.Phase{{Name: "fault", Start: now, End: now.Add(time.Hour)}}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	prom := &fakeProm{}
	got := EvaluateSLO(ctx, prom, scenario.SLOCheck{Name: "c", Phase: "fault", Query: query, Objective: objective(t, ">= 1")}, future, 0, nil)
	assert.Equal(t, journal.Inconclusive, got.Outcome)
	assert.Contains(t, got.Detail, "waiting for the evaluation time")
	assert.Contains(t, got.Detail, context.Canceled.Error())
	assert.Empty(t, prom.calls)
}

func TestEvaluateSLOAsksAtPhaseEndPlusOneScrape(t *testing.T) {
	tests := []struct {
		name   string
		scrape time.Duration
		lag    time.Duration
	}{
		{"no interval given: the default", 0, DefaultScrapeInterval},
		{"the lab's 1s", time.Second, time.Second},
		{"the lab's 500ms", 500 * time.Millisecond, 500 * time.Millisecond},
		{"the lab's 5s", 5 * time.Second, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prom := &fakeProm{instant: map[string]reply{
				key(inFault, phases[1].End.Add(tt.lag)): {v: vec(0.2)},
				key(inBase, phases[0].End.Add(tt.lag)):  {v: vec(0.1)},
			}}
			got := EvaluateSLO(t.Context(), prom, scenario.SLOCheck{Name: "c", Phase: "fault", Query: query, Objective: objective(t, "<= 3 * baseline")}, phases, tt.scrape, nil)
			require.Len(t, prom.calls, 2)
			assert.Equal(t, call{query: inFault, ts: phases[1].End.Add(tt.lag)}, prom.calls[0])
			assert.Equal(t, call{query: inBase, ts: phases[0].End.Add(tt.lag)}, prom.calls[1])
			assert.Equal(t, journal.Pass, got.Outcome, got.Detail)
			assert.Equal(t, tt.lag, EvalLag(tt.scrape))
		})
	}
}

func TestEvaluateSLOPhaseCutShort(t *testing.T) {
	cut := []journal.Phase{{Name: "fault", Start: t0}}
	got := EvaluateSLO(t.Context(), &fakeProm{}, scenario.SLOCheck{Name: "c", Phase: "fault", Query: query, Objective: objective(t, ">= 1")}, cut, 0, nil)
	assert.Equal(t, journal.Inconclusive, got.Outcome)
	assert.Contains(t, got.Detail, `phase "fault" did not run to its end`)
}
