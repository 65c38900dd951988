package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// rejections is the expected exposition of the rejection counter.
func rejections(rateLimited, overloaded int) string {
	return fmt.Sprintf(`
# HELP chaoslab_gateway_rejected_total Requests the gateway refused before serving them, by reason (rate_limited, overloaded).
# TYPE chaoslab_gateway_rejected_total counter
chaoslab_gateway_rejected_total{reason="overloaded"} %d
chaoslab_gateway_rejected_total{reason="rate_limited"} %d
`, overloaded, rateLimited)
}

func TestRateLimit(t *testing.T) {
	clk := &clock{now: testNow()}
	reg := prometheus.NewPedanticRegistry()
	s := newTestServer(t, &fakeOrders{}, &fakeCatalog{}, func(o *Options) {
		o.Now = clk.Now
		o.Registerer = reg
		o.RateLimit = rate.Every(time.Minute)
		o.Burst = 2
	})

	for i := range 2 {
		assert.Equal(t, http.StatusOK, serve(s, getRequest(t, "/v1/products")).Code, "request %d within the burst", i)
	}
	rec := serve(s, getRequest(t, "/v1/products"))
	requireProblem(t, rec, http.StatusTooManyRequests)
	assert.Equal(t, "60", rec.Header().Get("Retry-After"))

	rec = serve(s, placeRequest(t, validBody))
	requireProblem(t, rec, http.StatusTooManyRequests)

	assert.Equal(t, http.StatusOK, serve(s, getRequest(t, "/healthz")).Code, "health bypasses admission")
	assert.Equal(t, http.StatusOK, serve(s, getRequest(t, "/readyz")).Code, "readiness bypasses admission")

	clk.advance(30 * time.Second)
	rec = serve(s, getRequest(t, "/v1/products"))
	requireProblem(t, rec, http.StatusTooManyRequests)
	assert.Equal(t, "30", rec.Header().Get("Retry-After"), "refusals do not consume tokens")

	clk.advance(30 * time.Second)
	assert.Equal(t, http.StatusOK, serve(s, getRequest(t, "/v1/products")).Code, "the bucket refills")

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(rejections(3, 0)), "chaoslab_gateway_rejected_total"))
}

func TestConcurrencyLimit(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })

	var calls sync.Mutex
	first := true
	orders := &fakeOrders{get: func(ctx context.Context, req *ordersv1.GetOrderRequest) (*ordersv1.Order, error) {
		calls.Lock()
		block := first
		first = false
		calls.Unlock()
		if block {
			close(entered)
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return &ordersv1.Order{OrderId: req.GetOrderId(), Status: ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED}, nil
	}}
	reg := prometheus.NewPedanticRegistry()
	s := newTestServer(t, orders, &fakeCatalog{}, func(o *Options) {
		o.MaxInFlight = 1
		o.Registerer = reg
	})

	held := make(chan int, 1)
	go func() { held <- serve(s, getRequest(t, "/v1/orders/o-1")).Code }()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first request never reached orders")
	}

	rec := serve(s, getRequest(t, "/v1/products"))
	p := requireProblem(t, rec, http.StatusServiceUnavailable)
	assert.Equal(t, "overloaded", p.Title)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.Equal(t, http.StatusOK, serve(s, getRequest(t, "/healthz")).Code, "health bypasses admission")

	releaseOnce.Do(func() { close(release) })
	select {
	case code := <-held:
		assert.Equal(t, http.StatusOK, code)
	case <-time.After(5 * time.Second):
		t.Fatal("the first request never finished")
	}
	assert.Equal(t, http.StatusOK, serve(s, getRequest(t, "/v1/orders/o-2")).Code, "the slot is free again")

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(rejections(0, 1)), "chaoslab_gateway_rejected_total"))
}

func TestRequestTimeout(t *testing.T) {
	t.Run("deadline reaches the client call", func(t *testing.T) {
		const timeout = 3 * time.Second
		var (
			deadline    time.Time
			hasDeadline bool
		)
		orders := &fakeOrders{place: func(ctx context.Context, req *ordersv1.PlaceOrderRequest) (*ordersv1.PlaceOrderResponse, error) {
			deadline, hasDeadline = ctx.Deadline()
			return &ordersv1.PlaceOrderResponse{Order: confirmedOrder(req)}, nil
		}}
		s := newTestServer(t, orders, &fakeCatalog{}, func(o *Options) { o.RequestTimeout = timeout })
		before := time.Now()
		rec := serve(s, placeRequest(t, validBody))
		after := time.Now()

		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		require.True(t, hasDeadline)
		assert.False(t, deadline.Before(before.Add(timeout)), "deadline %v too early", deadline)
		assert.False(t, deadline.After(after.Add(timeout)), "deadline %v too late", deadline)
	})
	t.Run("no timeout, no deadline", func(t *testing.T) {
		hasDeadline := true
		catalog := &fakeCatalog{list: func(ctx context.Context) (*inventoryv1.ListProductsResponse, error) {
			_, hasDeadline = ctx.Deadline()
			return &inventoryv1.ListProductsResponse{}, nil
		}}
		s := newTestServer(t, &fakeOrders{}, catalog, nil)
		require.Equal(t, http.StatusOK, serve(s, getRequest(t, "/v1/products")).Code)
		assert.False(t, hasDeadline)
	})
	t.Run("an expired deadline is a gateway timeout", func(t *testing.T) {
		orders := &fakeOrders{get: func(ctx context.Context, _ *ordersv1.GetOrderRequest) (*ordersv1.Order, error) {
			<-ctx.Done() // bounded by RequestTimeout
			return nil, status.FromContextError(ctx.Err()).Err()
		}}
		s := newTestServer(t, orders, &fakeCatalog{}, func(o *Options) { o.RequestTimeout = 20 * time.Millisecond })
		p := requireProblem(t, serve(s, getRequest(t, "/v1/orders/o-1")), http.StatusGatewayTimeout)
		assert.Equal(t, problemTypePrefix+"deadline-exceeded", p.Type)
	})
}

func TestRejectionCounterRegistersOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := Options{JWTKey: []byte(testKey), Registerer: reg}
	_, err := NewServer(&fakeOrders{}, &fakeCatalog{}, opts)
	require.NoError(t, err)
	_, err = NewServer(&fakeOrders{}, &fakeCatalog{}, opts)
	assert.Error(t, err, "a second gateway on one registry is a wiring mistake")
}
