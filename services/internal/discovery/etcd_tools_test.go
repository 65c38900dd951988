//go:build tools

package discovery_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	"github.com/chaoslab/chaoslab/services/internal/discovery"
	"github.com/chaoslab/chaoslab/services/internal/grpcclient"
	"github.com/chaoslab/chaoslab/services/internal/host"
	"github.com/chaoslab/chaoslab/services/internal/resilience"
	"github.com/chaoslab/chaoslab/services/internal/telemetry"
)

// The key the replicas register under and the callers dial in these tests.
const key = "orders_to_inventory"

// Two replicas register; a caller balances round_robin over both. One
// deregisters while its server still serves: the caller's calls all go to
// the other within a second, because the registry said so. The host
// deregisters on shutdown.
func TestRoundRobinAndDeregister(t *testing.T) {
	etcd := startEtcd(t)
	a := startReplica(t, etcd.addr(), "inventory-a")
	b := startReplica(t, etcd.addr(), "inventory-b")
	c := newCaller(t, etcd.addr())

	c.waitReaches(t, 5*time.Second, a, b) // the first call builds the resolver
	c.waitEndpoints(t, 2, time.Second)
	resetCalls(a, b)
	c.call(t, 20)
	assert.InDelta(t, 10, a.calls.Load(), 1, "round robin: about half the calls to each replica")
	assert.InDelta(t, 10, b.calls.Load(), 1, "round robin: about half the calls to each replica")
	for _, r := range []*replica{a, b} {
		assert.NoError(t, testutil.GatherAndCompare(r.metrics, strings.NewReader(`
# HELP chaoslab_registry_registered 1 while this replica's endpoint for the key is registered in the registry (etcd), else 0.
# TYPE chaoslab_registry_registered gauge
chaoslab_registry_registered{key="orders_to_inventory",service="inventory"} 1
# HELP chaoslab_registry_registrations_total Attempts to register this replica's endpoints under a new lease, by result (ok, error).
# TYPE chaoslab_registry_registrations_total counter
chaoslab_registry_registrations_total{result="error",service="inventory"} 0
chaoslab_registry_registrations_total{result="ok",service="inventory"} 1
`), "chaoslab_registry_registered", "chaoslab_registry_registrations_total"), r.name)
	}

	// a leaves the registry; its server keeps serving.
	require.NoError(t, a.reg.Deregister(t.Context()))
	assert.Equal(t, 0.0, gauge(t, a.metrics, "chaoslab_registry_registered"))
	left := time.Now()
	c.waitOnly(t, time.Second, b)
	t.Logf("calls left the deregistered replica after %s", time.Since(left).Round(time.Millisecond))
	assert.Equal(t, 1.0, c.endpoints(t))

	// b shuts down: the host deregisters it before draining.
	shutdown, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.NoError(t, b.host.Shutdown(shutdown))
	c.waitEndpoints(t, 0, time.Second)
	assert.Equal(t, 0.0, gauge(t, b.metrics, "chaoslab_registry_registered"))
}

// The registry goes away: callers keep reaching the replicas they know. A
// replica started while the registry is down registers once it is back,
// and callers then reach it too.
func TestRegistryDown(t *testing.T) {
	etcd := startEtcd(t)
	a := startReplica(t, etcd.addr(), "inventory-a")
	b := startReplica(t, etcd.addr(), "inventory-b")
	c := newCaller(t, etcd.addr())
	c.waitReaches(t, 5*time.Second, a, b) // the first call builds the resolver
	c.waitEndpoints(t, 2, time.Second)

	etcd.kill(t)
	// Past the TTL the replicas' clients give their leases up (the
	// keep-alives go unanswered) and start registering again, in vain.
	waitFor(t, 4*time.Second, "the replicas notice that their leases are lost", func() bool {
		return gauge(t, a.metrics, "chaoslab_registry_registered") == 0 && gauge(t, b.metrics, "chaoslab_registry_registered") == 0
	})
	resetCalls(a, b)
	c.call(t, 20)
	assert.InDelta(t, 10, a.calls.Load(), 1, "the caller still balances over both replicas")
	assert.InDelta(t, 10, b.calls.Load(), 1, "the caller still balances over both replicas")
	assert.Equal(t, 2.0, c.endpoints(t), "a dead registry does not empty the list")

	d := startReplica(t, etcd.addr(), "inventory-d")
	waitFor(t, 3*time.Second, "d's registration attempts fail while the registry is down", func() bool {
		return counter(t, d.metrics, "chaoslab_registry_registrations_total", "error") >= 2
	})
	assert.Equal(t, 0.0, gauge(t, d.metrics, "chaoslab_registry_registered"))

	etcd.start(t)
	back := time.Now()
	c.waitReaches(t, 8*time.Second, a, b, d)
	t.Logf("the replica registered while the registry was down was reached %s after the registry's return",
		time.Since(back).Round(time.Millisecond))
	c.waitEndpoints(t, 3, 2*time.Second)
	for _, r := range []*replica{a, b, d} {
		waitFor(t, 2*time.Second, r.name+" registered again", func() bool {
			return gauge(t, r.metrics, "chaoslab_registry_registered") == 1
		})
	}
	assert.GreaterOrEqual(t, counter(t, a.metrics, "chaoslab_registry_registrations_total", "ok"), 2.0, "a registered again, under a new lease")
}

