package load

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/harness/scenario"
)

// trendStats are the statistics of k6's trends in the summary and in
// Prometheus (k6_http_req_duration_p50, …).
const (
	summaryTrendStats = "avg,min,med,max,p(50),p(90),p(95),p(99)"
	remoteTrendStats  = "p(50),p(95),p(99),max"
)

// command returns k6's arguments and its whole environment for o. k6 runs
// in o.OutDir, with this environment only: the script's __ENV is exactly the contract
// of loadtests/lib/config.js plus o.Env.
func command(o Options) (args, env []string, err error) {
	if err := o.check(); err != nil {
		return nil, nil, err
	}
	script, err := filepath.Abs(o.Script)
	if err != nil {
		return nil, nil, fmt.Errorf("k6 script %q: %w", o.Script, err)
	}
	args = []string{
		"run",
		"--quiet",
		"--no-color",
		"--no-usage-report",
		"--address=", // no REST API server: several k6 may run at once
		// k6 runs in OutDir, and these paths are relative to it: k6 splits
		// --log-output at commas, which a directory name may hold.
		"--summary-export=" + SummaryFile,
		"--summary-trend-stats=" + summaryTrendStats,
		"--log-output=file=" + LogFile,
		"--log-format=json",
	}
	if o.RunID != "" {
		args = append(args, "--tag", "run_id="+o.RunID)
	}
	if o.Scenario != "" {
		args = append(args, "--tag", "scenario="+o.Scenario)
	}
	if o.RemoteWriteURL != "" {
		args = append(args, "--out", "experimental-prometheus-rw")
	}
	args = append(args, script)

	vars := scriptEnv(o)
	if o.RemoteWriteURL != "" {
		vars["K6_PROMETHEUS_RW_SERVER_URL"] = o.RemoteWriteURL
		vars["K6_PROMETHEUS_RW_PUSH_INTERVAL"] = "1s"
		vars["K6_PROMETHEUS_RW_TREND_STATS"] = remoteTrendStats
		// Mark the run's series stale at its end, so that instant queries
		// do not show a finished run as current.
		vars["K6_PROMETHEUS_RW_STALE_MARKERS"] = "true"
	}
	maps.Copy(vars, o.Env)
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return args, env, nil
}

// scriptEnv is the env contract of loadtests/lib/config.js for o.
func scriptEnv(o Options) map[string]string {
	p := o.Profile
	vars := map[string]string{
		"BASE_URL": o.BaseURL,
		"EXECUTOR": p.Executor,
	}
	set := func(k, v string) {
		if v != "" {
			vars[k] = v
		}
	}
	set("TOKEN", o.Token)
	set("RUN_ID", o.RunID)
	set("SCENARIO", o.Scenario)
	set("PHASES", phasesEnv(o.Phases))
	if !o.StartAt.IsZero() {
		vars["START_AT"] = strconv.FormatInt(o.StartAt.UnixMilli(), 10)
	}
	setDuration := func(k string, d time.Duration) {
		if d > 0 {
			vars[k] = d.String()
		}
	}
	setInt := func(k string, n int) {
		if n > 0 {
			vars[k] = strconv.Itoa(n)
		}
	}
	setDuration("TIME_UNIT", p.TimeUnit)
	setInt("PRE_ALLOCATED_VUS", p.PreAllocatedVUs)
	setInt("MAX_VUS", p.MaxVUs)
	vars["GRACEFUL_STOP"] = p.GracefulStop.String() // 0 is allowed; the scenario parser defaults to 5s
	switch p.Executor {
	case scenario.ConstantArrivalRate:
		vars["RATE"] = strconv.Itoa(p.Rate)
		setDuration("DURATION", total(o.Phases))
	case scenario.RampingArrivalRate:
		vars["START_RATE"] = strconv.Itoa(p.StartRate)
		stages := make([]string, 0, len(p.Stages))
		for _, s := range p.Stages {
			stages = append(stages, fmt.Sprintf("%d:%s", s.Target, s.Duration))
		}
		vars["STAGES"] = strings.Join(stages, ",")
	}
	return vars
}

// phasesEnv is the PHASES value: "baseline:10s,fault:15s".
func phasesEnv(phases []scenario.Phase) string {
	parts := make([]string, 0, len(phases))
	for _, p := range phases {
		parts = append(parts, p.Name+":"+p.Duration.String())
	}
	return strings.Join(parts, ",")
}

func total(phases []scenario.Phase) time.Duration {
	var d time.Duration
	for _, p := range phases {
		d += p.Duration
	}
	return d
}

// check says what is missing from o.
func (o Options) check() error {
	var errs []error
	need := func(v, field, what string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("load options: %s is required: %s", field, what))
		}
	}
	need(o.K6, "K6", "the k6 binary (make tools builds .tools/bin/k6)")
	need(o.Script, "Script", "a k6 script in loadtests/")
	need(o.OutDir, "OutDir", "the directory for k6's summary and log")
	need(o.BaseURL, "BaseURL", "the shop's entry point, like http://127.0.0.1:8000")
	if len(o.Phases) == 0 {
		errs = append(errs, errors.New("load options: Phases is required: the timeline the load spans"))
	}
	switch o.Profile.Executor {
	case scenario.ConstantArrivalRate:
		if o.Profile.Rate <= 0 {
			errs = append(errs, fmt.Errorf("load options: Profile.Rate is %d; a constant-arrival-rate load needs a rate ≥ 1", o.Profile.Rate))
		}
	case scenario.RampingArrivalRate:
		if len(o.Profile.Stages) == 0 {
			errs = append(errs, errors.New("load options: Profile.Stages is empty; a ramping-arrival-rate load needs stages"))
		}
	default:
		errs = append(errs, fmt.Errorf("load options: Profile.Executor %q is not supported; allowed: %s, %s",
			o.Profile.Executor, scenario.ConstantArrivalRate, scenario.RampingArrivalRate))
	}
	return errors.Join(errs...)
}
