// Package scenario reads, checks and describes chaoslab's scenario files
// (scenarios/*.yaml, documented in docs/scenarios.md): a timeline of phases
// with the faults active in each, the k6 load that spans them, the service
// knobs they run with, and the checks that give the verdict — SLOs over each
// phase's window, recovery after a fault, trace checks and data invariants.
//
// Load, Parse and LoadDir check everything before anything runs and report
// every problem at once in a ValidationError, each as
// "file:line:col: field.path: what is wrong; allowed: …".
package scenario

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/promql"
)

// Expect is the verdict a scenario expects from its checks.
type Expect string

// The expectations. A scenario that expects ExpectFail runs with some
// resilience switched off: it meets its expectation when at least one of
// its checks fails, which shows that the checks can fail.
const (
	ExpectPass Expect = "pass"
	ExpectFail Expect = "fail"
)

// Outcome is the verdict of one check.
type Outcome string

// The outcomes of a check. Inconclusive means the data could not decide
// (no samples, not enough traces).
const (
	Pass         Outcome = "pass"
	Fail         Outcome = "fail"
	Inconclusive Outcome = "inconclusive"
)

// The executors of the load, k6's open-model executors.
const (
	ConstantArrivalRate = "constant-arrival-rate"
	RampingArrivalRate  = "ramping-arrival-rate"
)

// The stacks a scenario can run on, as `chaoslab -stack` names them.
const (
	// StackLocal runs the lab as processes on 127.0.0.1.
	StackLocal = "local"
	// StackCompose runs the lab with docker-compose; it alone applies
	// container faults.
	StackCompose = "compose"
	// StackKubernetes runs the lab on a Kubernetes cluster (client-go).
	StackKubernetes = "kubernetes"
	// StackRemote reaches a lab that runs elsewhere, through the URLs of a
	// remote endpoints file; it owns no process, so it applies only the
	// faults its endpoints allow (Capabilities).
	StackRemote = "remote"
)

// Stacks returns the stacks a scenario can run on, in the order Scenario
// lists them; a scenario without `stacks:` runs on all of them.
func Stacks() []string { return []string{StackLocal, StackCompose, StackKubernetes, StackRemote} }

// Invariant names a data check after the run: one of the invariants the
// lab declares (lab.Lab.InvariantNames).
type Invariant string

// Scenario is one checked scenario file.
type Scenario struct {
	// File is the path the scenario was read from.
	File string
	// Name is the file's base name without its extension.
	Name string
	// Purpose says what the scenario shows, in a sentence or two.
	Purpose string
	// Expect is the verdict the checks must give.
	Expect Expect
	// Stacks are the stacks the scenario runs on, in the order of Stacks
	// (never empty: every stack when the file does not say). A scenario
	// with container faults runs on StackCompose only.
	Stacks []string
	// Knobs are the service flags the scenario runs with, in file order;
	// the runner applies them before the first phase and restores the
	// services' defaults afterwards.
	Knobs []Knob
	// Load is the k6 load that runs through all the phases.
	Load LoadProfile
	// Phases run one after the other, in order.
	Phases []Phase
	// Checks give the verdict.
	Checks Checks

	// uses are what the scenario needs of a stack, with where the file
	// says it (CheckOn).
	uses []use
}

// Knob is one service flag a scenario sets.
type Knob struct {
	// Service is the service the flag belongs to.
	Service string
	// Flag is the flag's name without a dash: "retries", "call-timeout".
	Flag string
	// Value is the value in the flag's syntax: "false", "800ms", "3".
	Value string
}

// LoadProfile is the k6 load of a scenario: an open model (arrival rate), so that
// a slow system does not slow the load down.
type LoadProfile struct {
	// Script is a k6 script's file name in the lab's scripts directory:
	// "load.js".
	Script string
	// Executor is ConstantArrivalRate or RampingArrivalRate.
	Executor string
	// Rate iterations start per TimeUnit (constant-arrival-rate).
	Rate int
	// TimeUnit is the period of Rate, StartRate and the stage targets.
	TimeUnit time.Duration
	// StartRate is the rate at the start (ramping-arrival-rate).
	StartRate int
	// Stages ramp the rate (ramping-arrival-rate); their durations add up
	// to the scenario's duration.
	Stages []Stage
	// PreAllocatedVUs are the VUs k6 starts with; MaxVUs is the most it
	// may add when iterations take longer.
	PreAllocatedVUs int
	MaxVUs          int
	// GracefulStop is how long k6 lets running iterations finish after
	// the last phase before it interrupts them.
	GracefulStop time.Duration
}

// Stage is one ramp of a ramping-arrival-rate load: to Target iterations
// per TimeUnit over Duration.
type Stage struct {
	Target   int
	Duration time.Duration
}

// Phase is one step of the timeline.
type Phase struct {
	// Name is unique in the scenario: "baseline", "fault", "recovery".
	Name string
	// Duration is how long the phase lasts; its window for SLO checks.
	Duration time.Duration
	// Faults are applied at the start of the phase and removed at its end.
	Faults []faults.Spec
}

// Checks are the assertions of a scenario.
type Checks struct {
	SLO        []SLOCheck
	Recovery   []RecoveryCheck
	Traces     []TraceCheck
	Invariants []Invariant
}

// Count returns the number of checks.
func (c Checks) Count() int {
	return len(c.SLO) + len(c.Recovery) + len(c.Traces) + len(c.Invariants)
}

