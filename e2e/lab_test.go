//go:build e2e

// Package e2e runs the whole lab for real — Jaeger, Prometheus, Toxiproxy
// and the shop as local processes — and checks it end to end. It needs the
// service binaries (make build) and the pinned tools (make tools); `make
// test-e2e` builds both first. A missing piece fails the tests with what to
// run; nothing is skipped.
package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/stack/local"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
	"github.com/chaoslab/chaoslab/harness/traces"
	"github.com/chaoslab/chaoslab/labs/shop/invariants"
	"github.com/chaoslab/chaoslab/services/gateway"
)

// repoRoot is the checkout this package lives in.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	return root
}

// labConfig is a lab in a temp run dir on shifted ports, so the tests never
// collide with a lab a developer runs on the default ports.
func labConfig(t *testing.T, offsetDefault int) local.Config {
	t.Helper()
	root := repoRoot(t)
	cfg := local.DefaultConfig()
	cfg.Lab = shopLab(t)
	cfg.RunDir = t.TempDir()
	cfg.BinDir = filepath.Join(root, "bin")
	cfg.ToolsDir = filepath.Join(root, ".tools", "bin")
	cfg.PortOffset = offsetDefault
	if v, err := strconv.Atoi(os.Getenv("CHAOSLAB_E2E_PORT_OFFSET")); err == nil {
		cfg.PortOffset = v + offsetDefault
	}
	for _, bin := range []string{
		filepath.Join(cfg.BinDir, "gateway"), filepath.Join(cfg.BinDir, "chaoslab"),
		filepath.Join(cfg.ToolsDir, "jaeger"), filepath.Join(cfg.ToolsDir, "prometheus"), filepath.Join(cfg.ToolsDir, "toxiproxy-server"),
	} {
		_, err := os.Stat(bin)
		require.NoError(t, err, "the e2e tests need %s: run `make build tools` (make test-e2e does)", bin)
	}
	return cfg
}

// shopLab loads the shop's lab file, the system these tests run.
func shopLab(t *testing.T) *lab.Lab {
	t.Helper()
	l, err := lab.Load(filepath.Join(repoRoot(t), "labs", "shop", "lab.yaml"), lab.WithBuiltins(lab.Builtins{
		Invariants: invariants.Names(), Settle: []string{"no_pending_orders", "no_pending_work"}}))
	require.NoError(t, err)
	return l
}

// labArgs are the CLI flags that point chaoslab at the lab of cfg.
func labArgs(cfg local.Config) []string {
	return []string{"-run-dir", cfg.RunDir, "-bin-dir", cfg.BinDir, "-tools-dir", cfg.ToolsDir, "-port-offset", strconv.Itoa(cfg.PortOffset)}
}

// token is a bearer token from the lab's issuer (the shop's load.auth is
// client-credentials: the client's secret is in the run dir).
func token(t *testing.T, e stack.Endpoints) string {
	t.Helper()
	secret, err := os.ReadFile(e.JWTKeyFile)
	require.NoError(t, err)
	iss, ok := e.Services["issuer"]
	require.True(t, ok, "the shop's issuer")
	c := clientcredentials.Config{ClientID: "chaoslab", ClientSecret: strings.TrimSpace(string(secret)), TokenURL: "http://" + iss.Addr + "/oauth2/token"}
	tok, err := c.Token(t.Context())
	require.NoError(t, err)
	return tok.AccessToken
}

func order(ctx context.Context, c *gateway.Client, key string) (gateway.Order, error) {
	return c.PlaceOrder(ctx, key, gateway.OrderRequest{CustomerID: "e2e", Items: []gateway.OrderItem{{SKU: "sku-1", Quantity: 1}}})
}