// A caller started while the registry is down does not hang: its calls
// fail fast until the registry answers, then reach the replica.
func TestCallerStartedWhileRegistryDown(t *testing.T) {
	etcd := startEtcd(t)
	a := startReplica(t, etcd.addr(), "inventory-a")
	etcd.kill(t)
	c := newCaller(t, etcd.addr())
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.client.ListProducts(ctx, &inventoryv1.ListProductsRequest{})
	require.Error(t, err)
	assert.Less(t, time.Since(start), 2*time.Second, "fails fast rather than waiting for the registry: %v", err)
	etcd.start(t)
	c.waitReaches(t, 8*time.Second, a)
}

// replica is one inventory replica: a host serving a fake that counts its
// calls, registered under key.
type replica struct {
	name    string
	calls   atomic.Int64
	host    *host.Host
	reg     *discovery.Registry
	metrics *prometheus.Registry
}

type countingInventory struct {
	inventoryv1.UnimplementedInventoryServiceServer
	r *replica
}

func (c countingInventory) ListProducts(context.Context, *inventoryv1.ListProductsRequest) (*inventoryv1.ListProductsResponse, error) {
	c.r.calls.Add(1)
	return &inventoryv1.ListProductsResponse{}, nil
}

func startReplica(t *testing.T, registry, name string) *replica {
	t.Helper()
	r := &replica{name: name}
	tel, err := telemetry.New(t.Context(), telemetry.Config{Service: "inventory", Instance: name, Disabled: true}, io.Discard)
	require.NoError(t, err)
	r.metrics = tel.Registry
	// The address to advertise is the listener's: bind it first.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close())
	r.reg, err = discovery.Open(discovery.Config{Registry: registry, TTL: 2 * time.Second,
		Advertise: discovery.Advertisements{{Key: key, Addr: addr}}},
		discovery.Options{Instance: name, Logger: tel.Logger, Registerer: tel.Registerer})
	require.NoError(t, err)
	r.host, err = host.Start(t.Context(),
		host.Config{Addr: addr, MetricsAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", ShutdownTimeout: 2 * time.Second}, tel,
		host.Service{
			Name:     "inventory",
			GRPC:     func(s *grpc.Server) { inventoryv1.RegisterInventoryServiceServer(s, countingInventory{r: r}) },
			Registry: r.reg,
		})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.host.Shutdown(ctx) // deregistering fails when the test left etcd down
	})
	return r
}

func resetCalls(rs ...*replica) {
	for _, r := range rs {
		r.calls.Store(0)
	}
}

// caller is a service's client connection to inventory through the
// registry.
type caller struct {
	client  inventoryv1.InventoryServiceClient
	metrics *prometheus.Registry
}

func newCaller(t *testing.T, registry string) *caller {
	t.Helper()
	metrics := prometheus.NewRegistry()
	reg, err := discovery.Open(discovery.Config{Registry: registry}, discovery.Options{Instance: "orders", Registerer: metrics})
	require.NoError(t, err)
	conn, err := grpcclient.Dial(grpcclient.Options{
		Target: discovery.Target(key), Registry: reg, Name: "inventory",
		Resilience: resilience.Off(), Registerer: metrics,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		conn.Close()
		reg.Close()
	})
	return &caller{client: inventoryv1.NewInventoryServiceClient(conn), metrics: metrics}
}

// call makes n calls, each within a second, and requires them to succeed.
func (c *caller) call(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		_, err := c.client.ListProducts(ctx, &inventoryv1.ListProductsRequest{})
		cancel()
		require.NoError(t, err, "call %d", i)
	}
}