// WindowVar is the placeholder that SLO queries use for their phase's
// window: "rate(x[$window])".
const WindowVar = promql.WindowVar

// SLOCheck is a PromQL query over one phase's window, held to an objective.
type SLOCheck struct {
	Name string
	// Phase is the phase whose window the query covers; the query is
	// evaluated at the phase's end.
	Phase string
	// Query is the PromQL, with WindowVar where the range goes. Empty when
	// SLO is set.
	Query string
	// SLO names an SLO definition instead of Query.
	SLO string
	// Objective is what the value must satisfy; a relative one compares
	// with the same query over an earlier phase's window.
	Objective Objective
	// OnEmpty and OnNaN are the outcomes of an empty result and of NaN.
	OnEmpty Outcome
	OnNaN   Outcome
}

// QueryFor returns the query with its window, for a phase of duration d:
// "rate(x[$window])" becomes "rate(x[15s])".
func (c SLOCheck) QueryFor(d time.Duration) string { return WithWindow(c.Query, d) }

// WithWindow returns query with every WindowVar replaced by d as a
// Prometheus duration: ("rate(x[$window])", 3s) → "rate(x[3s])".
func WithWindow(query string, d time.Duration) string {
	return strings.ReplaceAll(query, WindowVar, PromDuration(d))
}

// PromDuration formats d as a Prometheus duration: "15s", or "1500ms"
// when d is not a whole number of seconds.
func PromDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// RecoveryCheck measures the time from the end of a phase (the removal of
// its faults) until an instant SLI is back within tolerance for Consecutive
// samples Step apart, and asserts it is at most Within.
type RecoveryCheck struct {
	Name string
	// After is the phase whose end starts the clock.
	After string
	// Query is an instant PromQL query (fixed ranges, no $window). Empty
	// when SLO is set.
	Query string
	// SLO names an SLO definition instead of Query: its SLI is sampled over
	// the last Range.
	SLO   string
	Range time.Duration
	// Tolerance is what a sample must satisfy to count as recovered.
	Tolerance Objective
	// Consecutive samples in tolerance, Step apart, make a recovery; the
	// recovery time is that of the first of them.
	Consecutive int
	Step        time.Duration
	// Within is the longest recovery time that passes.
	Within time.Duration
}

// The kinds of trace assertion.
const (
	TraceRequireEvent    = "require_event"
	TraceMaxDuration     = "max_duration"
	TraceRequireServices = "require_services"
)

// TraceCheck is an assertion over the traces whose root span is Operation
// on Service, started in Phase. Exactly one of RequireEvent, MaxDuration
// and RequireServices is set.
type TraceCheck struct {
	Name    string
	Phase   string
	Service string
	// Operation is the root span's name ("POST /v1/items"); empty: any.
	Operation string
	// MinTraces is the fewest traces that decide; fewer is inconclusive.
	MinTraces int
	// MinFraction is the fraction of traces that must satisfy the
	// assertion.
	MinFraction float64
	// MinCoverage is the fewest root traces found, as a fraction of the
	// requests the load started in the phase, that decide; fewer is
	// inconclusive (hung or cut requests export no span).
	MinCoverage float64
	// RequireEvent: a span of the trace carries this event.
	RequireEvent *EventRequirement
	// MaxDuration: the trace's root span (what the caller waited) lasts at
	// most this long.
	MaxDuration time.Duration
	// RequireServices: the trace has spans from each of these services.
	RequireServices []string
}

// Kind returns which assertion the check makes: TraceRequireEvent,
// TraceMaxDuration or TraceRequireServices.
func (c TraceCheck) Kind() string {
	switch {
	case c.RequireEvent != nil:
		return TraceRequireEvent
	case c.MaxDuration > 0:
		return TraceMaxDuration
	default:
		return TraceRequireServices
	}
}

// EventRequirement is a span event a trace must hold.
type EventRequirement struct {
	// Name is the event's name: "retry".
	Name string
	// OnService restricts the spans to those of a service; empty: any.
	OnService string
	// Attributes must all be on the event, with these values (compared as
	// strings).
	Attributes map[string]string
}

// RunsOn reports whether the scenario runs on stack (StackLocal,
// StackCompose, StackRemote). Whether the stack can apply its faults and
// knobs is CheckOn's question.
func (s *Scenario) RunsOn(stack string) bool { return slices.Contains(s.Stacks, stack) }

// FaultCount returns how many faults the phases apply.
func (s *Scenario) FaultCount() int {
	n := 0
	for _, p := range s.Phases {
		n += len(p.Faults)
	}
	return n
}

// Duration returns the total duration of the phases.
func (s *Scenario) Duration() time.Duration {
	var d time.Duration
	for _, p := range s.Phases {
		d += p.Duration
	}
	return d
}

// PhaseIndex returns the index of the phase named name, or -1.
func (s *Scenario) PhaseIndex(name string) int {
	for i, p := range s.Phases {
		if p.Name == name {
			return i
		}
	}
	return -1
}

// PhaseStart returns how long after the start of the first phase phase i
// starts.
func (s *Scenario) PhaseStart(i int) time.Duration {
	var d time.Duration
	for _, p := range s.Phases[:i] {
		d += p.Duration
	}
	return d
}

// KnobsOf returns the knobs of service, flag to value.
func (s *Scenario) KnobsOf(service string) map[string]string {
	out := make(map[string]string)
	for _, k := range s.Knobs {
		if k.Service == service {
			out[k.Flag] = k.Value
		}
	}
	return out
}
