package slo

import (
	"context"
	"fmt"
	"math"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/scenario"
)

// Defaults for a hand-built RecoveryCheck that leaves them unset; the
// scenario parser always sets them.
const (
	defaultConsecutive = 3
	defaultStep        = time.Second
)

// EvaluateRecovery measures how long after the end of phase c.After (the
// fault's removal) the SLI c.Query is back within c.Tolerance, and holds it
// to c.Within.
//
// The query is sampled with a range query every c.Step from the end of
// c.After until runEnd. The recovery time is the time of the first of
// c.Consecutive samples in a row that meet the tolerance, minus the end of
// c.After: 0 when the SLI is within tolerance at once. A missing step (no
// data at that time) or a NaN sample breaks a run of samples. The check
// passes when the recovery time is at most c.Within, fails when it is longer
// or when the SLI never recovers before runEnd, and is inconclusive when no
// sample holds a number. A relative tolerance compares with the query
// evaluated at the very end of the phase it names: the SLI's short fixed
// range then covers that phase only. RecoverySeconds is set whenever the SLI
// recovered. When c.SLO names an SLO definition, resolveSLO gives its SLI
// (with $window), sampled over c.Range.
func EvaluateRecovery(ctx context.Context, q Querier, c scenario.RecoveryCheck, phases []journal.Phase, runEnd time.Time, resolveSLO func(name string) (string, error)) journal.Check {
	out := journal.Check{Name: c.Name, Kind: journal.KindRecovery, Phase: c.After, Objective: c.Tolerance.String()}
	if c.SLO != "" {
		query, err := resolve(c.SLO, resolveSLO)
		if err != nil {
			return inconclusive(out, err.Error())
		}
		c.Query = scenario.WithWindow(query, c.Range)
	}
	step, consecutive := c.Step, c.Consecutive
	if step <= 0 {
		step = defaultStep
	}
	if consecutive <= 0 {
		consecutive = defaultConsecutive
	}
	p, err := findPhase(phases, c.After)
	if err != nil {
		return inconclusive(out, err.Error())
	}
	faultEnd := p.End
	if !runEnd.After(faultEnd) {
		return inconclusive(out, fmt.Sprintf("the run ended (%s) before the end of %s (%s): no time to recover in", stamp(runEnd), p.Name, stamp(faultEnd)))
	}
	remaining := runEnd.Sub(faultEnd)

	base := math.NaN()
	var warnings promv1.Warnings
	if c.Tolerance.Relative() {
		bp, err := findPhase(phases, c.Tolerance.RelativeTo)
		if err != nil {
			return inconclusive(out, "the tolerance's base: "+err.Error())
		}
		b := instant(ctx, q, c.Query, bp.End)
		rec := journal.Query{PromQL: c.Query, At: bp.End}
		record(&rec, b)
		out.Queries = append(out.Queries, rec)
		warnings = append(warnings, b.warnings...)
		switch {
		case b.err != "":
			return inconclusive(out, fmt.Sprintf("base %s: querying Prometheus: %s", bp.Name, b.err))
		case b.problem != "":
			return inconclusive(out, fmt.Sprintf("base %s: %s", bp.Name, b.problem))
		case b.empty:
			return inconclusive(out, fmt.Sprintf("base %s has no series (empty result): no tolerance to compare with", bp.Name))
		case b.nan:
			return inconclusive(out, fmt.Sprintf("base %s is NaN (like 0/0: nothing measured): no tolerance to compare with", bp.Name))
		}
		base = b.value
	}
	threshold := c.Tolerance.Threshold(base)
	out.Threshold = finite(threshold)
	tol := comparison(c.Tolerance, base, threshold)

	rec := journal.Query{PromQL: c.Query, At: faultEnd, Window: scenario.PromDuration(remaining.Round(time.Millisecond))}
	samples, w, err := rangeSamples(ctx, q, c.Query, faultEnd, runEnd, step)
	warnings = append(warnings, w...)
	if err != nil {
		rec.Error = err.Error()
		out.Queries = append(out.Queries, rec)
		return withWarnings(inconclusive(out, fmt.Sprintf("sampling after %s: %v", p.Name, err)), warnings)
	}
	rec.Empty = len(samples) == 0
	out.Queries = append(out.Queries, rec)

	var (
		streak, numbers int
		first, last     model.SamplePair
		prev            model.Time
	)
	recovered := false
	for i, s := range samples {
		if i > 0 && s.Timestamp.Sub(prev) > step+step/2 {
			streak = 0 // a step without data
		}
		prev = s.Timestamp
		v := float64(s.Value)
		if math.IsNaN(v) {
			streak = 0
			continue
		}
		numbers++
		last = s
		if !c.Tolerance.Eval(v, base) {
			streak = 0
			continue
		}
		if streak == 0 {
			first = s
		}
		streak++
		if streak >= consecutive {
			recovered = true
			break
		}
	}
	if numbers == 0 {
		return withWarnings(inconclusive(out, fmt.Sprintf("no data after %s: %d samples over the remaining %s, none a number",
			p.Name, len(samples), secs(remaining))), warnings)
	}
	// From here on the outcome rests on samples: the SLI was measured after
	// the fault, whether it came back in time or not.
	out.OnData = true
	if !recovered {
		out.Value = finite(float64(last.Value))
		out.Outcome = journal.Fail
		out.Detail = fmt.Sprintf("not recovered within the remaining %s after %s: never %d samples in a row %s (last %s at +%s) → fail",
			secs(remaining), p.Name, consecutive, tol, num(float64(last.Value)), secs(since(last, faultEnd)))
		return withWarnings(out, warnings)
	}
	rt := since(first, faultEnd)
	out.Value = finite(float64(first.Value))
	out.RecoverySeconds = journal.Float(rt.Seconds())
	out.Outcome = journal.Pass
	verb := "within"
	if rt > c.Within {
		out.Outcome = journal.Fail
		verb = "more than"
	}
	out.Detail = fmt.Sprintf("recovered %s after the end of %s (%d samples in a row %s, the first %s), %s %s → %s",
		secs(rt), p.Name, consecutive, tol, num(float64(first.Value)), verb, secs(c.Within), out.Outcome)
	return withWarnings(out, warnings)
}

