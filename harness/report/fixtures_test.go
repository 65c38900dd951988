package report

import (
	"math"
	"time"

	"github.com/chaoslab/chaoslab/harness/journal"
)

// The journals of a made-up run, one per situation the reports must show.

// at is sec seconds after the start of the made-up run.
func at(sec float64) time.Time {
	return time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC).Add(time.Duration(sec * float64(time.Second)))
}

// phases returns baseline → fault → recovery starting at start seconds.
func phases(start float64) []journal.Phase {
	return []journal.Phase{
		{Name: "baseline", Start: at(start), End: at(start + 20)},
		{Name: "fault", Start: at(start + 20), End: at(start + 50)},
		{Name: "recovery", Start: at(start + 50), End: at(start + 70)},
	}
}

// series samples f every second over [start, start+70].
func series(name, unit string, start float64, objective *float64, f func(t float64) float64) journal.Series {
	s := journal.Series{Name: name, Unit: unit, Objective: objective}
	for t := 0.0; t <= 70; t++ {
		s.Points = append(s.Points, [2]float64{float64(at(start + t).Unix()), f(t)})
	}
	return s
}

// wobble is a deterministic ripple.
func wobble(t float64) float64 { return 0.5 + 0.5*math.Sin(t*1.7)*math.Cos(t*0.3) }

