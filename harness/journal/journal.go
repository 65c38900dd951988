// Package journal is the record of a chaos run: for each scenario, its
// phases, the faults applied (with timestamps), the load, every query with
// its window and value, every check's outcome, and the verdict. The runner
// writes it; reports (JUnit, HTML) and CI gates read it. One journal.json per
// scenario, in the run's report directory.
package journal

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Outcomes of a check, and of a scenario's checks combined.
const (
	Pass         = "pass"
	Fail         = "fail"
	Inconclusive = "inconclusive"
)

// Verdicts of a scenario: did it end as its `expect` said?
const (
	// AsExpected: expect pass and every check passed, or expect fail and at
	// least one check failed on data (see Check.OnData).
	AsExpected = "as_expected"
	// Unexpected: the gate said the opposite of the expectation.
	Unexpected = "unexpected"
	// VerdictInconclusive: the data could not decide — no check failed but
	// some could not be decided, or a scenario that expects to fail failed
	// only on missing data.
	VerdictInconclusive = "inconclusive"
	// VerdictError: the run could not be carried out (infrastructure).
	VerdictError = "error"
)

// Kinds of checks.
const (
	KindSLO       = "slo"
	KindRecovery  = "recovery"
	KindTrace     = "trace"
	KindInvariant = "invariant"
	KindLoad      = "load" // k6's own thresholds
)