// waitReaches calls until every replica of rs has answered a call made
// after waitReaches began.
func (c *caller) waitReaches(t *testing.T, within time.Duration, rs ...*replica) {
	t.Helper()
	resetCalls(rs...)
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.name
	}
	waitFor(t, within, "calls reach "+strings.Join(names, ", "), func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		_, _ = c.client.ListProducts(ctx, &inventoryv1.ListProductsRequest{})
		cancel()
		for _, r := range rs {
			if r.calls.Load() == 0 {
				return false
			}
		}
		return true
	})
}

// waitOnly calls until ten calls in a row went to only.
func (c *caller) waitOnly(t *testing.T, within time.Duration, only *replica) {
	t.Helper()
	inARow := 0
	waitFor(t, within, "ten calls in a row reach "+only.name+" only", func() bool {
		before := only.calls.Load()
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		_, err := c.client.ListProducts(ctx, &inventoryv1.ListProductsRequest{})
		cancel()
		if err == nil && only.calls.Load() == before+1 {
			inARow++
		} else {
			inARow = 0
		}
		return inARow >= 10
	})
}

func (c *caller) endpoints(t *testing.T) float64 {
	return gauge(t, c.metrics, "chaoslab_grpc_client_endpoints")
}

func (c *caller) waitEndpoints(t *testing.T, n float64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for got := c.endpoints(t); got != n; got = c.endpoints(t) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: chaoslab_grpc_client_endpoints is %v, want %v", within, got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFor polls cond every 10 ms until it holds, and fails the test with
// what if it does not within d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gauge is the value of the only series of the gauge name in reg (0 when
// absent).
func gauge(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1, name)
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

// counter is the value of the counter name{result}.
func counter(t *testing.T, reg prometheus.Gatherer, name, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// etcd is a single-member etcd on 127.0.0.1, started from the pinned
// binary; start again after kill reuses its ports and data directory.
type etcd struct {
	bin, dir           string
	clientURL, peerURL string
	cmd                *exec.Cmd
	exited             chan struct{}
}

func startEtcd(t *testing.T) *etcd {
	t.Helper()
	e := &etcd{bin: etcdBinary(t), dir: t.TempDir()}
	ports := freePorts(t, 2)
	e.clientURL = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	e.peerURL = "http://127.0.0.1:" + strconv.Itoa(ports[1])
	e.start(t)
	t.Cleanup(func() { e.kill(t) })
	return e
}

// addr is the client endpoint, host:port, as -registry takes it.
func (e *etcd) addr() string { return strings.TrimPrefix(e.clientURL, "http://") }

func (e *etcd) start(t *testing.T) {
	t.Helper()
	log, err := os.OpenFile(filepath.Join(e.dir, "etcd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	defer log.Close()
	e.cmd = exec.Command(e.bin,
		"--name=discoverytest",
		"--data-dir="+filepath.Join(e.dir, "data"),
		"--listen-client-urls="+e.clientURL,
		"--advertise-client-urls="+e.clientURL,
		"--listen-peer-urls="+e.peerURL,
		"--initial-advertise-peer-urls="+e.peerURL,
		"--initial-cluster=discoverytest="+e.peerURL,
		"--listen-metrics-urls=",
		"--unsafe-no-fsync",
		"--log-level=warn",
	)
	e.cmd.Stdout, e.cmd.Stderr = log, log
	require.NoError(t, e.cmd.Start())
	exited := make(chan struct{})
	e.exited = exited
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(exited) }(e.cmd)

	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("etcd exited at start; its log: %s", e.log())
		default:
		}
		resp, err := hc.Get(e.clientURL + "/health")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), `"health":"true"`) {
				return
			}
			err = fmt.Errorf("/health answered %s", body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd not healthy within 10s: %v; its log: %s", err, e.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill kills the etcd process (SIGKILL: no goodbye to its clients) and
// waits for it to be gone.
func (e *etcd) kill(t *testing.T) {
	t.Helper()
	if e.cmd == nil {
		return
	}
	if err := e.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("killing etcd: %v", err)
	}
	<-e.exited
	e.cmd = nil
}

func (e *etcd) log() string {
	b, _ := os.ReadFile(filepath.Join(e.dir, "etcd.log"))
	return string(b)
}

// etcdBinary is the pinned etcd in the .tools/bin of the nearest directory,
// from the working directory upwards, that has one.
func etcdBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		bin := filepath.Join(dir, ".tools", "bin", "etcd")
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no .tools/bin/etcd in the working directory or above it: build it with make tools-kube")
		}
		dir = parent
	}
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
