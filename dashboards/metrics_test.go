package dashboards

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/promql"
)

// metricSources are the folders whose Go code declares the chaoslab_*
// metrics: the shop's services and the harness (chaoslab_fault_active).
var metricSources = []string{"../services", "../harness"}

// chaoslabMetricRE is a chaoslab metric's name as a Go string literal, the
// way the code declares it (prometheus.CounterOpts{Name: "chaoslab_..."},
// histogramOpts("chaoslab_...", ...)).
var chaoslabMetricRE = regexp.MustCompile(`"(chaoslab_[a-z0-9_]+)"`)

// histogramSuffixes are the series a classic histogram adds to its name.
var histogramSuffixes = []string{"_bucket", "_count", "_sum"}

// Every chaoslab_* metric a dashboard queries is one the code declares: a
// renamed or misspelt metric is a panel with no data, which otherwise only
// the e2e test (against a real lab) would notice.
func TestDashboardsQueryDeclaredMetrics(t *testing.T) {
	declared := declaredMetrics(t)
	require.Contains(t, declared, FaultMetric, "the metric declarations are found in %v", metricSources)

	boards, _ := loadReal(t)
	env := Env{Range: time.Hour, Interval: 15 * time.Second, ScrapeInterval: time.Second}
	var checked int
	for _, d := range boards {
		qs, err := d.Queries(env)
		require.NoError(t, err)
		for _, q := range qs {
			if q.Expr == "" {
				continue
			}
			pq, err := promql.Parse(q.Expr)
			if err != nil {
				continue // TestEveryQueryParses reports it
			}
			for _, m := range pq.Metrics() {
				if !strings.HasPrefix(m, "chaoslab_") {
					continue
				}
				checked++
				assert.True(t, isDeclared(declared, m), "%s: %s is not a metric declared in %v: a renamed or misspelt metric shows no data", q, m, metricSources)
			}
		}
	}
	assert.Positive(t, checked, "chaoslab metrics queried")
}

// isDeclared: name, or the histogram name is declared.
func isDeclared(declared []string, name string) bool {
	if slices.Contains(declared, name) {
		return true
	}
	for _, s := range histogramSuffixes {
		if base, ok := strings.CutSuffix(name, s); ok && slices.Contains(declared, base) {
			return true
		}
	}
	return false
}

// declaredMetrics returns the chaoslab_* string literals of the non-test
// Go files of metricSources.
func declaredMetrics(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, dir := range metricSources {
		err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range chaoslabMetricRE.FindAllSubmatch(b, -1) {
				if name := string(m[1]); !slices.Contains(out, name) {
					out = append(out, name)
				}
			}
			return nil
		})
		require.NoError(t, err)
	}
	slices.Sort(out)
	return out
}