// Journal is one scenario's run.
type Journal struct {
	RunID    string    `json:"run_id"`
	Scenario string    `json:"scenario"`
	File     string    `json:"file"`
	Purpose  string    `json:"purpose"`
	Expect   string    `json:"expect"`
	Stack    string    `json:"stack"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Knobs    []Knob    `json:"knobs,omitempty"`
	Phases   []Phase   `json:"phases"`
	Faults   []Fault   `json:"faults"`
	Load     *Load     `json:"load,omitempty"`
	Checks   []Check   `json:"checks"`
	// Series are time series sampled over the run, for plots.
	Series []Series `json:"series,omitempty"`
	// Outcome combines the checks: fail if any failed, else inconclusive if
	// any was, else pass.
	Outcome string `json:"outcome"`
	// Verdict compares Outcome with Expect (AsExpected, Unexpected, …).
	Verdict string `json:"verdict"`
	// VerdictReason says in one line why the verdict is what it is when it
	// is not plain: an expect-fail scenario that failed only on missing
	// data, every check of a sensitivity run passing, …
	VerdictReason string `json:"verdict_reason,omitempty"`
	// Sensitivity is set on a sensitivity run: the scenario's faults were
	// replaced by no-ops (recorded in Faults with NoOp, nothing injected),
	// and it was expected to fail on data — a check must notice that the
	// fault is missing.
	Sensitivity bool `json:"sensitivity,omitempty"`
	// Error is set when the run failed for infrastructure reasons.
	Error string `json:"error,omitempty"`
	// Shard is set when the scenario ran in one shard of a sharded library
	// (chaoslab chaos -shard K/N).
	Shard *Shard `json:"shard,omitempty"`
	// Harness is how long the runner's own steps around the phases took:
	// what a scenario costs beyond its timeline.
	Harness *Harness `json:"harness,omitempty"`
}

// Shard says which part of a sharded library a scenario ran in: shard
// Index of Count (1-based), of the library whose scenarios are Library (the
// selection that was partitioned, every shard's names).
type Shard struct {
	Index   int      `json:"index"`
	Count   int      `json:"count"`
	Library []string `json:"library"`
}

// String is "K/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Harness is the time, in seconds, of each of the runner's steps outside
// the phases. Overhead (Finished − Started − the phases) is about their sum.
type Harness struct {
	// Knobs is restarting services with the scenario's knobs; Observed
	// waiting until Prometheus has scraped every restarted service.
	Knobs    float64 `json:"knobs_s"`
	Observed float64 `json:"observed_s"`
	// StartOffset is from starting k6 to the timeline's origin (k6's own
	// start-up).
	StartOffset float64 `json:"start_offset_s"`
	// LoadTail is from the last phase's end until k6 exited.
	LoadTail float64 `json:"load_tail_s"`
	// Settle is the wait for in-flight work; LastScrape the wait until
	// Prometheus has the samples of the end of the run.
	Settle     float64 `json:"settle_s"`
	LastScrape float64 `json:"last_scrape_s"`
	// Checks is evaluating every check; Series sampling the plots.
	Checks float64 `json:"checks_s"`
	Series float64 `json:"series_s"`
	// Restore is restarting the services with their defaults again.
	Restore float64 `json:"restore_s"`
	// K6Late is how late k6 started its load after the timeline's origin,
	// when it was late (0: on time).
	K6Late float64 `json:"k6_late_s,omitempty"`
}

// Overhead is the time j took beyond its phases: Finished − Started − the
// sum of the phases' durations (0 when j has not finished).
func (j *Journal) Overhead() time.Duration {
	if j.Finished.IsZero() || j.Finished.Before(j.Started) {
		return 0
	}
	return j.Finished.Sub(j.Started) - j.PhaseTime()
}

// PhaseTime is the sum of the durations of j's phases as they ran.
func (j *Journal) PhaseTime() time.Duration {
	var d time.Duration
	for _, p := range j.Phases {
		if p.End.After(p.Start) {
			d += p.End.Sub(p.Start)
		}
	}
	return d
}

// Knob is a service setting the scenario changed (and the runner restored).
type Knob struct {
	Service string `json:"service"`
	Flag    string `json:"flag"`
	Value   string `json:"value"`
	// Default is set when Value is the lab's default: the service ran with
	// it already and was not restarted for it.
	Default bool `json:"default,omitempty"`
}

// Phase is one phase of the timeline as it actually ran.
type Phase struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Fault is one applied fault.
type Fault struct {
	ID      string    `json:"id"`
	Phase   string    `json:"phase"`
	Kind    string    `json:"kind"`   // network | process | request
	Target  string    `json:"target"` // an edge "caller->callee", or a service
	Spec    string    `json:"spec"`   // human-readable, stable
	Applied time.Time `json:"applied"`
	Removed time.Time `json:"removed,omitzero"`
	// RemoveError is why removing it failed (it stays in the ledger for
	// `chaoslab clean`).
	RemoveError string `json:"remove_error,omitempty"`
	// NoOp is set on a sensitivity run: the fault was recorded at its
	// phase's start and end, but nothing was injected.
	NoOp bool `json:"no_op,omitempty"`
}

// Load is what k6 did.
type Load struct {
	Script   string `json:"script"`
	Executor string `json:"executor"`
	// Requests and Failed count HTTP requests (k6's http_reqs and
	// http_req_failed).
	Requests int64 `json:"requests"`
	Failed   int64 `json:"failed"`
	// Iterations that were dropped because no VU was free.
	Dropped int64 `json:"dropped"`
	// Latency percentiles of all requests, in milliseconds.
	P50ms float64 `json:"p50_ms"`
	P95ms float64 `json:"p95_ms"`
	P99ms float64 `json:"p99_ms"`
	// Acked is how many writes the system acknowledged (the load's ACK lines).
	Acked int `json:"acked"`
	// ThresholdsFailed is true when k6 exited 99 (its thresholds failed);
	// that is a failed check, not a crash.
	ThresholdsFailed bool   `json:"thresholds_failed"`
	ExitCode         int    `json:"exit_code"`
	SummaryFile      string `json:"summary_file,omitempty"`
}

// Check is one assertion and how it came out.
type Check struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Phase   string `json:"phase,omitempty"`
	Outcome string `json:"outcome"`
	// Objective as written, e.g. "<= 2 * baseline + 0.25".
	Objective string `json:"objective,omitempty"`
	// Value is what was measured and Threshold what it was compared with.
	Value     *float64 `json:"value,omitempty"`
	Threshold *float64 `json:"threshold,omitempty"`
	// RecoverySeconds is the measured time to recover (recovery checks).
	RecoverySeconds *float64 `json:"recovery_seconds,omitempty"`
	// OnData is true when the outcome was decided on measured data: a value
	// compared with its objective, a recovery sampled while samples were
	// present, an assertion over at least min_traces traces, an invariant
	// over the records it names. It is false when the outcome comes from a
	// policy on missing data (an empty result, NaN), too few traces,
	// nothing examined, or an error. A check that passed without data
	// counts as inconclusive, and only a failure on data meets a scenario's
	// `expect: fail`.
	OnData bool `json:"on_data"`
	// NothingToExamine is set on an invariant that found no record to
	// examine (inconclusive): it did not fail to decide, there was nothing
	// for it to decide on — unlike a checker that errored or timed out.
	NothingToExamine bool `json:"nothing_to_examine,omitempty"`
	// Detail is one human line: what was compared, or why inconclusive.
	Detail  string  `json:"detail"`
	Queries []Query `json:"queries,omitempty"`
}

// Query is one PromQL evaluation.
type Query struct {
	PromQL string    `json:"promql"`
	At     time.Time `json:"at"`
	// Window is the range the query covered (the phase's window).
	Window string   `json:"window,omitempty"`
	Value  *float64 `json:"value,omitempty"`
	Empty  bool     `json:"empty,omitempty"`
	NaN    bool     `json:"nan,omitempty"`
	Error  string   `json:"error,omitempty"`
}

// Series is a sampled time series for plots.
type Series struct {
	Name string `json:"name"` // "p99 latency", "error rate"
	Unit string `json:"unit"` // "s", "ratio", "req/s"
	// Points are [unix seconds, value] pairs.
	Points [][2]float64 `json:"points"`
	// Objective, when set, is drawn as a horizontal line.
	Objective *float64 `json:"objective,omitempty"`
}

// Float returns a pointer to v, for the optional fields.
func Float(v float64) *float64 { return &v }

// effective is c's outcome as a verdict counts it: a pass that rests on no
// data is inconclusive — a check that examined nothing never passes.
func effective(c Check) string {
	if c.Outcome == Pass && !c.OnData {
		return Inconclusive
	}
	return c.Outcome
}

// Combine returns the combined outcome of checks: fail if any failed, else
// inconclusive if any was (or passed without data), else pass (no checks:
// inconclusive).
func Combine(checks []Check) string {
	if len(checks) == 0 {
		return Inconclusive
	}
	out := Pass
	for _, c := range checks {
		switch effective(c) {
		case Fail:
			return Fail
		case Pass:
		default:
			out = Inconclusive
		}
	}
	return out
}

// Decision is a scenario's combined outcome and verdict, with the reason
// when the verdict needs one.
type Decision struct {
	Outcome, Verdict, Reason string
}

// Decide combines checks and compares them with the expectation:
//
//   - expect pass: as expected when every check passed on data;
//     unexpected when any failed (on data or by policy: a gate that must
//     pass fails safe); inconclusive otherwise.
//   - expect fail: as expected only when at least one check failed on data
//     (a value compared with its objective, …). Failures that all come
//     from missing data (an empty result, NaN, too few traces) are
//     inconclusive: a broken scrape or a renamed metric is not proof that
//     the gate catches the fault. Every check passing is unexpected.
func Decide(expect string, checks []Check) Decision {
	d := Decision{Outcome: Combine(checks)}
	var onData, notOnData, undecided []string
	for _, c := range checks {
		switch effective(c) {
		case Fail:
			if c.OnData {
				onData = append(onData, c.Name)
			} else {
				notOnData = append(notOnData, c.Name)
			}
		case Pass:
		default:
			undecided = append(undecided, c.Name)
		}
	}
	if len(checks) == 0 {
		return Decision{Outcome: Inconclusive, Verdict: VerdictInconclusive, Reason: "no checks"}
	}
	if expect != Fail {
		switch d.Outcome {
		case Pass:
			d.Verdict = AsExpected
		case Fail:
			d.Verdict = Unexpected
			if len(onData) == 0 {
				d.Reason = "failed without data: " + strings.Join(notOnData, ", ") + " (their objectives could not be measured)"
			}
		default:
			d.Verdict = VerdictInconclusive
			d.Reason = "not decided: " + strings.Join(undecided, ", ")
		}
		return d
	}
	switch {
	case len(onData) > 0:
		d.Verdict = AsExpected
	case len(notOnData) > 0:
		d.Verdict = VerdictInconclusive
		d.Reason = "expected to fail, but no check failed on a measurement: " + strings.Join(notOnData, ", ") +
			" failed on missing data (empty result, NaN or too few traces), which does not show that the gate catches the fault"
	case len(undecided) > 0:
		d.Verdict = VerdictInconclusive
		d.Reason = "expected to fail; no check failed and some were not decided: " + strings.Join(undecided, ", ")
	default:
		d.Verdict = Unexpected
		d.Reason = "expected to fail, but every check passed: the gate did not catch it"
	}
	return d
}

// Write saves j as <dir>/journal.json.
func Write(dir string, j *Journal) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "journal.json"), b, 0o644); err != nil {
		return fmt.Errorf("writing journal: %w", err)
	}
	return nil
}

// Read loads <dir>/journal.json.
func Read(dir string) (*Journal, error) {
	b, err := os.ReadFile(filepath.Join(dir, "journal.json"))
	if err != nil {
		return nil, err
	}
	var j Journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("reading journal %s: %w", dir, err)
	}
	return &j, nil
}
