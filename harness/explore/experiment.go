package explore

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/scenario"
)

// The phases of an experiment.
const (
	PhaseBaseline = "baseline"
	PhaseFault    = "fault"
	PhaseRecovery = "recovery"
)

// SLO is one of the lab's SLOs as an experiment checks it.
type SLO struct {
	Name string `json:"name"`
	// Objective is the share of good events, in (0, 1).
	Objective float64 `json:"objective"`
	// Events is the PromQL of its events' rate over $window (the SLI's
	// total): what the throughput check compares with the baseline.
	Events string `json:"events"`
	// At are the services (Prometheus jobs) its events were scraped from
	// in the baseline; empty when that is not known (an SLI written as a
	// query).
	At []string `json:"at,omitempty"`
}

// judgedDuring reports whether the SLO judges the fault phase of a point
// whose faults act on targets, procs of them as processes (killed or
// paused). Not when it is measured only at the services the faults act
// on: a service's own SLO under a fault injected into it, or on the edges
// into it, measures the fault itself (its injected errors, the requests
// its cut edge no longer brings), not how the system copes — unless it is
// the entry, whose SLOs are the journey's. And never when it is measured
// only at a killed or paused process: a stopped process neither serves
// nor is scraped, and what it counts after it resumes starts then, so its
// own metrics cannot see its outage; the client's view does. Its recovery
// is still judged.
func (s SLO) judgedDuring(targets, procs []string, entry string) bool {
	if len(s.At) == 0 {
		return true
	}
	if subset(s.At, procs) {
		return false
	}
	return slices.Contains(s.At, entry) || !subset(s.At, targets)
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return len(a) > 0
}

// atEntry reports whether the SLO counts the journey's own answers, at the
// entry service (or where it is measured is not known): the throughput
// check applies to it.
func (s SLO) atEntry(entry string) bool { return len(s.At) == 0 || slices.Contains(s.At, entry) }

// Experiment is what every generated scenario shares: the journey under
// steady load, the timeline, and the checks — the lab's SLOs over the
// fault, the journey's throughput, a recovery bound and the invariants.
type Experiment struct {
	// Journey is the k6 script; Rate its arrivals per second.
	Journey string
	// Entry is the service the journey enters by (load.entry's callee).
	Entry string
	Rate  int
	// Baseline and Fault are the lengths of those phases; the recovery
	// phase lasts Recovery plus the three samples that confirm it.
	Baseline, Fault, Recovery time.Duration
	// SLOs are the lab's SLOs that the journey's baseline measured.
	SLOs []SLO
	// Throughput is the share of the baseline's answered rate the journey
	// must keep during the fault (0.8): an objective that fails on a
	// measured value when requests hang and none is answered.
	Throughput float64
	// ClientBudget, when above 0, adds the client's view: the share of the
	// journey's requests the load saw fail (k6's, any non-2xx/3xx or no
	// answer) during the fault may exceed the point's baseline by at most
	// this much. It sees what no server-side SLI can: requests refused
	// before they reach the entry (a killed entry service). It is the
	// smallest error budget of the SLOs measured at the entry.
	ClientBudget float64
	// Invariants are the lab's data invariants, by name.
	Invariants []string
	// Knobs are the service flags every experiment runs with (-knobs).
	Knobs []scenario.Knob
	// Seed is recorded in every scenario's purpose.
	Seed uint64
}

// recoveryConfirm is what the recovery check adds to its bound: three
// consecutive samples, one second apart.
const recoveryConfirm = 3 * time.Second

// Duration is how long the timeline of one experiment lasts.
func (e Experiment) Duration() time.Duration {
	return e.Baseline + e.Fault + e.Recovery + recoveryConfirm
}

// scenarioFile is a scenario file, in the order docs/scenarios.md shows
// its fields.
type scenarioFile struct {
	Name     string                      `yaml:"name"`
	Purpose  string                      `yaml:"purpose"`
	Expect   string                      `yaml:"expect"`
	Services map[string]map[string]plain `yaml:"services,omitempty"`
	Load     loadFile                    `yaml:"load"`
	Phases   []phaseFile                 `yaml:"phases"`
	Checks   checksFile                  `yaml:"checks"`
}

// plain is a value written as a plain YAML scalar, read by the scenario
// parser as the knob's type (false, 3, 800ms), not as a quoted string.
type plain string

func (p plain) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: string(p)}, nil
}

// knobsFile is knobs as a scenario file's services.
func knobsFile(knobs []scenario.Knob) map[string]map[string]plain {
	if len(knobs) == 0 {
		return nil
	}
	out := map[string]map[string]plain{}
	for _, k := range knobs {
		if out[k.Service] == nil {
			out[k.Service] = map[string]plain{}
		}
		out[k.Service][k.Flag] = plain(k.Value)
	}
	return out
}

type loadFile struct {
	Script   string `yaml:"script"`
	Executor string `yaml:"executor"`
	Rate     int    `yaml:"rate"`
}

