// Package services_test starts the whole shop in one process (real gRPC,
// real SQLite, real HTTP on 127.0.0.1:0) and checks what crosses service
// boundaries: one checkout is one trace over four services, metrics count it,
// logs carry its trace id, idempotency holds end to end, and a graceful
// restart under load fails no request.
package services_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/chaoslab/chaoslab/services/internal/shoptest"
)

// syncBuffer is a bytes.Buffer safe for the services' concurrent loggers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestCheckoutIsOneTraceAcrossFourServicesAndIsCounted(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	logs := &syncBuffer{}
	shop := shoptest.Start(t, shoptest.Options{SpanExporter: exp, Logs: logs})

	code, order, err := shop.Checkout(t.Context(), "trace-key-1", "sku-1", 2)
	require.NoError(t, err)
	require.Equal(t, 201, code)
	require.Equal(t, "CONFIRMED", order.Status)

	// A span is exported when it ends, and a server span ends after it has
	// written its reply: the client can hold the response before the spans
	// that answered it are exported. Wait (bounded) until the trace is
	// closed, i.e. its root and every span's parent have arrived.
	var (
		root     *tracetest.SpanStub
		byID     map[string]tracetest.SpanStub
		services map[string]int
	)
	closed := func() bool {
		root, byID, services = nil, map[string]tracetest.SpanStub{}, map[string]int{}
		spans := exp.GetSpans()
		for i := range spans {
			if spans[i].Name == "POST /v1/orders" && !spans[i].Parent.IsValid() {
				root = &spans[i]
			}
		}
		if root == nil {
			return false
		}
		for _, s := range spans {
			if s.SpanContext.TraceID() != root.SpanContext.TraceID() {
				continue
			}
			byID[s.SpanContext.SpanID().String()] = s
			services[serviceOf(s)]++
		}
		for _, s := range byID {
			if _, ok := byID[s.Parent.SpanID().String()]; s.Parent.IsValid() && !ok {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(5 * time.Second)
	for !closed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// The gateway's server span is the root of the checkout's trace.
	require.NotNil(t, root, "no root span named POST /v1/orders among %d spans", len(exp.GetSpans()))
	traceID := root.SpanContext.TraceID()

	assert.Equal(t, []string{"gateway", "inventory", "orders", "payments"}, keys(services),
		"one checkout must yield spans from all four services in one trace")
	for _, s := range byID {
		if s.SpanContext.SpanID() == root.SpanContext.SpanID() {
			continue
		}
		_, ok := byID[s.Parent.SpanID().String()]
		assert.True(t, ok, "span %q of %s has a parent outside the trace", s.Name, serviceOf(s))
	}
	var sawCharge bool
	for _, s := range byID {
		if serviceOf(s) == "payments" && strings.HasSuffix(s.Name, "/Charge") {
			sawCharge = true
		}
	}
	assert.True(t, sawCharge, "payments' Charge server span is in the trace")

	// Metrics count it, per service.
	assert.Equal(t, 1.0, metricValue(t, shop.Telemetry["gateway"].Registry, "chaoslab_http_requests_total",
		map[string]string{"route": "POST /v1/orders", "code": "201"}))
	assert.Equal(t, 1.0, metricValue(t, shop.Telemetry["orders"].Registry, "chaoslab_saga_outcomes_total",
		map[string]string{"outcome": "confirmed"}))
	assert.Equal(t, 1.0, metricValue(t, shop.Telemetry["payments"].Registry, "chaoslab_rpc_server_requests_total",
		map[string]string{"method": "/payments.v1.PaymentsService/Charge", "code": "OK"}))
	assert.Equal(t, 1.0, metricValue(t, shop.Telemetry["orders"].Registry, "chaoslab_rpc_client_requests_total",
		map[string]string{"target": "inventory", "method": "/inventory.v1.InventoryService/Reserve", "code": "OK"}))

	// Log lines written while handling it carry its trace id.
	var withTrace int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		if rec["trace_id"] == traceID.String() {
			withTrace++
			assert.NotEmpty(t, rec["span_id"])
			assert.NotEmpty(t, rec["service"])
		}
	}
	assert.Positive(t, withTrace, "some log line carries the checkout's trace id")
}

func TestIdempotentCheckoutChargesOnce(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{})
	_, first, err := shop.Checkout(t.Context(), "same-key", "sku-2", 1)
	require.NoError(t, err)
	_, second, err := shop.Checkout(t.Context(), "same-key", "sku-2", 1)
	require.NoError(t, err)
	assert.Equal(t, first.OrderID, second.OrderID)
	assert.Equal(t, first.ChargeID, second.ChargeID)
	assert.Equal(t, 1.0, metricValue(t, shop.Telemetry["payments"].Registry, "chaoslab_rpc_server_requests_total",
		map[string]string{"method": "/payments.v1.PaymentsService/Charge", "code": "OK"}), "one charge")

	code, _, err := shop.Checkout(t.Context(), "same-key", "sku-3", 1)
	require.Error(t, err)
	assert.Equal(t, 409, code, "same key, different order: conflict")
}

// A graceful restart of orders (what SIGTERM does) while load runs through
// the gateway fails no request: in-flight sagas drain, and new calls wait
// for the new process within their deadline.
func TestRestartOrdersUnderLoadFailsNoRequest(t *testing.T) {
	shop := shoptest.Start(t, shoptest.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	var (
		ok, failed atomic.Int64
		mu         sync.Mutex
		failures   []string
		wg         sync.WaitGroup
		stop       = make(chan struct{})
	)
	const workers = 4
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ { // bounded; the test stops it earlier
				select {
				case <-stop:
					return
				default:
				}
				code, _, err := shop.Checkout(ctx, fmt.Sprintf("restart-%d-%d", w, i), "sku-1", 1)
				if code == 201 {
					ok.Add(1)
					continue
				}
				failed.Add(1)
				mu.Lock()
				if len(failures) < 10 {
					failures = append(failures, fmt.Sprintf("%d %v", code, err))
				}
				mu.Unlock()
			}
		}()
	}
	waitFor(t, func() bool { return ok.Load() >= 50 }, 10*time.Second, "load is flowing")
	require.NoError(t, shop.RestartOrders(ctx))
	before := ok.Load()
	waitFor(t, func() bool { return ok.Load() >= before+50 }, 10*time.Second, "load flows after the restart")
	close(stop)
	wg.Wait()

	assert.Zero(t, failed.Load(), "failed requests: %v", failures)
	t.Logf("%d orders placed across the restart, %d failed", ok.Load(), failed.Load())
}

func waitFor(t *testing.T, cond func() bool, within time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func serviceOf(s tracetest.SpanStub) string {
	for _, kv := range s.Resource.Attributes() {
		if kv.Key == "service.name" {
			return kv.Value.AsString()
		}
	}
	return ""
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// metricValue sums the counter or gauge samples of name whose labels include want.
func metricValue(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, want) {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}
