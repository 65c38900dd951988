package lab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"
)

// EnvVarDoc is one variable of the env contract of k6 scripts.
type EnvVarDoc struct {
	Name string
	// Help says what the value is.
	Help string
}

// ScriptEnv is the environment every k6 script gets from the harness (and
// nothing else but load.env and k6's own K6_PROMETHEUS_RW_* variables): the
// contract of loadtests/lib/config.js, set by harness/load.
func ScriptEnv() []EnvVarDoc {
	return []EnvVarDoc{
		{"BASE_URL", "the system's entry point: http://<the proxy of load.entry>, like http://127.0.0.1:8000"},
		{"TOKEN", "the bearer token from load.auth (absent with provider none)"},
		{"TOKEN_URL", "the issuer's token endpoint, for a script that fetches tokens itself (client-credentials only)"},
		{"CLIENT_ID", "the client id to fetch them with (client-credentials only)"},
		{"CLIENT_SECRET", "its secret (client-credentials only)"},
		{"RUN_ID", "the run's id; tag every sample with it (run_id)"},
		{"SCENARIO", "the scenario's name; tag every sample with it (scenario)"},
		{"PHASES", `the timeline, "baseline:10s,fault:15s,recovery:15s": tag each request with the phase it started in`},
		{"START_AT", "unix milliseconds: the timeline's origin; setup() waits for it and logs the START line"},
		{"EXECUTOR", "constant-arrival-rate or ramping-arrival-rate"},
		{"RATE", "iterations per TIME_UNIT (constant-arrival-rate)"},
		{"TIME_UNIT", "the period of RATE, START_RATE and the stages' targets (a Go duration)"},
		{"DURATION", "the load's duration, the sum of PHASES (constant-arrival-rate)"},
		{"START_RATE", "the rate at the start (ramping-arrival-rate)"},
		{"STAGES", `the ramps, "target:duration,…" like "10:5s,20:10s" (ramping-arrival-rate)`},
		{"PRE_ALLOCATED_VUS", "the VUs k6 starts with"},
		{"MAX_VUS", "the most VUs k6 may use"},
		{"GRACEFUL_STOP", "how long running iterations may finish after the last phase (a Go duration)"},
	}
}

// ScriptEnvNames returns the names of ScriptEnv.
func ScriptEnvNames() []string {
	env := ScriptEnv()
	out := make([]string, len(env))
	for i, e := range env {
		out[i] = e.Name
	}
	return out
}

// RunInput is what the harness gives an invariant after a run: on a
// command's standard input, or as the body of the POST to an http checker.
type RunInput struct {
	// RunID and Scenario name the run.
	RunID    string `json:"run_id"`
	Scenario string `json:"scenario"`
	// Since is when the run started and Until when its load and settle
	// ended: check the records created in between.
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Acked are the writes the scripts logged as ACK: the system confirmed
	// them, so they must exist. Accepted are those logged as ACCEPTED.
	Acked    []Write `json:"acked"`
	Accepted []Write `json:"accepted"`
}

// Write is one acknowledged write: its id in the system and the key the
// script sent it with (an idempotency key).
type Write struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// Verdict is what an invariant checker answers: how many records it
// examined and the violations it found.
//
//	{"examined": 120, "violations": [{"id": "o-17", "detail": "charged twice"}], "detail": "120 bookings"}
type Verdict struct {
	// Examined is how many records the checker looked at; 0 makes the check
	// inconclusive (a check that examined nothing never passes).
	Examined int
	// Violations are the records that break the invariant; any makes the
	// check fail.
	Violations []Violation
	// Detail is an optional one-line summary for the report.
	Detail string
}

// Violation is one record that breaks an invariant.
type Violation struct {
	// ID identifies the record ("o-17").
	ID string `json:"id"`
	// Detail says what is wrong with it.
	Detail string `json:"detail,omitempty"`
}

// The outcomes of a verdict, as the journal names them.
const (
	OutcomePass         = "pass"
	OutcomeFail         = "fail"
	OutcomeInconclusive = "inconclusive"
)

