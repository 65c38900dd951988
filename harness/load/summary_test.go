package load

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/scenario"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testdata/summary.json and testdata/k6.log are from a real k6 v1.8.1 run of
// loadtests/checkout.js (phases baseline:1s,fault:2s at 20/s with one VU)
// against a server that answered 201, 202 (1 in 10), 500 (1 in 10) and
// sometimes too late (REQUEST_TIMEOUT=300ms), with a threshold
// http_req_failed rate<0.01 that failed.
func TestReadGolden(t *testing.T) {
	var r Result
	phases := []scenario.Phase{{Name: "baseline", Duration: time.Second}, {Name: "fault", Duration: 2 * time.Second}, {Name: "recovery", Duration: time.Second}}
	require.NoError(t, r.read("testdata", phases))

	// The figures, checked by hand against the raw files.
	assert.Equal(t, int64(35), r.Requests)
	assert.Equal(t, int64(8), r.Failed)
	assert.Equal(t, int64(26), r.Dropped)
	assert.InDelta(t, 1.025814, r.P50ms, 1e-9)
	assert.InDelta(t, 300.5831012, r.P95ms, 1e-9)
	assert.InDelta(t, 302.30803394, r.P99ms, 1e-9)
	assert.Equal(t, 24, r.Load.Acked)
	require.Len(t, r.Acked, 24)
	assert.Equal(t, Ack{OrderID: "ord_61", Key: "golden-run-1-0"}, r.Acked[0])
	assert.Len(t, r.Accepted, 3)
	assert.Equal(t, time.UnixMilli(1795267875626).UTC(), r.Origin)
	require.Len(t, r.Phases, 3)
	assert.Equal(t, PhaseLoad{Name: "baseline", Requests: 12, Failed: 2, P50ms: 0.974253, P95ms: 138.3202424999998, P99ms: 268.5481909000002, Maxms: 301.105178}, r.Phases[0])
	assert.Equal(t, int64(23), r.Phases[1].Requests)
	assert.Equal(t, int64(6), r.Phases[1].Failed)
	assert.Equal(t, PhaseLoad{Name: "recovery"}, r.Phases[2], "a phase k6 never reached is there, empty")
	assert.Equal(t, r.Requests, r.Phases[0].Requests+r.Phases[1].Requests)
	assert.Contains(t, r.Checks, Check{Name: "no 5xx", Passes: 31, Fails: 4})
	assert.Contains(t, r.Thresholds, Threshold{Metric: "http_req_failed", Expr: "rate<0.01", Failed: true})
	assert.Contains(t, r.Thresholds, Threshold{Metric: "http_req_duration", Expr: "p(99)<5000", Failed: false})
	assert.Equal(t, []string{"thresholds on metrics 'http_req_failed' have been crossed"}, r.Errors)

	got, err := json.MarshalIndent(r, "", "  ")
	require.NoError(t, err)
	golden := filepath.Join("testdata", "result.golden.json")
	if *update {
		require.NoError(t, os.WriteFile(golden, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(got))
}

func TestParseSummaryErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"not JSON", "summary", "invalid character"},
		{"no metrics", `{"root_group":{}}`, "no metrics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSummary(strings.NewReader(tt.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParseLog(t *testing.T) {
	t.Run("a script exception is an error line without its stack", func(t *testing.T) {
		lg, err := readLogFile(filepath.Join("testdata", "k6-exception.log"))
		require.NoError(t, err)
		assert.Equal(t, []string{`Error: EXECUTOR: "foo" is not supported; allowed: constant-arrival-rate, ramping-arrival-rate`}, lg.errors)
		assert.Empty(t, lg.acked)
	})
	t.Run("no log file is no record", func(t *testing.T) {
		lg, err := readLogFile(filepath.Join(t.TempDir(), "k6.log"))
		require.NoError(t, err)
		assert.Empty(t, lg.acked)
	})
	t.Run("a line that is not JSON", func(t *testing.T) {
		_, err := parseLog(strings.NewReader("{\"level\":\"info\",\"msg\":\"ACK o k\",\"source\":\"console\"}\nACK o2 k2\n"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "line 2 is not a JSON log line")
	})
	t.Run("console lines", func(t *testing.T) {
		in := strings.Join([]string{
			`{"level":"info","msg":"START 1000 1250","source":"console"}`,
			`{"level":"info","msg":"ACK ord_1 run-1-0","source":"console"}`,
			`{"level":"info","msg":"ACCEPTED ord_2 run-2-0","source":"console"}`,
			`{"level":"info","msg":"ACK without enough fields","source":"console"}`,
			`{"level":"warning","msg":"Request Failed","error":"timeout"}`,
			`{"level":"error","msg":"boom","source":"console"}`,
			``,
		}, "\n")
		lg, err := parseLog(strings.NewReader(in))
		require.NoError(t, err)
		assert.Equal(t, []Ack{{OrderID: "ord_1", Key: "run-1-0"}}, lg.acked)
		assert.Equal(t, []Ack{{OrderID: "ord_2", Key: "run-2-0"}}, lg.accepted)
		assert.Equal(t, time.UnixMilli(1000).UTC(), lg.origin)
		assert.Equal(t, time.UnixMilli(1250).UTC(), lg.started)
		assert.Equal(t, []string{"boom"}, lg.errors)
	})
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 5}
	for _, s := range []string{"abc", "defg", "h"} {
		n, err := b.Write([]byte(s))
		require.NoError(t, err)
		assert.Equal(t, len(s), n)
	}
	assert.Equal(t, "defgh", b.String())
}
