//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/dashboards"
	"github.com/chaoslab/chaoslab/harness/stack/local"
)

// dashboardsScenario is the chaos scenario the dashboards are checked
// against: k6 load and a network fault, about 40 s.
const dashboardsScenario = "latency-payments"

// Every query of every dashboard — panels, annotations, template variables
// — returns data from the real Prometheus of a lab that just ran a chaos
// scenario under load. A query Prometheus rejects (bad PromQL) or that has
// nothing over the run's window is a broken panel; the test lists them all.
func TestDashboardsQueryRealData(t *testing.T) {
	root := repoRoot(t)
	dashDir := filepath.Join(root, "dashboards")
	sources, err := dashboards.LoadDatasources(filepath.Join(dashDir, "provisioning", "datasources", "datasources.yml"))
	require.NoError(t, err)
	boards, err := dashboards.Load(filepath.Join(dashDir, "json"))
	require.NoError(t, err)
	require.NoError(t, dashboards.Validate(boards, sources), "the dashboards are invalid: go test ./dashboards/ says more")

	cfg := labConfig(t, 6000)
	rules, err := filepath.Glob(filepath.Join(root, "slo", "rules", "*.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, rules, "the SLO rules in slo/rules (the SLO dashboard reads them)")
	cfg.RuleFiles = rules

	// Bounded: lab up ~15 s, the scenario ~40 s, the queries a few
	// seconds; the lab goes down in Cleanup (a few seconds more).
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	lab, err := local.Up(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { local.Down(context.Background(), cfg) })
	t.Logf("lab up in %s", time.Since(began).Round(time.Millisecond))
	e := lab.Endpoints()

	pc, err := promapi.NewClient(promapi.Config{Address: e.PrometheusURL})
	require.NoError(t, err)
	prom := promv1.NewAPI(pc)

	start := time.Now().Truncate(time.Second)
	runScenario(ctx, t, root, cfg, dashboardsScenario)
	ran := time.Now()
	// The queries look at the run once Prometheus has scraped every target
	// and evaluated the SLO rules after it ended.
	require.Eventually(t, func() bool { return evaluatedSince(ctx, prom, ran) }, 15*time.Second, 200*time.Millisecond,
		"Prometheus scrapes the lab and evaluates the SLO rules after the run")
	end := time.Now().Truncate(time.Second)
	t.Logf("%s ran from %s to %s (%s)", dashboardsScenario, start.Format(time.TimeOnly), end.Format(time.TimeOnly), end.Sub(start))

	// What Grafana would send for this time range: a step of 1 s (the
	// range is short), $__rate_interval from the lab's scrape interval (the
	// datasource's timeInterval), every variable at its "All" value.
	env := dashboards.Env{Range: end.Sub(start), Interval: time.Second, ScrapeInterval: cfg.Lab.Telemetry.Prometheus.ScrapeInterval}
	var failures []string
	var checked int
	queriesStart := time.Now()
	for _, d := range boards {
		file, _ := filepath.Rel(root, d.File)
		qs, err := d.Queries(env)
		if err != nil {
			failures = append(failures, err.Error())
		}
		for _, q := range qs {
			checked++
			if err := checkQuery(ctx, prom, q, start, end); err != nil {
				failures = append(failures, fmt.Sprintf("%s %q, %s %q (%s):\n      %s\n      → %v", file, d.Title, q.Kind, q.Title, q.Path, q.Expr, err))
			}
		}
	}
	t.Logf("%d queries of %d dashboards checked in %s", checked, len(boards), time.Since(queriesStart).Round(time.Millisecond))
	assert.Positive(t, checked)
	assert.Empty(t, failures, "%d of %d dashboard queries fail or return no data over the run:\n  %s", len(failures), checked, strings.Join(failures, "\n  "))
}

// evaluatedSince reports whether every scrape target and the SLO recording
// rules have a sample newer than t.
func evaluatedSince(ctx context.Context, prom promv1.API, t time.Time) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	v, _, err := prom.Query(ctx, `min(timestamp(up{job!="chaoslab"}) or timestamp(slo:objective:ratio))`, time.Now())
	if err != nil {
		return false
	}
	vec, ok := v.(model.Vector)
	return ok && len(vec) == 1 && float64(vec[0].Value) > float64(t.UnixMilli())/1000
}

// runScenario runs one scenario of the library with the CLI against the
// running lab. Its verdict does not matter here, only that it ran: exit 0
// (as expected) or 1 (a check failed) are both a run with load and faults.
func runScenario(ctx context.Context, t *testing.T, root string, cfg local.Config, name string) {
	t.Helper()
	args := append(append([]string{"run"}, labArgs(cfg)...), "-reports", t.TempDir(), "-scenario", name)
	cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", "chaoslab"), args...)
	cmd.Dir = root
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	err := cmd.Run()
	t.Logf("chaoslab run -scenario %s: %s, %v", name, time.Since(began).Round(time.Millisecond), err)
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		os.Stderr.WriteString(out.String())
		require.NoError(t, err, "chaoslab run did not run the scenario (exit 2: invalid input, 3: inconclusive, 4: lab error); its output is above")
	}
}

// checkQuery runs q as Grafana would over [start, end] and says why it
// shows nothing: an error from Prometheus (a 400 for PromQL it cannot
// parse), no series, or series of NaN only.
func checkQuery(ctx context.Context, prom promv1.API, q dashboards.Query, start, end time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch {
	case q.Label != "":
		var match []string
		if q.Expr != "" {
			match = []string{q.Expr}
		}
		values, _, err := prom.LabelValues(ctx, q.Label, match, start, end)
		if err != nil {
			return err
		}
		if len(values) == 0 {
			return fmt.Errorf("no value of label %s", q.Label)
		}
		return nil
	case q.Instant:
		v, _, err := prom.Query(ctx, q.Expr, end)
		if err != nil {
			return err
		}
		return hasData(v)
	default:
		step := max(time.Second, q.MinStep)
		v, _, err := prom.QueryRange(ctx, q.Expr, promv1.Range{Start: start, End: end, Step: step})
		if err != nil {
			return err
		}
		return hasData(v)
	}
}

func hasData(v model.Value) error {
	switch v := v.(type) {
	case model.Vector:
		for _, s := range v {
			if !math.IsNaN(float64(s.Value)) {
				return nil
			}
		}
		if len(v) > 0 {
			return fmt.Errorf("%d series, every value NaN", len(v))
		}
	case model.Matrix:
		for _, s := range v {
			for _, p := range s.Values {
				if !math.IsNaN(float64(p.Value)) {
					return nil
				}
			}
		}
		if len(v) > 0 {
			return fmt.Errorf("%d series, every value NaN", len(v))
		}
	case *model.Scalar:
		if !math.IsNaN(float64(v.Value)) {
			return nil
		}
	default:
		return fmt.Errorf("unexpected result type %s", v.Type())
	}
	return errors.New("no data")
}
