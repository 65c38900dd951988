package slodef

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuery(t *testing.T) {
	set, err := Load(filepath.Join("testdata", "slos.yaml"))
	require.NoError(t, err)
	tests := []struct {
		name, slo, window, want string
	}{
		{"bad selector", "alpha-bad", "$window",
			`1 - ((sum(rate(requests_total{code=~"5.."}[$window])) or vector(0)) / sum(rate(requests_total[$window])))`},
		{"good selector", "beta-good", "5m",
			`(sum(rate(request_duration_seconds_bucket{le="0.1", route="GET /x"}[5m])) or vector(0)) / sum(rate(request_duration_seconds_count{route="GET /x"}[5m]))`},
		{"queries", "zeta-queries", "1h30m",
			`((sum(rate(jobs_total{result="done"}[1h30m])) + sum(rate(jobs_total{result="skipped"}[1h30m]))) or vector(0)) / (sum(rate(jobs_total[1h30m])))`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := set.Query(tt.slo, tt.window)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	resolved, err := set.Resolve("alpha-bad")
	require.NoError(t, err)
	assert.Equal(t, tests[0].want, resolved)

	_, err = set.Query("checkout", "$window")
	require.EqualError(t, err, `unknown SLO "checkout"; defined in `+filepath.Join("testdata", "slos.yaml")+`: alpha-bad, beta-good, zeta-queries`)
	_, err = set.Resolve("checkout")
	require.Error(t, err)
	for _, w := range []string{"", "5", "$range", "5 m", "0s"} {
		_, err = set.Query("alpha-bad", w)
		assert.ErrorContains(t, err, "want a Prometheus duration like 5m, or $window", w)
	}
}

func TestWindows(t *testing.T) {
	set := &Set{TimeScale: 60}
	var got []string
	for _, w := range set.Windows() {
		got = append(got, w.String())
	}
	assert.Equal(t, []string{"5m → 5s", "30m → 30s", "1h → 1m", "2h → 2m", "6h → 6m", "1d → 24m", "3d → 1h12m", "30d → 12h"}, got)
	assert.Equal(t, Window{Workbook: "30d", Lab: 12 * time.Hour}, set.PeriodWindow())
	assert.Equal(t, "1h12m", set.window("3d").Name())

	// The workbook's own windows.
	assert.Equal(t, "30d → 30d", (&Set{TimeScale: 1}).PeriodWindow().String())

	for scale, want := range map[int]string{
		1:   "",
		60:  "",
		75:  "",
		300: "5m / 300 = 1s is shorter than 4s: rate() over it would see too few of the lab's 1 s scrapes; use at most 75",
		720: "5m / 720 is not a whole number of seconds: use a divisor of 300 (the 5m window in seconds)",
		7:   "5m / 7 is not a whole number of seconds: use a divisor of 300 (the 5m window in seconds)",
		-1:  "must be at least 1 (1: the workbook's own windows)",
	} {
		err := checkTimeScale(scale)
		if want == "" {
			assert.NoError(t, err, scale)
			continue
		}
		assert.EqualError(t, err, want, scale)
	}
}