// since returns how long after t the sample was taken, at least 0 (the
// range query's first step may be a millisecond early).
func since(s model.SamplePair, t time.Time) time.Duration {
	d := s.Timestamp.Time().Sub(t).Round(time.Millisecond)
	return max(d, 0)
}

// secs formats a duration in seconds: "4s", "2.5s".
func secs(d time.Duration) string {
	return num(d.Round(time.Millisecond).Seconds()) + "s"
}

// rangeSamples runs a range query that must return at most one series and
// returns its samples in time order.
func rangeSamples(ctx context.Context, q Querier, query string, start, end time.Time, step time.Duration) ([]model.SamplePair, promv1.Warnings, error) {
	if step <= 0 {
		return nil, nil, fmt.Errorf("step %s: must be positive", step)
	}
	if err := waitUntil(ctx, end); err != nil {
		return nil, nil, fmt.Errorf("waiting for the end of the range %s: %w", end.Format(time.RFC3339), err)
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	v, warnings, err := q.QueryRange(ctx, query, promv1.Range{Start: start, End: end, Step: step})
	if err != nil {
		return nil, warnings, fmt.Errorf("querying Prometheus: %w", err)
	}
	switch m := v.(type) {
	case model.Matrix:
		switch len(m) {
		case 0:
			return nil, warnings, nil
		case 1:
			if len(m[0].Histograms) > 0 {
				return nil, warnings, fmt.Errorf("returned native histograms, not numbers: use histogram_quantile() or similar")
			}
			return m[0].Values, warnings, nil
		default:
			return nil, warnings, fmt.Errorf("returned %d series (%s): the query must return one; aggregate it with sum(), max() or similar", len(m), labelSets(matrixMetrics(m)))
		}
	case nil:
		return nil, warnings, nil
	default:
		return nil, warnings, fmt.Errorf("returned a %s, not a range of one series", v.Type())
	}
}

// SampleSeries samples query from start to end every step, for a plot: the
// points of its one series as [unix seconds, value], without NaN or
// infinite values. An empty result is a series without points; several
// series are an error (aggregate the query).
func SampleSeries(ctx context.Context, q Querier, name, unit, query string, start, end time.Time, step time.Duration) (journal.Series, error) {
	s := journal.Series{Name: name, Unit: unit, Points: [][2]float64{}}
	samples, _, err := rangeSamples(ctx, q, query, start, end, step)
	if err != nil {
		return s, fmt.Errorf("sampling %s: %w", name, err)
	}
	for _, p := range samples {
		v := float64(p.Value)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		s.Points = append(s.Points, [2]float64{float64(p.Timestamp) / 1000, v})
	}
	return s, nil
}

// matrixMetrics returns the label sets of a matrix's series.
func matrixMetrics(m model.Matrix) []model.Metric {
	out := make([]model.Metric, len(m))
	for i, s := range m {
		out[i] = s.Metric
	}
	return out
}
