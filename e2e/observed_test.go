//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/stack/local"
)

// A lab is ready when Prometheus measures it: once local.Up returns, every
// service's up series is 1 at once, and the progress says when each service
// was ready and when Prometheus first scraped it.
func TestUpWaitsUntilObserved(t *testing.T) {
	cfg := labConfig(t, 4000)
	var progress strings.Builder
	cfg.Progress = &progress
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	start := time.Now()
	lab, err := local.Up(ctx, cfg)
	require.NoError(t, err, progress.String())
	took := time.Since(start)
	t.Cleanup(func() { local.Down(context.Background(), cfg) })
	t.Logf("local.Up returned after %s:\n%s", took.Round(time.Millisecond), progress.String())

	pc, err := promapi.NewClient(promapi.Config{Address: lab.Endpoints().PrometheusURL})
	require.NoError(t, err)
	prom := promv1.NewAPI(pc)
	at := time.Now()
	services := lab.Endpoints().ServiceOrder
	require.ElementsMatch(t, cfg.Lab.ServiceNames(), services, "every service of the lab file is started")
	for _, svc := range services {
		q := fmt.Sprintf("up{job=%q}", svc)
		v, _, err := prom.Query(ctx, q, at)
		require.NoError(t, err, q)
		vec, ok := v.(model.Vector)
		require.True(t, ok, "%s: %v", q, v)
		// One target per replica, each scraped.
		if assert.Len(t, vec, cfg.Lab.Replicas(svc), "%s at %s: Prometheus has scraped %s since Up returned", q, at.Format(time.RFC3339Nano), svc) {
			for _, s := range vec {
				assert.Equal(t, model.SampleValue(1), s.Value, "%s %s", q, s.Metric["instance"])
			}
		}
	}

	out := progress.String()
	for _, svc := range services {
		assert.Regexp(t, regexp.MustCompile(`(?m)^  `+svc+` +ready at [0-9.]+s, first scraped [0-9.]+s later$`), out)
	}
	m := regexp.MustCompile(`lab ready in ([0-9.]+)s, observed by Prometheus in ([0-9.]+)s`).FindStringSubmatch(out)
	require.NotNil(t, m, "the overall line")
	ready, err := time.ParseDuration(m[1] + "s")
	require.NoError(t, err)
	observed, err := time.ParseDuration(m[2] + "s")
	require.NoError(t, err)
	assert.LessOrEqual(t, ready, observed)
	assert.LessOrEqual(t, observed, took+100*time.Millisecond, "observed before Up returned (rounded to 0.1s)")
}