func TestLocalLabIsWiredForReal(t *testing.T) {
	cfg := labConfig(t, 1000)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	start := time.Now()
	lab, err := local.Up(ctx, cfg)
	require.NoError(t, err)
	t.Logf("lab up in %s", time.Since(start).Round(time.Millisecond))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			local.Down(context.Background(), cfg)
		}
	})
	e := lab.Endpoints()
	client := gateway.NewClient(e.GatewayURL, token(t, e), nil)

	first := time.Now()
	for i := range 5 {
		o, err := order(ctx, client, fmt.Sprintf("e2e-wiring-%d", i))
		require.NoError(t, err)
		require.Equal(t, "CONFIRMED", o.Status)
	}

	pc, err := promapi.NewClient(promapi.Config{Address: e.PrometheusURL})
	require.NoError(t, err)
	prom := promv1.NewAPI(pc)

	t.Run("every Prometheus target is up", func(t *testing.T) {
		wantJobs := []string{"gateway", "inventory", "jaeger", "nats", "orders", "payments", "prometheus", "shipping", "toxiproxy"}
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			targets, err := prom.Targets(ctx)
			require.NoError(c, err)
			up := map[string]bool{}
			for _, tg := range targets.Active {
				job := string(tg.Labels["job"])
				if job == "chaoslab" {
					// The harness's own metrics: served only while it runs
					// scenarios (TestDashboardsQueryRealData reads them).
					assert.Equal(c, "http://"+e.HarnessMetricsAddr+"/metrics", tg.ScrapeURL)
					continue
				}
				assert.Equal(c, promv1.HealthGood, tg.Health, "target %s (%s): %s", job, tg.ScrapeURL, tg.LastError)
				up[job] = tg.Health == promv1.HealthGood
			}
			for _, j := range wantJobs {
				assert.True(c, up[j], "job %s is up", j)
			}
		}, 15*time.Second, 250*time.Millisecond)
	})

	t.Run("Jaeger has the checkout trace across all four services", func(t *testing.T) {
		jc, err := traces.Dial(e.JaegerQueryGRPC)
		require.NoError(t, err)
		defer jc.Close()
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			found, err := jc.Find(ctx, traces.Query{Service: "gateway", Operation: "POST /v1/orders", Start: first.Add(-time.Second), End: time.Now().Add(time.Second)})
			require.NoError(c, err)
			require.NotEmpty(c, found, "no checkout trace yet")
			var complete int
			for _, tr := range found {
				// shipping's span joins the trace once the OrderConfirmed
				// event got through (asynchronously): a superset is fine.
				svcs := tr.Services()
				all := true
				for _, want := range []string{"gateway", "inventory", "orders", "payments"} {
					all = all && slices.Contains(svcs, want)
				}
				if all && len(tr.Orphans()) == 0 {
					complete++
				}
			}
			assert.Positive(c, complete, "a trace spans gateway, inventory, orders and payments with every span parented")
		}, 20*time.Second, 500*time.Millisecond)
	})

	t.Run("a latency toxic on orders->payments raises checkout latency in Prometheus", func(t *testing.T) {
		tp := toxiproxy.New(e.ToxiproxyURL)
		proxies, err := tp.Proxies(ctx)
		require.NoError(t, err)
		require.Len(t, e.Edges, len(cfg.Lab.Edges), "one proxy per edge of the lab file")
		for _, edge := range e.Edges {
			require.Contains(t, proxies, edge.Proxy)
		}

		const window = 4 * time.Second
		meanLatency := func(at time.Time) float64 {
			q := fmt.Sprintf(`sum(rate(chaoslab_http_request_duration_seconds_sum{route="POST /v1/orders"}[%s])) / sum(rate(chaoslab_http_request_duration_seconds_count{route="POST /v1/orders"}[%s]))`,
				model.Duration(window), model.Duration(window))
			v, _, err := prom.Query(ctx, q, at)
			require.NoError(t, err)
			vec, ok := v.(model.Vector)
			require.True(t, ok && len(vec) == 1, "query %s at %s returned %v", q, at, v)
			return float64(vec[0].Value)
		}
		load := func(prefix string, d time.Duration) time.Time {
			end := time.Now().Add(d)
			for i := 0; time.Now().Before(end); i++ {
				_, err := order(ctx, client, fmt.Sprintf("%s-%d", prefix, i))
				require.NoError(t, err)
			}
			return time.Now()
		}
		baselineEnd := load("e2e-base", window+time.Second)
		// payments runs two replicas: the edge has a proxy to each.
		paymentsProxies := e.Edges["orders->payments"].Proxies()
		require.Len(t, paymentsProxies, 2)
		for _, p := range paymentsProxies {
			require.NoError(t, tp.AddToxic(ctx, p, toxiproxy.Toxic{
				Name: "e2e-latency", Type: "latency", Stream: "downstream", Toxicity: 1, Attributes: map[string]any{"latency": 200},
			}))
		}
		faultEnd := load("e2e-slow", window+time.Second)
		for _, p := range paymentsProxies {
			require.NoError(t, tp.RemoveToxic(ctx, p, "e2e-latency"))
		}
		time.Sleep(2500 * time.Millisecond) // two scrapes after the last request

		base, slow := meanLatency(baselineEnd), meanLatency(faultEnd)
		t.Logf("mean checkout latency: %.0f ms baseline, %.0f ms with 200 ms on orders->payments", base*1000, slow*1000)
		assert.GreaterOrEqual(t, slow-base, 0.15, "the toxic's latency shows in the gateway's histogram")
	})

	t.Run("status reports every component ready", func(t *testing.T) {
		comps, _, err := local.Status(ctx, cfg)
		require.NoError(t, err)
		var total int64
		for _, c := range comps {
			assert.True(t, c.Running, c.Name)
			assert.NoError(t, c.Ready, c.Name)
			total += c.RSSBytes
		}
		t.Logf("resident memory of the lab under light load: %.0f MiB", float64(total)/(1<<20))
	})

	st := lab.State()
	require.NoError(t, local.Down(ctx, cfg))
	stopped = true
	assertNothingLeft(t, st)
}