type phaseFile struct {
	Name     string           `yaml:"name"`
	Duration string           `yaml:"duration"`
	Faults   []map[string]any `yaml:"faults,omitempty"`
}

type checksFile struct {
	SLO        []sloCheckFile      `yaml:"slo"`
	Recovery   []recoveryCheckFile `yaml:"recovery"`
	Invariants []string            `yaml:"invariants,omitempty"`
}

type sloCheckFile struct {
	Name      string `yaml:"name"`
	Phase     string `yaml:"phase"`
	SLO       string `yaml:"slo,omitempty"`
	Query     string `yaml:"query,omitempty"`
	Objective string `yaml:"objective"`
	OnEmpty   string `yaml:"on_empty"`
	OnNaN     string `yaml:"on_nan"`
}

type recoveryCheckFile struct {
	Name      string `yaml:"name"`
	After     string `yaml:"after"`
	SLO       string `yaml:"slo"`
	Tolerance string `yaml:"tolerance"`
	Within    string `yaml:"within"`
}

// File returns the scenario file of an experiment with the faults of
// points (one, or a pair) in its fault phase, named name, with a `#
// Purpose:` header that says what it does and where it came from.
func (e Experiment) File(name, origin string, points []Point) ([]byte, error) {
	var what, targets, procs []string
	var fs []map[string]any
	for _, p := range points {
		what = append(what, p.What)
		targets = append(targets, p.Service)
		if p.Kind == KindService {
			procs = append(procs, p.Service)
		}
		f, err := faultFile(p.Fault)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	purpose := fmt.Sprintf("Generated by chaoslab explore (%s, seed %d): %s, under %d %s per second; the lab's SLOs must hold during the fault, the journey must keep %s of its baseline throughput, recover within %s, and the data stay consistent.",
		origin, e.Seed, strings.Join(what, "; and "), e.Rate, e.Journey, percent(e.Throughput), e.Recovery)
	f := scenarioFile{
		Name: name, Purpose: purpose, Expect: string(scenario.ExpectPass),
		Load: loadFile{Script: e.Journey, Executor: "constant-arrival-rate", Rate: e.Rate},
		Phases: []phaseFile{
			{Name: PhaseBaseline, Duration: e.Baseline.String()},
			{Name: PhaseFault, Duration: e.Fault.String(), Faults: fs},
			{Name: PhaseRecovery, Duration: (e.Recovery + recoveryConfirm).String()},
		},
		Checks:   checksFile{Invariants: e.Invariants},
		Services: knobsFile(e.Knobs),
	}
	var own []string
	for _, s := range e.SLOs {
		objective := ">= " + strconv.FormatFloat(s.Objective, 'g', -1, 64)
		if s.judgedDuring(targets, procs, e.Entry) {
			f.Checks.SLO = append(f.Checks.SLO,
				sloCheckFile{Name: s.Name, Phase: PhaseFault, SLO: s.Name, Objective: objective, OnEmpty: "fail", OnNaN: "fail"})
		} else {
			own = append(own, s.Name)
		}
		if s.atEntry(e.Entry) && s.judgedDuring(targets, procs, e.Entry) {
			f.Checks.SLO = append(f.Checks.SLO, sloCheckFile{Name: s.Name + "-throughput", Phase: PhaseFault, Query: s.Events,
				Objective: fmt.Sprintf(">= %g * %s", e.Throughput, PhaseBaseline), OnEmpty: "fail", OnNaN: "fail"})
		}
		f.Checks.Recovery = append(f.Checks.Recovery, recoveryCheckFile{Name: s.Name + "-recovers", After: PhaseFault,
			SLO: s.Name, Tolerance: objective, Within: e.Recovery.String()})
	}
	if len(points) == 1 {
		if c, ok := actedCheck(points[0]); ok {
			f.Checks.SLO = append(f.Checks.SLO, c)
		}
	}
	if e.ClientBudget > 0 {
		f.Checks.SLO = append(f.Checks.SLO,
			sloCheckFile{Name: "client-failures", Phase: PhaseFault, Query: clientFailures(name),
				Objective: fmt.Sprintf("<= %g", e.ClientBudget), OnEmpty: "inconclusive", OnNaN: "inconclusive"},
			sloCheckFile{Name: "client-latency", Phase: PhaseFault, Query: clientLatency(name),
				Objective: fmt.Sprintf("<= %g", clientLatencySlack.Seconds()), OnEmpty: "inconclusive", OnNaN: "inconclusive"})
	}
	if len(own) > 0 {
		f.Purpose += fmt.Sprintf(" %s measured only where the fault acts, so judged on recovery only.", strings.Join(own, ", "))
	}
	return encode(f, f.Purpose)
}

// ActedCheck names the check that shows a point's fault acted: without
// it, a pass could be a fault that did nothing.
const ActedCheck = "fault-acted"

// actedCheck is the PromQL check that p's fault acted, for the kinds
// Prometheus can tell: a request fault's hits, which services/faultinject
// counts (chaoslab_faults_injected_total) on the service's own metrics (its
// scrape job is its name); a killed or paused process, which Prometheus
// fails to scrape (up < 1). An edge fault's effect is read from the traces
// instead (Explorer.edgeActed).
func actedCheck(p Point) (sloCheckFile, bool) {
	switch p.Kind {
	case KindMethod:
		return sloCheckFile{Name: ActedCheck, Phase: PhaseFault,
			Query:     fmt.Sprintf(`sum(increase(chaoslab_faults_injected_total{job=%q,method=%q}[$window])) or vector(0)`, p.Service, p.Method),
			Objective: "> 0", OnEmpty: "fail", OnNaN: "fail"}, true
	case KindService:
		return sloCheckFile{Name: ActedCheck, Phase: PhaseFault,
			Query:     fmt.Sprintf(`min(min_over_time(up{job=%q}[$window]))`, p.Service),
			Objective: "< 1", OnEmpty: "inconclusive", OnNaN: "inconclusive"}, true
	}
	return sloCheckFile{}, false
}

// The client's checks read k6's remote-written samples of this point (the
// runner tags them run_id and scenario; the journey's timeline tags each
// iteration with the phase it starts in). A series is one phase's own, so
// its last value is that phase's count or percentile: no rate over a
// series that may have one sample. The baseline's come from the window
// before the fault's (offset $window: the baseline is shorter than it).
//
// The run is not named (run_id): a committed scenario runs again under
// another run ID. The window alone keeps an earlier run's series of the
// same scenario out.
func k6Series(metric, scenario, phase, extra string, earlier bool) string {
	off := ""
	if earlier {
		off = " offset $window"
	}
	return fmt.Sprintf(`max_over_time(%s{scenario=%q,phase=%q%s}[$window]%s)`, metric, scenario, phase, extra, off)
}

// clientFailures is the PromQL of how much larger the share of the load's
// requests that failed (k6: any status outside 2xx/3xx, or no answer) was
// in the fault phase than in the baseline.
func clientFailures(scenario string) string {
	share := func(phase string, earlier bool) string {
		return fmt.Sprintf(`((sum(%s) or vector(0)) / sum(%s))`,
			k6Series("k6_http_reqs_total", scenario, phase, `,expected_response="false"`, earlier),
			k6Series("k6_http_reqs_total", scenario, phase, "", earlier))
	}
	return share(PhaseFault, false) + " - " + share(PhaseBaseline, true)
}

// clientLatencySlack is what a fault may add to the load's p95 latency,
// beyond doubling it.
const clientLatencySlack = 250 * time.Millisecond

// clientLatency is the PromQL of the load's p95 latency in the fault phase
// beyond twice the baseline's, in seconds.
func clientLatency(scenario string) string {
	return fmt.Sprintf(`max(%s) - 2 * max(%s)`,
		k6Series("k6_http_req_duration_p95", scenario, PhaseFault, "", false),
		k6Series("k6_http_req_duration_p95", scenario, PhaseBaseline, "", true))
}

// encode writes f as YAML after a `# Purpose:` header.
func encode(f scenarioFile, purpose string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Purpose: %s\n", wrap(purpose, 76, "# "))
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// faultFile writes a fault the way scenario files spell it.
func faultFile(s faults.Spec) (map[string]any, error) {
	switch {
	case s.Network != nil:
		n := map[string]any{"edge": s.Network.Edge, "toxic": s.Network.Toxic}
		if len(s.Network.Attributes) > 0 {
			n["attributes"] = s.Network.Attributes
		}
		return map[string]any{faults.KindNetwork: n}, nil
	case s.Process != nil:
		p := map[string]any{"service": s.Process.Service, "action": s.Process.Action}
		if s.Process.RestartAfter > 0 {
			p["restart_after"] = s.Process.RestartAfter.String()
		}
		return map[string]any{faults.KindProcess: p}, nil
	case s.Request != nil:
		r := s.Request
		m := map[string]any{"service": r.Service, "method": r.Method, "probability": r.Probability}
		if r.Latency > 0 {
			m["latency"] = r.Latency.String()
		}
		if r.GRPCCode != "" {
			m["grpc_code"] = r.GRPCCode
		}
		if r.HTTPStatus != 0 {
			m["http_status"] = r.HTTPStatus
		}
		if r.Seed != 0 {
			m["seed"] = r.Seed
		}
		return map[string]any{faults.KindRequest: m}, nil
	}
	return nil, fmt.Errorf("a point's fault of no kind the generator writes: %+v", s)
}

// wrap breaks s into lines of at most width, the lines after the first
// starting with prefix.
func wrap(s string, width int, prefix string) string {
	var b strings.Builder
	line := 0
	for i, w := range strings.Fields(s) {
		if i > 0 && line+1+len(w) > width {
			b.WriteString("\n" + prefix)
			line = len(prefix)
		} else if i > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}
