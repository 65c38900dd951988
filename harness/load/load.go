// Package load runs chaoslab's k6 scripts (loadtests/) as a process per
// scenario and reads back what k6 did: its end-of-test summary (requests,
// failures, dropped iterations, latency percentiles, overall and per
// phase), the writes it saw acknowledged, and whether its thresholds held.
//
// k6 gets the run id, the scenario and the timeline through the env
// contract of loadtests/lib/config.js; it tags every sample with run_id,
// scenario and phase, and, given a remote-write URL, pushes its metrics to
// Prometheus every second (k6_http_reqs_total, k6_http_req_duration_p99, …).
// A k6 whose thresholds failed (exit code 99) is a result, not an error.
package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/scenario"
)

// Files k6 writes into Options.OutDir.
const (
	SummaryFile = "summary.json" // k6 --summary-export
	LogFile     = "k6.log"       // k6's logs and the scripts' console lines, JSON per line
	OutputFile  = "k6.out"       // k6's stdout: the human end-of-test summary
)

// Exit codes of k6 that Run tells apart.
const (
	exitThresholdsFailed = 99
)

// stopGrace is how long k6 may take to stop after SIGINT (it lets running
// iterations finish and writes its summary) before it is killed.
const stopGrace = 10 * time.Second

// stderrTail is how much of k6's stderr a Result keeps.
const stderrTail = 4 << 10

// Options say what to run and against what.
type Options struct {
	// K6 is the k6 binary; Script the k6 script; OutDir where the summary,
	// the log and k6's stdout go (created if needed).
	K6, Script, OutDir string
	// BaseURL is the shop's entry point; Token the bearer JWT for the
	// write routes.
	BaseURL, Token string
	// RunID and Scenario tag every sample (run_id, scenario) and prefix
	// the idempotency keys.
	RunID, Scenario string
	// Profile is the open-model load.
	Profile scenario.LoadProfile
	// Phases are the timeline; every request is tagged with the phase it
	// started in, and a constant-rate load lasts as long as they do.
	Phases []scenario.Phase
	// StartAt, when set, is the timeline's origin: k6 starts its load then
	// (after its own start-up) and tags phases from it, so that the
	// caller can start its phases on the same clock. Leave a second or two
	// for k6 to start. Zero: k6 starts the load as soon as it is ready.
	StartAt time.Time
	// RemoteWriteURL is Prometheus' /api/v1/write; empty: no remote write.
	RemoteWriteURL string
	// Env is extra environment for k6 and the script (THRESHOLDS,
	// REQUEST_TIMEOUT, …); it overrides what Run sets.
	Env map[string]string
}

// Ack is a write the system acknowledged, as the script logged it (an ACK
// or ACCEPTED line: docs/lab.md, load.acks).
type Ack struct {
	OrderID string `json:"order_id"`
	Key     string `json:"idempotency_key"`
}

// PhaseLoad is what k6 measured for the requests that started in a phase.
type PhaseLoad struct {
	Name     string  `json:"name"`
	Requests int64   `json:"requests"`
	Failed   int64   `json:"failed"`
	P50ms    float64 `json:"p50_ms"`
	P95ms    float64 `json:"p95_ms"`
	P99ms    float64 `json:"p99_ms"`
	Maxms    float64 `json:"max_ms"`
}

// Check is one of the script's k6 checks, counted over the run.
type Check struct {
	Name   string `json:"name"`
	Passes int64  `json:"passes"`
	Fails  int64  `json:"fails"`
}

// Threshold is one k6 threshold and whether it was crossed.
type Threshold struct {
	// Metric is the metric it is on, with its tags: "http_req_duration",
	// "http_reqs{phase:fault}".
	Metric string `json:"metric"`
	// Expr is the threshold as written: "p(99)<500".
	Expr string `json:"expr"`
	// Failed is true when the run crossed it.
	Failed bool `json:"failed"`
}

// Result is what k6 did.
type Result struct {
	journal.Load
	// Acked are the writes logged as ACK (confirmed), Accepted those
	// logged as ACCEPTED (taken, not yet done), in the order k6 logged them.
	Acked    []Ack `json:"acked_orders"`
	Accepted []Ack `json:"accepted_orders"`
	// Origin is the timeline's origin and Started when the load started
	// (later than Origin when k6 was not ready at StartAt); zero when the
	// script never started.
	Origin  time.Time `json:"origin"`
	Started time.Time `json:"started"`
	// Phases break the requests down by phase, in timeline order.
	Phases []PhaseLoad `json:"phases"`
	// Checks are the script's checks; Thresholds every threshold.
	Checks     []Check     `json:"checks"`
	Thresholds []Threshold `json:"thresholds"`
	// Errors are k6's own error lines from its log (script exceptions,
	// crossed thresholds), the last few.
	Errors []string `json:"errors,omitempty"`
	// Stderr is the tail of k6's stderr.
	Stderr string `json:"stderr,omitempty"`
}