// assertNothingLeft checks that no process of the lab runs and no port of
// the lab is still bound.
func assertNothingLeft(t *testing.T, st local.State) {
	t.Helper()
	for _, p := range st.Procs {
		assert.False(t, p.Alive(), "%s (pid %d) still runs", p.Name, p.PID)
	}
	for _, port := range st.Ports.List() {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port.Number)))
		if assert.NoError(t, err, "port %d (%s %s) still bound", port.Number, port.Component, port.Name) {
			l.Close()
		}
	}
}

// `chaoslab down` stops everything even when `chaoslab up` was killed with -9
// halfway through starting the lab.
func TestDownAfterUpWasKilled(t *testing.T) {
	cfg := labConfig(t, 2000)
	root := repoRoot(t)
	args := labArgs(cfg)

	up := exec.Command(filepath.Join(root, "bin", "chaoslab"), append([]string{"up"}, args...)...)
	up.Dir = root // where the default -lab, labs/shop/lab.yaml, is
	up.Stdout, up.Stderr = os.Stderr, os.Stderr
	require.NoError(t, up.Start())
	upDone := make(chan struct{})
	go func() { up.Wait(); close(upDone) }()
	t.Cleanup(func() { local.Down(context.Background(), cfg) })

	// Kill it once it has started a few components but not all.
	require.Eventually(t, func() bool {
		st, err := local.ReadState(cfg.RunDir)
		return err == nil && len(st.Procs) >= 3
	}, 60*time.Second, 10*time.Millisecond)
	require.NoError(t, up.Process.Signal(syscall.SIGKILL))
	<-upDone
	st, err := local.ReadState(cfg.RunDir)
	require.NoError(t, err)
	require.NotEmpty(t, st.Running(), "components started by the killed up still run")

	down := exec.Command(filepath.Join(root, "bin", "chaoslab"), append([]string{"down"}, args...)...)
	out, err := down.CombinedOutput()
	require.NoError(t, err, string(out))
	assertNothingLeft(t, *st)
}
