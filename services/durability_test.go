package services_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/chaoslab/chaoslab/harness/stack"
	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
	"github.com/chaoslab/chaoslab/services/gateway"
	"github.com/chaoslab/chaoslab/services/internal/shoptest"
)

// procShop runs the four service binaries as real processes.
type procShop struct {
	t     *testing.T
	bin   string
	data  string
	ports map[string][3]int // service → public, metrics, admin
	procs map[string]*proc
}

// proc is a running service process; done closes when it has exited.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func TestAcknowledgedOrdersSurviveKill9OfEveryService(t *testing.T) {
	ps := startProcShop(t)
	httpShop, err := shoptest.NewClient(fmt.Sprintf("http://127.0.0.1:%d", ps.ports["gateway"][0]), []byte("durability-secret"))
	require.NoError(t, err)

	// Load runs while orders is killed with -9 and restarted.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				code, o, _ := httpShop.Checkout(ctx, fmt.Sprintf("kill9-%d-%d", w, i), "sku-1", 1)
				if code == 201 {
					mu.Lock()
					acked[o.OrderID] = true
					mu.Unlock()
				}
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitFor(t, func() bool { return count() >= 30 }, 20*time.Second, "orders are acknowledged")
	ps.kill9AndRestart("orders")
	n := count()
	waitFor(t, func() bool { return count() >= n+30 }, 20*time.Second, "orders are acknowledged after the restart")
	close(stop)
	wg.Wait()

	ps.kill9AndRestart("inventory")
	ps.kill9AndRestart("payments")

	ordersCC := ps.dial("orders")
	invCC := ps.dial("inventory")
	payCC := ps.dial("payments")
	for id := range acked {
		o, err := ordersv1.NewOrdersServiceClient(ordersCC).GetOrder(ctx, &ordersv1.GetOrderRequest{OrderId: id})
		require.NoError(t, err, "acknowledged order %s lost", id)
		assert.Equal(t, ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED, o.GetStatus(), id)
		charges, err := paymentsv1.NewPaymentsServiceClient(payCC).ListCharges(ctx, &paymentsv1.ListChargesRequest{OrderId: id})
		require.NoError(t, err)
		require.Len(t, charges.GetCharges(), 1, "order %s charged exactly once", id)
		assert.Equal(t, paymentsv1.ChargeState_CHARGE_STATE_CAPTURED, charges.GetCharges()[0].GetState())
		res, err := inventoryv1.NewInventoryServiceClient(invCC).GetReservation(ctx, &inventoryv1.GetReservationRequest{ReservationId: id})
		require.NoError(t, err, "reservation of %s lost", id)
		assert.NotEqual(t, inventoryv1.ReservationState_RESERVATION_STATE_RELEASED, res.GetState(), id)
	}
	t.Logf("%d acknowledged orders checked after kill -9 of orders, inventory and payments", len(acked))

	// SIGTERM drains and exits 0.
	for _, name := range []string{"gateway", "orders", "inventory", "payments"} {
		p := ps.procs[name]
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		select {
		case <-p.done:
			require.NoError(t, p.err, "%s exits 0 on SIGTERM", name)
		case <-time.After(15 * time.Second):
			t.Fatalf("%s did not exit after SIGTERM", name)
		}
	}
}

func startProcShop(t *testing.T) *procShop {
	t.Helper()
	ps := &procShop{
		t: t, bin: t.TempDir(), data: t.TempDir(),
		ports: map[string][3]int{}, procs: map[string]*proc{},
	}
	build := exec.Command("go", "build", "-o", ps.bin+string(filepath.Separator),
		"./cmd/gateway", "./cmd/orders", "./cmd/inventory", "./cmd/payments")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the services: %s", out)

	for _, name := range []string{"inventory", "payments", "orders", "gateway"} {
		ps.ports[name] = [3]int{freePort(t), freePort(t), freePort(t)}
	}
	t.Cleanup(func() {
		for _, p := range ps.procs {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	for _, name := range []string{"inventory", "payments", "orders", "gateway"} {
		ps.start(name)
	}
	return ps
}

func (ps *procShop) args(name string) []string {
	p := ps.ports[name]
	addr := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
	args := []string{"-addr", addr(p[0]), "-metrics-addr", addr(p[1]), "-admin-addr", addr(p[2])}
	switch name {
	case "inventory", "payments", "orders":
		args = append(args, "-db", filepath.Join(ps.data, name+".db"))
	}
	switch name {
	case "orders":
		args = append(args, "-inventory-addr", addr(ps.ports["inventory"][0]), "-payments-addr", addr(ps.ports["payments"][0]))
	case "gateway":
		args = append(args, "-orders-addr", addr(ps.ports["orders"][0]), "-inventory-addr", addr(ps.ports["inventory"][0]), "-rate-limit", "0")
	}
	return args
}

// start starts a service of a new shop. freePort's ports were free when it
// chose them, but a listener of a test running alongside may take one
// before the service binds it: a start that fails on "address already in
// use" is retried on fresh ports (the services started after it have not
// been given them yet).
func (ps *procShop) start(name string) {
	for attempt := 1; ; attempt++ {
		err := ps.launch(name)
		if err == nil {
			return
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			ps.t.Fatalf("starting %s: %v", name, err)
		}
		ps.t.Logf("starting %s, attempt %d: %v; again on other ports", name, attempt, err)
		ps.ports[name] = [3]int{freePort(ps.t), freePort(ps.t), freePort(ps.t)}
	}
}

// launch starts the service and waits until it is ready: its own log says
// it started (all its listeners are bound: a readiness answer could come
// from another test's server on a stolen port) and /readyz answers 200.
func (ps *procShop) launch(name string) error {
	t := ps.t
	logPath := filepath.Join(ps.data, name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	info, err := logf.Stat()
	require.NoError(t, err)
	from := info.Size() // this start's lines follow those of the killed one
	thisStart := func() string {
		b, _ := os.ReadFile(logPath)
		return string(b[min(from, int64(len(b))):])
	}
	cmd := exec.Command(filepath.Join(ps.bin, name), ps.args(name)...)
	cmd.Env = append(os.Environ(), gateway.JWTKeyEnv+"=durability-secret")
	cmd.Stdout, cmd.Stderr = logf, logf
	// The service dies with the test process, even when the test panics.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); logf.Close(); close(p.done) }()
	ps.procs[name] = p

	ready := fmt.Sprintf("http://127.0.0.1:%d/readyz", ps.ports[name][1])
	probeClient := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("exited (%v): %s", p.err, thisStart())
		default:
		}
		if strings.Contains(thisStart(), `"service started"`) && stack.Probe(ps.t.Context(), probeClient, ready) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after 15s (%s)", ready)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (ps *procShop) kill9AndRestart(name string) {
	p := ps.procs[name]
	require.NoError(ps.t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
	// A restart keeps its ports: the other services dial them.
	if err := ps.launch(name); err != nil {
		ps.t.Fatalf("restarting %s: %v", name, err)
	}
}

func (ps *procShop) dial(name string) *grpc.ClientConn {
	cc, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", ps.ports[name][0]), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(ps.t, err)
	ps.t.Cleanup(func() { cc.Close() })
	return cc
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
