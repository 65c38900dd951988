//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/explore"
	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/stack/local"
)

// With its resilience switched off (no retries, no deadlines), the shop has
// the weaknesses the library's expect-fail scenarios show: Charge errors
// without retries (payments-errors-10pct-no-retries) and a payments
// blackhole without deadlines (payments-blackhole-no-deadlines). explore
// must flag both from the traces alone: no scenario names them, the fault
// space is what the baseline's traces reached on orders->payments.
func TestExploreFlagsTheShopWithoutResilience(t *testing.T) {
	cfg := labConfig(t, 7000)
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(t.Context(), 9*time.Minute)
	defer cancel()
	_, err := local.Up(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { local.Down(context.Background(), cfg) })

	reports := t.TempDir()
	args := append([]string{"explore", "-attach"}, labArgs(cfg)...)
	args = append(args, "-journey", "checkout.js", "-reports", reports, "-seed", "42", "-budget", "8m",
		"-knobs", "orders.retries=false,orders.deadlines=false,gateway.deadlines=false",
		// Both variants on the edge must run, not be skipped as implied
		// by a method point that failed first.
		"-focus", "orders->payments", "-reduce", "path")
	cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", "chaoslab"), args...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	err = cmd.Run()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "explore exits 1 with findings, got %v", err)
	assert.Equal(t, 1, exit.ExitCode(), "exit 1: points broke the lab")

	runs, err := filepath.Glob(filepath.Join(reports, "*", "explore.json"))
	require.NoError(t, err)
	require.Len(t, runs, 1)
	b, err := os.ReadFile(runs[0])
	require.NoError(t, err)
	var res explore.Result
	require.NoError(t, json.Unmarshal(b, &res))
	assert.Equal(t, uint64(42), res.Seed)
	assert.Positive(t, res.Reach.Traces, "the space came from the baseline's traces")

	byID := map[string]explore.PointResult{}
	for _, p := range res.Points {
		byID[p.ID()] = p
	}
	failedOnData := func(p explore.PointResult) []string {
		var out []string
		for _, c := range p.Checks {
			if c.Outcome == journal.Fail && c.OnData {
				out = append(out, c.Name)
			}
		}
		return out
	}
	charge := byID["method payments /payments.v1.PaymentsService/Charge UNAVAILABLE"]
	require.NotEmpty(t, charge.Points, "the Charge UNAVAILABLE point was built from the traces: %v", slices.Collect(maps.Keys(byID)))
	assert.Equal(t, explore.StatusFail, charge.Status, charge.Reason)
	assert.Contains(t, failedOnData(charge), "checkout-availability", "without retries 10%% of Charge errors cost the availability SLO")

	blackhole := byID["edge orders->payments blackhole"]
	require.NotEmpty(t, blackhole.Points)
	assert.Equal(t, explore.StatusFail, blackhole.Status, blackhole.Reason)
	assert.Contains(t, failedOnData(blackhole), "checkout-availability-throughput",
		"without deadlines checkouts hang behind the blackhole: the answered rate collapses")

	// Each finding's scenario is accepted by validate, as a file to commit.
	for _, p := range res.Points {
		if p.Status != explore.StatusFail {
			continue
		}
		require.FileExists(t, p.Scenario)
		validate := exec.Command(filepath.Join(root, "bin", "chaoslab"), "validate", p.Scenario)
		validate.Dir = root
		out, err := validate.CombinedOutput()
		assert.NoError(t, err, "chaoslab validate %s: %s", p.Scenario, out)
		data, err := os.ReadFile(p.Scenario)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(string(data), "# Purpose: "), p.Scenario)
	}
	for _, f := range []string{"index.html", "junit.xml"} {
		assert.FileExists(t, filepath.Join(filepath.Dir(runs[0]), f))
	}
}