// Outcome is fail with any violation, inconclusive when nothing was
// examined, pass otherwise.
func (v Verdict) Outcome() string {
	switch {
	case len(v.Violations) > 0:
		return OutcomeFail
	case v.Examined == 0:
		return OutcomeInconclusive
	}
	return OutcomePass
}

// DecodeVerdict reads a checker's answer strictly: "examined" (a whole
// number ≥ 0) and "violations" (a list, maybe empty, of {id, detail}) are
// required, "detail" is optional, nothing else is allowed. A checker whose
// answer does not decode has not decided: the check is inconclusive.
func DecodeVerdict(data []byte) (Verdict, error) {
	var raw struct {
		Examined   *int         `json:"examined"`
		Violations *[]Violation `json:"violations"`
		Detail     string       `json:"detail"`
	}
	if err := decodeStrict(data, &raw); err != nil {
		return Verdict{}, fmt.Errorf("reading the verdict: %w", err)
	}
	var errs []error
	if raw.Examined == nil {
		errs = append(errs, errors.New(`"examined" is missing: how many records were checked`))
	} else if *raw.Examined < 0 {
		errs = append(errs, fmt.Errorf(`"examined" is %d: it counts records, from 0`, *raw.Examined))
	}
	if raw.Violations == nil {
		errs = append(errs, errors.New(`"violations" is missing: a list, [] when there are none`))
	} else {
		for i, v := range *raw.Violations {
			if v.ID == "" {
				errs = append(errs, fmt.Errorf(`violations[%d] has no "id"`, i))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Verdict{}, fmt.Errorf("reading the verdict: %w", err)
	}
	v := Verdict{Examined: *raw.Examined, Violations: *raw.Violations, Detail: raw.Detail}
	if len(v.Violations) > v.Examined {
		return Verdict{}, fmt.Errorf("reading the verdict: %d violations among %d records examined", len(v.Violations), v.Examined)
	}
	return v, nil
}

// SettleStatus is what a settle probe (command or http) answers:
//
//	{"pending": 3, "detail": "3 transfers in flight"}
//
// The harness stops waiting when Pending is 0.
type SettleStatus struct {
	Pending int
	Detail  string
}

// DecodeSettleStatus reads a settle probe's answer strictly: "pending" (a
// whole number ≥ 0) is required, "detail" optional.
func DecodeSettleStatus(data []byte) (SettleStatus, error) {
	var raw struct {
		Pending *int   `json:"pending"`
		Detail  string `json:"detail"`
	}
	if err := decodeStrict(data, &raw); err != nil {
		return SettleStatus{}, fmt.Errorf("reading the settle probe's answer: %w", err)
	}
	switch {
	case raw.Pending == nil:
		return SettleStatus{}, errors.New(`reading the settle probe's answer: "pending" is missing: how much work is still in flight`)
	case *raw.Pending < 0:
		return SettleStatus{}, fmt.Errorf(`reading the settle probe's answer: "pending" is %d: it counts, from 0`, *raw.Pending)
	}
	return SettleStatus{Pending: *raw.Pending, Detail: raw.Detail}, nil
}

// decodeStrict decodes one JSON object with no unknown fields.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// The bounds and defaults of the lab's durations.
const (
	defaultScrape           = time.Second
	minScrape               = 100 * time.Millisecond
	maxScrape               = time.Minute
	minSpanFlush            = 10 * time.Millisecond
	maxSpanFlush            = time.Minute
	defaultTTL              = 24 * time.Hour
	minTTL                  = time.Minute
	maxTTL                  = 30 * 24 * time.Hour
	defaultSettleTimeout    = 15 * time.Second
	defaultSettleInterval   = 250 * time.Millisecond
	minSettle               = time.Second
	maxSettle               = 10 * time.Minute
	minSettleInterval       = 10 * time.Millisecond
	defaultInvariantTimeout = 30 * time.Second
	minInvariantTimeout     = time.Second
	maxInvariantTimeout     = 10 * time.Minute
)

// checkURL says what is wrong with an http(s) URL.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("is not an http(s) URL: write one like http://127.0.0.1:9090")
	}
	return nil
}

// checkHostPort says what is wrong with host:port.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	n, perr := strconv.Atoi(port)
	if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		return errors.New("is not host:port: write one like jaeger:4317")
	}
	return nil
}
