// Package slo evaluates a scenario's Prometheus checks after the run: SLO
// checks over each phase's own window (absolute and relative objectives,
// with the on_empty and on_nan policies), recovery checks (the time from a
// fault's removal until the SLI is back within tolerance), and the series
// sampled for the report's plots.
//
// Every evaluation returns a journal.Check with one of three outcomes, the
// queries it made (PromQL after substitution, time, window, value) and one
// human line of detail. A Prometheus error makes the check inconclusive with
// the error in its detail: telling infrastructure trouble apart is the
// runner's job.
package slo

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/scenario"
)

// Querier is the part of Prometheus' HTTP API the evaluators use;
// client_golang's promv1.API satisfies it.
type Querier interface {
	Query(ctx context.Context, query string, ts time.Time, opts ...promv1.Option) (model.Value, promv1.Warnings, error)
	QueryRange(ctx context.Context, query string, r promv1.Range, opts ...promv1.Option) (model.Value, promv1.Warnings, error)
}

// DefaultScrapeInterval is the scrape interval EvaluateSLO assumes when it
// is given none. An SLO query is evaluated one scrape interval after its
// phase's end: see EvaluateSLO.
const DefaultScrapeInterval = time.Second

// ingestMargin is how long after a sample's time the evaluators wait, when
// called early, for Prometheus to have scraped and stored it.
const ingestMargin = 250 * time.Millisecond

// queryTimeout bounds each call to Prometheus.
const queryTimeout = 30 * time.Second

// EvaluateSLO evaluates an SLO check over its phase as it ran.
//
// Window and time: $window becomes the phase's duration rounded to whole
// seconds ("[15s]"), and the query is evaluated at the phase's end plus one
// scrape interval (the lab's Prometheus', scrape; DefaultScrapeInterval when
// it is 0). With a 1 s scrape, the requests that complete in a phase's
// last second reach Prometheus in the scrape that follows its end, so
// evaluating at the end itself would miss them — and they are the slow tail
// of a fault, the very thing a fault phase measures. Keeping the window at
// the phase's length, the shift drops the phase's first second instead,
// where requests started in the phase before are still finishing. The
// window thus lags the phase by one scrape interval at most; keep phases at
// least ten intervals long so that this stays a small part of them. When
// called before that time has passed (plus a short ingestion margin), it
// waits for it, bounded by ctx.
//
// The query must return one value: a vector of one sample, or a scalar. An
// empty vector takes the check's OnEmpty outcome and NaN its OnNaN outcome
// (fail or inconclusive: a check that measured nothing never passes), and
// such an outcome is not on data (journal.Check.OnData);
// several samples are inconclusive (the query must aggregate). A relative
// objective evaluates the same query over the referenced phase's window the
// same way; if that base is empty or NaN the check is inconclusive, since
// there is nothing to compare with.
//
// A check that names an SLO definition (c.SLO) gets its query from
// resolveSLO; resolveSLO may be nil when no definitions are loaded.
func EvaluateSLO(ctx context.Context, q Querier, c scenario.SLOCheck, phases []journal.Phase, scrape time.Duration, resolveSLO func(name string) (string, error)) journal.Check {
	out := journal.Check{Name: c.Name, Kind: journal.KindSLO, Phase: c.Phase, Objective: c.Objective.String()}
	if c.SLO != "" {
		query, err := resolve(c.SLO, resolveSLO)
		if err != nil {
			return inconclusive(out, err.Error())
		}
		c.Query = query
	}
	p, err := findPhase(phases, c.Phase)
	if err != nil {
		return inconclusive(out, err.Error())
	}

	got, rec := evalWindow(ctx, q, c, p, scrape)
	out.Queries = append(out.Queries, rec)
	switch {
	case got.err != "":
		return inconclusive(out, fmt.Sprintf("%s: querying Prometheus: %s", p.Name, got.err))
	case got.problem != "":
		return inconclusive(out, fmt.Sprintf("%s: %s", p.Name, got.problem))
	case got.empty:
		out.Outcome = policy(c.OnEmpty)
		out.Detail = fmt.Sprintf("%s: no series (empty result) → on_empty: %s", p.Name, out.Outcome)
		return withWarnings(out, got.warnings)
	case got.nan:
		out.Outcome = policy(c.OnNaN)
		out.Detail = fmt.Sprintf("%s: NaN (like 0/0: nothing to measure in the window) → on_nan: %s", p.Name, out.Outcome)
		return withWarnings(out, got.warnings)
	}
	out.Value = finite(got.value)
	warnings := got.warnings

	base := math.NaN()
	if c.Objective.Relative() {
		bp, err := findPhase(phases, c.Objective.RelativeTo)
		if err != nil {
			return inconclusive(out, "the objective's base: "+err.Error())
		}
		b, rec := evalWindow(ctx, q, c, bp, scrape)
		out.Queries = append(out.Queries, rec)
		warnings = append(warnings, b.warnings...)
		switch {
		case b.err != "":
			return inconclusive(out, fmt.Sprintf("base %s: querying Prometheus: %s", bp.Name, b.err))
		case b.problem != "":
			return inconclusive(out, fmt.Sprintf("base %s: %s", bp.Name, b.problem))
		case b.empty:
			return withWarnings(inconclusive(out, fmt.Sprintf("%s %s, but base %s has no series (empty result): nothing to compare with",
				p.Name, num(got.value), bp.Name)), warnings)
		case b.nan:
			return withWarnings(inconclusive(out, fmt.Sprintf("%s %s, but base %s is NaN (like 0/0: nothing measured): nothing to compare with",
				p.Name, num(got.value), bp.Name)), warnings)
		}
		base = b.value
	}

	threshold := c.Objective.Threshold(base)
	out.Threshold = finite(threshold)
	out.OnData = true // a measured value, compared with its objective
	out.Outcome = journal.Fail
	if c.Objective.Eval(got.value, base) {
		out.Outcome = journal.Pass
	}
	out.Detail = fmt.Sprintf("%s %s %s → %s", p.Name, num(got.value), comparison(c.Objective, base, threshold), out.Outcome)
	return withWarnings(out, warnings)
}