// Run spawns k6 with o and waits for it. When ctx ends, k6 gets SIGINT (it
// stops the load and writes its summary) and SIGKILL 10 s later; Run then
// returns what k6 wrote and an error wrapping the context's cause. k6's
// exit code 99 (thresholds crossed) sets ThresholdsFailed and is not an
// error; any other failure is, with k6's own error lines and stderr.
func Run(ctx context.Context, o Options) (Result, error) {
	args, env, err := command(o)
	if err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return Result{}, fmt.Errorf("creating k6 output dir: %w", err)
	}
	// k6 appends to its log file; a run's files are its own.
	for _, f := range []string{SummaryFile, LogFile, OutputFile} {
		if err := os.Remove(filepath.Join(o.OutDir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return Result{}, fmt.Errorf("clearing old k6 output: %w", err)
		}
	}
	stdout, err := os.Create(filepath.Join(o.OutDir, OutputFile))
	if err != nil {
		return Result{}, fmt.Errorf("creating k6 output file: %w", err)
	}
	defer stdout.Close()

	res := Result{Load: journal.Load{Script: filepath.Base(o.Script), Executor: o.Profile.Executor}}
	stderr := &tailBuffer{max: stderrTail}
	cmd := exec.CommandContext(ctx, o.K6, args...)
	cmd.Dir = o.OutDir
	cmd.Env = env
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	// k6 dies with the runner, even when the runner is killed with -9.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = stopGrace
	runErr := cmd.Run()
	res.Stderr = stderr.String()

	if runErr != nil {
		var exitErr *exec.ExitError
		switch {
		case errors.As(runErr, &exitErr):
			res.ExitCode = exitErr.ExitCode()
		case ctx.Err() == nil:
			return res, fmt.Errorf("running k6 %s: %w", o.Script, runErr)
		}
	}
	readErr := res.read(o.OutDir, o.Phases)
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("k6 %s stopped early (exit code %d): %w", filepath.Base(o.Script), res.ExitCode, context.Cause(ctx))
	case res.ExitCode == exitThresholdsFailed:
		res.ThresholdsFailed = true
	case res.ExitCode != 0:
		return res, fmt.Errorf("k6 %s failed with exit code %d%s", filepath.Base(o.Script), res.ExitCode, res.errorDetail())
	}
	if readErr != nil {
		return res, readErr
	}
	return res, nil
}

// read fills r from the summary and the log k6 left in dir.
func (r *Result) read(dir string, phases []scenario.Phase) error {
	var errs []error
	if lg, err := readLogFile(filepath.Join(dir, LogFile)); err != nil {
		errs = append(errs, err)
	} else {
		r.Acked, r.Accepted, r.Errors = lg.acked, lg.accepted, lg.errors
		r.Origin, r.Started = lg.origin, lg.started
		r.Load.Acked = len(lg.acked)
	}
	path := filepath.Join(dir, SummaryFile)
	s, err := readSummaryFile(path)
	if err != nil {
		errs = append(errs, err)
	} else {
		r.SummaryFile = path
		r.Requests, r.Failed, r.Dropped = s.requests, s.failed, s.dropped
		r.P50ms, r.P95ms, r.P99ms = s.p50, s.p95, s.p99
		r.Checks, r.Thresholds = s.checks, s.thresholds
		names := make([]string, 0, len(phases))
		for _, p := range phases {
			names = append(names, p.Name)
		}
		r.Phases = orderPhases(s.phases, names)
	}
	return errors.Join(errs...)
}

// errorDetail is k6's own explanation of a failure, for an error message.
func (r *Result) errorDetail() string {
	var b strings.Builder
	for _, e := range r.Errors {
		b.WriteString("\n  k6: ")
		b.WriteString(e)
	}
	if s := strings.TrimSpace(r.Stderr); s != "" {
		b.WriteString("\n  stderr: ")
		b.WriteString(s)
	}
	return b.String()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return t.buf.String() }
