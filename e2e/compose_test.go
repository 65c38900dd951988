//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/stack/compose"
	"github.com/chaoslab/chaoslab/services/gateway"
)

// composeProject keeps the smoke test's containers apart from a compose lab
// a developer runs (project chaoslab).
const composeProject = "chaoslab-smoke"

// TestComposeShopRunsAsContainers is what can be checked of the compose
// stack on a machine that cannot pull images: docker-compose.yml is valid,
// and the shop's images (built here FROM scratch by make images, the
// registry's etcd among them) run under it through the compose stack
// (harness/stack/compose), each replica of inventory and payments a
// container of its own, wired through a Toxiproxy stand-in built from the
// pinned binary and found through the registry; they take checkouts,
// keep taking them while one replica is down, and suffer and recover from
// every container fault (a service's: all its replicas at once). Jaeger,
// Prometheus and Grafana need pulled images and are left out (ShopOnly).
func TestComposeShopRunsAsContainers(t *testing.T) {
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	_, err := run(ctx, root, nil, "docker", "info", "--format", "{{.ServerVersion}}")
	require.NoError(t, err, "this test needs a running Docker engine")
	_, err = run(ctx, root, nil, "docker-compose", "-p", composeProject, "config", "-q")
	require.NoError(t, err, "docker-compose.yml must be valid")
	buildToxiproxyImage(ctx, t, root)

	cfg := compose.DefaultConfig()
	cfg.Lab = shopLab(t)
	cfg.Dir, cfg.Project, cfg.RunDir = root, composeProject, t.TempDir()
	cfg.Offline, cfg.ShopOnly = true, true
	cfg.ReadyTimeout = time.Minute
	var progress strings.Builder
	cfg.Progress = &progress
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		assert.NoError(t, compose.Down(dctx, cfg))
		out, err := run(dctx, root, nil, "docker", "ps", "-a", "-q", "--filter", "label=com.docker.compose.project="+composeProject)
		assert.NoError(t, err)
		assert.Empty(t, strings.TrimSpace(out), "down leaves no container behind")
	})
	start := time.Now()
	lab, err := compose.Up(ctx, cfg)
	require.NoError(t, err, "%s", progress.String())
	t.Logf("shop containers ready in %s", time.Since(start).Round(time.Millisecond))

	// Checkouts through the client->gateway proxy, as the load sends them.
	e := lab.Endpoints()
	c := gateway.NewClient(e.GatewayURL, token(t, e), &http.Client{Timeout: 10 * time.Second})
	checkout := func() (gateway.Order, error) {
		return order(ctx, c, fmt.Sprintf("smoke-%d", time.Now().UnixNano()))
	}
	// The containers start together, so the gateway's first dials of orders
	// (through the toxiproxy container) can fail while orders is still
	// starting, and gRPC then waits out its reconnect backoff (1 s, 1.6 s,
	// 2.6 s, … with jitter) before it dials again: the first checkout after
	// "ready" can outlast the gateway's 3 s request deadline (a 504). Wait,
	// bounded, for the first one to be confirmed.
	var o gateway.Order
	first := time.Now()
	require.Eventually(t, func() bool {
		o, err = checkout()
		return err == nil && o.Status == "CONFIRMED"
	}, 20*time.Second, 500*time.Millisecond, "a first checkout is confirmed (last: %+v, %v)", o, err)
	t.Logf("first checkout confirmed %s after ready", time.Since(first).Round(time.Millisecond))
	got, err := c.GetOrder(ctx, o.OrderID)
	require.NoError(t, err)
	assert.Equal(t, o.OrderID, got.OrderID)

	// The callers find both replicas of inventory and of payments through
	// the registry and balance over them: a few checkouts reach each one.
	for range 8 {
		_, err := checkout()
		require.NoError(t, err)
	}
	for _, svc := range []string{"inventory", "payments"} {
		for _, i := range e.Services[svc].Instances {
			assert.Positive(t, served(ctx, t, i.MetricsURL), "%s served calls (%s)", i.Name, i.MetricsURL)
		}
	}

	// Each replica of each service is a container of its own, running as
	// the unprivileged user in a FROM scratch image, and status lists it.
	var containers []string
	for _, svc := range e.ServiceOrder {
		if names := e.Services[svc].InstanceNames(); names != nil {
			containers = append(containers, names...)
			continue
		}
		containers = append(containers, svc)
	}
	assert.Subset(t, containers, []string{"registry", "inventory-0", "inventory-1", "payments-0", "payments-1", "orders", "gateway"})
	for _, name := range containers {
		id, err := run(ctx, root, nil, "docker-compose", "-p", composeProject, "ps", "-q", name)
		require.NoError(t, err)
		require.NotEmpty(t, strings.TrimSpace(id), "a container for %s", name)
		user, err := run(ctx, root, nil, "docker", "inspect", "--format", "{{.Config.User}}", strings.TrimSpace(id))
		require.NoError(t, err)
		assert.Equal(t, "65532:65532", strings.TrimSpace(user), name)
	}
	comps, _, err := compose.Status(ctx, cfg)
	require.NoError(t, err)
	var listed []string
	for _, c := range comps {
		listed = append(listed, c.Name)
		assert.Equal(t, "running", c.State, c.Name)
		assert.NoError(t, c.Ready, c.Name)
	}
	assert.Equal(t, append([]string{"toxiproxy"}, containers...), listed, "status lists each replica")

	// Container faults through the fault model: each one breaks checkout
	// while it is in place, and the lab serves again once it is removed.
	ledger, err := faults.OpenLedger(faults.LedgerPath(lab.RunDir()))
	require.NoError(t, err)
	defer ledger.Close()
	inj := faults.NewInjector(stack.FaultEnv(lab, &http.Client{Timeout: 10 * time.Second}), ledger)

	// One replica down is not an outage: the callers find the other one
	// through the registry and balance over what they find.
	for _, svc := range []string{"inventory", "payments"} {
		one := 1
		f := faults.ProcessFault{Service: svc, Action: faults.ActionKill, Replica: &one}
		t.Run(f.String(), func(t *testing.T) {
			a, err := inj.Apply(ctx, "e2e", "compose-smoke", "fault", faults.Spec{Process: &f})
			require.NoError(t, err)
			assert.False(t, lab.Running(svc+"-1"), "%s-1 is killed", svc)
			assert.False(t, lab.Running(svc), "a service runs when each replica does")
			assert.True(t, lab.Running(svc+"-0"), "%s-0 runs on", svc)
			confirmed := 0
			require.Eventually(t, func() bool {
				if o, err := checkout(); err == nil && o.Status == "CONFIRMED" {
					confirmed++
				} else {
					confirmed = 0
				}
				return confirmed == 3
			}, 30*time.Second, 250*time.Millisecond, "three checkouts in a row are confirmed with %s-1 down", svc)
			require.NoError(t, inj.Remove(ctx, a))
			assert.True(t, lab.Running(svc), "removing the fault starts %s-1 again", svc)
		})
	}
	for _, f := range []faults.ContainerFault{
		{Service: "payments", Action: faults.ContainerDisconnect},
		{Service: "payments", Action: faults.ContainerPause},
		{Service: "inventory", Action: faults.ContainerStop},
		{Service: "orders", Action: faults.ContainerKill},
	} {
		t.Run(f.String(), func(t *testing.T) {
			a, err := inj.Apply(ctx, "e2e", "compose-smoke", "fault", faults.Spec{Container: &f})
			require.NoError(t, err)
			o, err := checkout()
			if err == nil {
				assert.NotEqual(t, "CONFIRMED", o.Status, "no checkout is confirmed while %s: %+v", f, o)
			}
			require.NoError(t, inj.Remove(ctx, a))
			require.Eventually(t, func() bool {
				o, err := checkout()
				return err == nil && o.Status == "CONFIRMED"
			}, 30*time.Second, 250*time.Millisecond, "checkouts succeed again after %s is removed", f)
		})
	}
	pending, err := ledger.Pending()
	require.NoError(t, err)
	assert.Empty(t, pending, "every fault is marked removed in the ledger")

	// A knob recreates the container with the flag set through its
	// environment, and nil restores the defaults.
	require.NoError(t, lab.Restart(ctx, "gateway", map[string]string{"rate-limit": "1", "rate-burst": "1"}))
	limited := 0
	for range 5 {
		if _, err := checkout(); err != nil && strings.Contains(err.Error(), "429") {
			limited++
		}
	}
	assert.Positive(t, limited, "the rate-limit knob is in force")
	require.NoError(t, lab.Restart(ctx, "gateway", nil))
	_, err = checkout()
	require.NoError(t, err)
}

// served is the number of gRPC calls a service's replica has answered
// (chaoslab_rpc_server_requests_total, every method and code).
func served(ctx context.Context, t *testing.T, metricsURL string) float64 {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	total := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "chaoslab_rpc_server_requests_total{") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		require.NoError(t, err, line)
		total += v
	}
	return total
}

// buildToxiproxyImage builds chaoslab/toxiproxy:local from the pinned
// binary with docker/toxiproxy.Dockerfile (what make images-offline does).
func buildToxiproxyImage(ctx context.Context, t *testing.T, root string) {
	t.Helper()
	bin := filepath.Join(root, ".tools", "bin", "toxiproxy-server")
	b, err := os.ReadFile(bin)
	require.NoError(t, err, "the compose smoke test needs %s: run `make tools`", bin)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "toxiproxy-server"), b, 0o755))
	out, err := run(ctx, root, nil, "docker", "build", "-q", "-f", filepath.Join(root, "docker", "toxiproxy.Dockerfile"), "-t", "chaoslab/toxiproxy:local", dir)
	require.NoError(t, err, out)
}

func run(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}