// comparison writes the right-hand side of an objective with its numbers:
// "<= 2 × baseline 0.12 + 0.25 = 0.49", or ">= 0.99".
func comparison(o scenario.Objective, base, threshold float64) string {
	if !o.Relative() {
		return fmt.Sprintf("%s %s", o.Op, num(threshold))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s ", o.Op)
	if o.Factor != 1 {
		fmt.Fprintf(&b, "%s × ", num(o.Factor))
	}
	fmt.Fprintf(&b, "%s %s", o.RelativeTo, num(base))
	switch {
	case o.Value > 0:
		fmt.Fprintf(&b, " + %s", num(o.Value))
	case o.Value < 0:
		fmt.Fprintf(&b, " - %s", num(-o.Value))
	}
	if o.Factor != 1 || o.Value != 0 {
		fmt.Fprintf(&b, " = %s", num(threshold))
	}
	return b.String()
}

// result is one instant query's single value, or why there is none.
type result struct {
	value    float64
	empty    bool
	nan      bool
	problem  string // the result is not one value
	err      string // Prometheus failed
	warnings promv1.Warnings
}

// EvalLag is how long after a phase's end its SLO checks are evaluated: one
// scrape interval of the lab's Prometheus (DefaultScrapeInterval when
// scrape is 0).
func EvalLag(scrape time.Duration) time.Duration {
	if scrape <= 0 {
		return DefaultScrapeInterval
	}
	return scrape
}

// evalWindow evaluates c's query over phase p's window at p's end plus one
// scrape interval.
func evalWindow(ctx context.Context, q Querier, c scenario.SLOCheck, p journal.Phase, scrape time.Duration) (result, journal.Query) {
	window := p.End.Sub(p.Start).Round(time.Second)
	if window < time.Second {
		window = time.Second
	}
	at := p.End.Add(EvalLag(scrape))
	rec := journal.Query{PromQL: c.QueryFor(window), At: at, Window: scenario.PromDuration(window)}
	r := instant(ctx, q, rec.PromQL, at)
	record(&rec, r)
	return r, rec
}

// instant evaluates query at ts, waiting first for ts to be in Prometheus.
func instant(ctx context.Context, q Querier, query string, ts time.Time) result {
	if err := waitUntil(ctx, ts.Add(ingestMargin)); err != nil {
		return result{err: fmt.Sprintf("waiting for the evaluation time %s: %v", ts.Format(time.RFC3339), err)}
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	v, warnings, err := q.Query(ctx, query, ts)
	if err != nil {
		return result{err: err.Error(), warnings: warnings}
	}
	r := single(v)
	r.warnings = warnings
	return r
}

// single reads the one value of an instant query's result.
func single(v model.Value) result {
	switch v := v.(type) {
	case model.Vector:
		switch len(v) {
		case 0:
			return result{empty: true}
		case 1:
			if v[0].Histogram != nil {
				return result{problem: "returned a native histogram, not a number: use histogram_quantile(), histogram_count() or similar"}
			}
			f := float64(v[0].Value)
			return result{value: f, nan: math.IsNaN(f)}
		default:
			return result{problem: fmt.Sprintf("returned %d series (%s): the query must return one value; aggregate it with sum(), max() or similar",
				len(v), labelSets(vectorMetrics(v)))}
		}
	case *model.Scalar:
		f := float64(v.Value)
		return result{value: f, nan: math.IsNaN(f)}
	case nil:
		return result{empty: true}
	default:
		return result{problem: fmt.Sprintf("returned a %s, not one value: the query must be an instant vector of one series or a scalar", v.Type())}
	}
}

// vectorMetrics returns the label sets of a vector's samples.
func vectorMetrics(v model.Vector) []model.Metric {
	out := make([]model.Metric, len(v))
	for i, s := range v {
		out[i] = s.Metric
	}
	return out
}

// labelSets lists up to three label sets.
func labelSets(metrics []model.Metric) string {
	var parts []string
	for i, m := range metrics {
		if i == 3 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, m.String())
	}
	return strings.Join(parts, ", ")
}

// record fills a journal query from its result.
func record(rec *journal.Query, r result) {
	switch {
	case r.err != "":
		rec.Error = r.err
	case r.problem != "":
		rec.Error = r.problem
	case r.empty:
		rec.Empty = true
	case r.nan:
		rec.NaN = true
	default:
		rec.Value = finite(r.value)
	}
}

// findPhase returns the phase named name as it ran.
func findPhase(phases []journal.Phase, name string) (journal.Phase, error) {
	for _, p := range phases {
		if p.Name != name {
			continue
		}
		if p.Start.IsZero() || p.End.IsZero() || !p.End.After(p.Start) {
			return p, fmt.Errorf("phase %q did not run to its end (start %s, end %s)", name, stamp(p.Start), stamp(p.End))
		}
		return p, nil
	}
	return journal.Phase{}, fmt.Errorf("phase %q did not run", name)
}

// stamp formats t for a detail, "-" when unset.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339Nano)
}

