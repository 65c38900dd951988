package load

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/scenario"
)

func validOptions() Options {
	return Options{
		K6:       "/opt/k6",
		Script:   "/lab/loadtests/checkout.js",
		OutDir:   "/tmp/out",
		BaseURL:  "http://127.0.0.1:8000",
		Token:    "tok",
		RunID:    "run-1",
		Scenario: "latency-payments",
		Profile: scenario.LoadProfile{
			Script: "checkout.js", Executor: scenario.ConstantArrivalRate, Rate: 15, TimeUnit: time.Second,
			PreAllocatedVUs: 10, MaxVUs: 60, GracefulStop: 5 * time.Second,
		},
		Phases: []scenario.Phase{
			{Name: "baseline", Duration: 10 * time.Second},
			{Name: "fault", Duration: 15 * time.Second},
			{Name: "recovery", Duration: 1500 * time.Millisecond},
		},
	}
}

func TestCommand(t *testing.T) {
	commonArgs := []string{
		"run", "--quiet", "--no-color", "--no-usage-report", "--address=",
		"--summary-export=summary.json",
		"--summary-trend-stats=avg,min,med,max,p(50),p(90),p(95),p(99)",
		"--log-output=file=k6.log", "--log-format=json",
	}
	tests := []struct {
		name     string
		edit     func(*Options)
		wantArgs []string
		wantEnv  []string
	}{
		{
			name: "constant rate with remote write",
			edit: func(o *Options) { o.RemoteWriteURL = "http://127.0.0.1:9090/api/v1/write" },
			wantArgs: append(append([]string{}, commonArgs...),
				"--tag", "run_id=run-1", "--tag", "scenario=latency-payments",
				"--out", "experimental-prometheus-rw", "/lab/loadtests/checkout.js"),
			wantEnv: []string{
				"BASE_URL=http://127.0.0.1:8000",
				"DURATION=26.5s",
				"EXECUTOR=constant-arrival-rate",
				"GRACEFUL_STOP=5s",
				"K6_PROMETHEUS_RW_PUSH_INTERVAL=1s",
				"K6_PROMETHEUS_RW_SERVER_URL=http://127.0.0.1:9090/api/v1/write",
				"K6_PROMETHEUS_RW_STALE_MARKERS=true",
				"K6_PROMETHEUS_RW_TREND_STATS=p(50),p(95),p(99),max",
				"MAX_VUS=60",
				"PHASES=baseline:10s,fault:15s,recovery:1.5s",
				"PRE_ALLOCATED_VUS=10",
				"RATE=15",
				"RUN_ID=run-1",
				"SCENARIO=latency-payments",
				"TIME_UNIT=1s",
				"TOKEN=tok",
			},
		},
		{
			name: "ramping, no remote write, a start time, extra env overrides",
			edit: func(o *Options) {
				o.RunID, o.Scenario, o.Token = "", "", ""
				o.Profile = scenario.LoadProfile{
					Executor: scenario.RampingArrivalRate, StartRate: 5, TimeUnit: time.Minute,
					Stages: []scenario.Stage{{Target: 20, Duration: 10 * time.Second}, {Target: 0, Duration: time.Minute + 30*time.Second}},
				}
				o.StartAt = time.UnixMilli(1_700_000_000_123)
				o.Env = map[string]string{"THRESHOLDS": `{"http_req_failed":["rate<0.01"]}`, "TIME_UNIT": "2m"}
			},
			wantArgs: append(append([]string{}, commonArgs...), "/lab/loadtests/checkout.js"),
			wantEnv: []string{
				"BASE_URL=http://127.0.0.1:8000",
				"EXECUTOR=ramping-arrival-rate",
				"GRACEFUL_STOP=0s",
				"PHASES=baseline:10s,fault:15s,recovery:1.5s",
				"STAGES=20:10s,0:1m30s",
				"START_AT=1700000000123",
				"START_RATE=5",
				`THRESHOLDS={"http_req_failed":["rate<0.01"]}`,
				"TIME_UNIT=2m",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := validOptions()
			tt.edit(&o)
			args, env, err := command(o)
			require.NoError(t, err)
			assert.Equal(t, tt.wantArgs, args)
			assert.Equal(t, tt.wantEnv, env)
		})
	}
}

func TestCommandMakesTheScriptPathAbsolute(t *testing.T) {
	o := validOptions()
	o.Script = "loadtests/checkout.js"
	args, _, err := command(o)
	require.NoError(t, err)
	want, err := filepath.Abs("loadtests/checkout.js")
	require.NoError(t, err)
	assert.Equal(t, want, args[len(args)-1])
}

func TestCommandRejectsIncompleteOptions(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Options)
		want []string
	}{
		{"nothing", func(o *Options) { *o = Options{} }, []string{
			"K6 is required", "Script is required", "OutDir is required", "BaseURL is required",
			"Phases is required", `Profile.Executor "" is not supported`,
		}},
		{"constant without a rate", func(o *Options) { o.Profile.Rate = 0 }, []string{"Profile.Rate is 0"}},
		{"ramping without stages", func(o *Options) { o.Profile.Executor = scenario.RampingArrivalRate }, []string{"Profile.Stages is empty"}},
		{"closed model", func(o *Options) { o.Profile.Executor = "constant-vus" }, []string{`"constant-vus" is not supported; allowed: constant-arrival-rate, ramping-arrival-rate`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := validOptions()
			tt.edit(&o)
			_, _, err := command(o)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}