func sampleRun() []*journal.Journal {
	baseline := &journal.Journal{
		RunID: "20250314-092653", Scenario: "baseline", File: "scenarios/baseline.yaml",
		Purpose: "The shop under steady load with no fault. Every other scenario is measured against it.",
		Expect:  journal.Pass, Stack: "local", Started: at(0), Finished: at(72),
		Phases: []journal.Phase{{Name: "steady", Start: at(1), End: at(71)}},
		Load: &journal.Load{Script: "loadtests/checkout.js", Executor: "constant-arrival-rate", Requests: 2100,
			Failed: 0, P50ms: 12.4, P95ms: 31.9, P99ms: 48.2, Acked: 700, ExitCode: 0},
		Checks: []journal.Check{
			{Name: "p99 latency", Kind: journal.KindSLO, Phase: "steady", Outcome: journal.Pass, OnData: true,
				Objective: "<= 0.25", Value: journal.Float(0.048), Threshold: journal.Float(0.25),
				Detail: "p99 0.048s <= 0.25s",
				Queries: []journal.Query{{PromQL: `histogram_quantile(0.99, sum by (le) (rate(chaoslab_http_request_duration_seconds_bucket{service="gateway"}[70s])))`,
					At: at(71), Window: "70s", Value: journal.Float(0.048)}}},
			{Name: "no-lost-orders", Kind: journal.KindInvariant, Outcome: journal.Pass, OnData: true, Detail: "700 acknowledged orders, 700 found"},
		},
		Series: []journal.Series{
			series("p99 latency POST /v1/orders", "s", 0, journal.Float(0.25), func(t float64) float64 { return 0.04 + 0.01*wobble(t) }),
		},
		Outcome: journal.Pass, Verdict: journal.AsExpected,
	}

	latency := &journal.Journal{
		RunID: "20250314-092653", Scenario: "latency-payments", File: "scenarios/latency-payments.yaml",
		Purpose: "300ms of latency on orders→payments.\nThe p99 of checkout may double but the error rate must hold.",
		Expect:  journal.Pass, Stack: "local", Started: at(80), Finished: at(152),
		Knobs:  []journal.Knob{{Service: "orders", Flag: "-payments-timeout", Value: "1s"}},
		Phases: phases(81),
		Faults: []journal.Fault{{ID: "f-latency-payments-1", Phase: "fault", Kind: "network", Target: "orders->payments",
			Spec: "latency 300ms ±50ms downstream", Applied: at(101), Removed: at(131)}},
		Load: &journal.Load{Script: "loadtests/checkout.js", Executor: "constant-arrival-rate", Requests: 2100,
			Failed: 42, Dropped: 3, P50ms: 15.1, P95ms: 340.2, P99ms: 612.7, Acked: 686, ExitCode: 0},
		Checks: []journal.Check{
			{Name: "error rate", Kind: journal.KindSLO, Phase: "fault", Outcome: journal.Pass, OnData: true,
				Objective: "<= 0.01", Value: journal.Float(0.002), Threshold: journal.Float(0.01), Detail: "error rate 0.2% <= 1%"},
			{Name: "p99 relative", Kind: journal.KindSLO, Phase: "fault", Outcome: journal.Fail, OnData: true,
				Objective: "<= 2 * baseline + 0.25", Value: journal.Float(0.6127), Threshold: journal.Float(0.346),
				Detail: "p99 0.613s > 2 × baseline 0.048s + 0.25s = 0.346s",
				Queries: []journal.Query{
					{PromQL: `histogram_quantile(0.99, sum by (le) (rate(chaoslab_http_request_duration_seconds_bucket{service="gateway",route="POST /v1/orders"}[20s])))`,
						At: at(101), Window: "20s", Value: journal.Float(0.048)},
					{PromQL: `histogram_quantile(0.99, sum by (le) (rate(chaoslab_http_request_duration_seconds_bucket{service="gateway",route="POST /v1/orders"}[30s])))`,
						At: at(131), Window: "30s", Value: journal.Float(0.6127)},
				}},
			{Name: "p99 back", Kind: journal.KindRecovery, Phase: "recovery", Outcome: journal.Pass, OnData: true,
				Objective: "within 10s", RecoverySeconds: journal.Float(3), Value: journal.Float(3), Threshold: journal.Float(10),
				Detail: "p99 back within tolerance 3s after the fault was removed (3 consecutive samples)"},
		},
		Series: []journal.Series{
			series("p99 latency POST /v1/orders", "s", 80, journal.Float(0.346), func(t float64) float64 {
				if t >= 21 && t < 51 {
					return 0.55 + 0.08*wobble(t)
				}
				return 0.045 + 0.01*wobble(t)
			}),
			series("error rate (5xx) POST /v1/orders", "ratio", 80, journal.Float(0.01), func(t float64) float64 {
				if t >= 21 && t < 51 {
					return 0.004 * wobble(t)
				}
				return 0
			}),
		},
		Outcome: journal.Fail, Verdict: journal.Unexpected,
	}

	noRetries := &journal.Journal{
		RunID: "20250314-092653", Scenario: "payments-errors-no-retries", File: "scenarios/payments-errors-10pct-no-retries.yaml",
		Purpose: "10% of Charge calls fail and orders does not retry: the availability gate must fail.",
		Expect:  journal.Fail, Stack: "local", Started: at(160), Finished: at(232),
		Knobs:  []journal.Knob{{Service: "orders", Flag: "-retries", Value: "0"}},
		Phases: phases(161),
		Faults: []journal.Fault{{ID: "f-payments-errors-1", Phase: "fault", Kind: "request", Target: "payments",
			Spec: "error UNAVAILABLE 10% on /chaoslab.payments.v1.Payments/Charge", Applied: at(181), Removed: at(211)}},
		Checks: []journal.Check{
			{Name: "availability", Kind: journal.KindSLO, Phase: "fault", Outcome: journal.Fail, OnData: true,
				Objective: ">= 0.99", Value: journal.Float(0.902), Threshold: journal.Float(0.99), Detail: "availability 90.2% < 99%"},
			{Name: "compensated", Kind: journal.KindInvariant, Outcome: journal.Pass, OnData: true, Detail: "every FAILED order compensated"},
		},
		Outcome: journal.Fail, Verdict: journal.AsExpected,
	}

	inventoryDown := &journal.Journal{
		RunID: "20250314-092653", Scenario: "inventory-down", File: "scenarios/inventory-down.yaml",
		Purpose: "Inventory is unreachable: the breaker opens and the gateway fails fast.",
		Expect:  journal.Pass, Stack: "local", Started: at(240), Finished: at(312),
		Phases: phases(241),
		Faults: []journal.Fault{{ID: "f-inventory-down-1", Phase: "fault", Kind: "network", Target: "orders->inventory",
			Spec: "proxy down", Applied: at(261), Removed: at(291)}},
		Checks: []journal.Check{
			{Name: "fail fast", Kind: journal.KindSLO, Phase: "fault", Outcome: journal.Inconclusive,
				Objective: "<= 0.1", Detail: "the query returned no series (on_empty: inconclusive)",
				Queries: []journal.Query{{PromQL: `histogram_quantile(0.99, rate(x[30s]))`, At: at(291), Window: "30s", Empty: true}}},
			{Name: "no-lost-orders", Kind: journal.KindInvariant, Outcome: journal.Pass, OnData: true, Detail: "412 acknowledged orders, 412 found"},
		},
		Outcome: journal.Inconclusive, Verdict: journal.VerdictInconclusive,
	}

	kill := &journal.Journal{
		RunID: "20250314-092653", Scenario: "orders-kill9", File: "scenarios/orders-kill9.yaml",
		Purpose: "kill -9 of orders under load.", Expect: journal.Pass, Stack: "local",
		Started: at(320), Finished: at(334),
		Phases:  []journal.Phase{{Name: "baseline", Start: at(321), End: at(333)}},
		Error:   "starting k6: exec: \"k6\": executable file not found in $PATH",
		Outcome: journal.Inconclusive, Verdict: journal.VerdictError,
	}
	return []*journal.Journal{baseline, latency, noRetries, inventoryDown, kill}
}

// hostile is a journal whose every text field tries to inject markup.
func hostile() *journal.Journal {
	const x = `<script>alert(1)</script>`
	j := sampleRun()[1]
	j.Scenario = x
	j.Purpose = `<img src=x onerror=alert(1)> purpose`
	j.RunID = `"><script>alert(2)</script>`
	j.Knobs = []journal.Knob{{Service: "orders", Flag: "-x", Value: `"><svg onload=alert(3)>`}}
	j.Checks[1].Name = x
	j.Checks[1].Detail = `</td></tr></table><script>alert(4)</script>`
	j.Checks[1].Queries[0].PromQL = `up{job="</code><script>alert(5)</script>"}`
	j.Faults[0].Spec = `<script>alert(6)</script>`
	j.Faults[0].Target = `</text><script>alert(7)</script>`
	j.Series[0].Name = `</title><script>alert(8)</script>`
	j.Phases[1].Name = `<style>body{display:none}</style>`
	j.Error = `<iframe src="javascript:alert(9)">`
	return j
}