// waitUntil returns once t has passed, or ctx's error.
func waitUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// policy turns an on_empty or on_nan policy into an outcome: fail, or
// inconclusive (unset, and pass: a check that measured nothing never
// passes; scenario files cannot say pass).
func policy(o scenario.Outcome) string {
	if o == scenario.Fail {
		return journal.Fail
	}
	return journal.Inconclusive
}

// inconclusive sets c inconclusive with detail.
func inconclusive(c journal.Check, detail string) journal.Check {
	c.Outcome = journal.Inconclusive
	c.Detail = detail
	return c
}

// withWarnings appends Prometheus' warnings to the detail.
func withWarnings(c journal.Check, w promv1.Warnings) journal.Check {
	if len(w) > 0 {
		c.Detail += fmt.Sprintf(" (Prometheus warned: %s)", strings.Join(w, "; "))
	}
	return c
}

// finite returns a pointer to v, or nil when v is NaN or infinite, which
// JSON cannot hold (details say what they were).
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return journal.Float(v)
}

// num formats a measured value with up to six significant digits.
func num(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// resolve gives the SLI PromQL (with $window) of the SLO named name.
func resolve(name string, resolveSLO func(name string) (string, error)) (string, error) {
	if resolveSLO == nil {
		return "", fmt.Errorf("slo %q: no SLO definitions loaded", name)
	}
	query, err := resolveSLO(name)
	if err != nil {
		return "", fmt.Errorf("slo %q: %w", name, err)
	}
	return query, nil
}
