package orders

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
	"github.com/chaoslab/chaoslab/services/internal/resilience"
)

// harness is a Service over a real store and fake dependencies, with its
// metrics and spans held in memory.
type harness struct {
	svc   *Service
	store *Store
	stock *fakeStock
	pay   *fakePayments
	reg   *prometheus.Registry
	spans *tracetest.InMemoryExporter
	tp    *sdktrace.TracerProvider
}

// newHarness builds the harness; configure adjusts the Service's options.
func newHarness(t *testing.T, configure ...func(*Options)) *harness {
	t.Helper()
	store, err := OpenStore(t.Context(), filepath.Join(t.TempDir(), "orders.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	h := &harness{
		store: store,
		stock: newFakeStock(),
		pay:   newFakePayments(),
		reg:   prometheus.NewRegistry(),
		spans: tracetest.NewInMemoryExporter(),
	}
	h.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(h.spans))
	t.Cleanup(func() { h.tp.Shutdown(context.Background()) })
	opts := Options{
		Logger:               slog.New(slog.NewTextHandler(t.Output(), nil)),
		TracerProvider:       h.tp,
		Registerer:           h.reg,
		StepTimeout:          2 * time.Second,
		CompensationTimeout:  2 * time.Second,
		CompensationAttempts: 3,
		CompensationBackoff:  time.Millisecond,
	}
	for _, c := range configure {
		c(&opts)
	}
	h.svc, err = NewService(store, h.stock, h.pay, opts)
	require.NoError(t, err)
	return h
}

// request is a valid order of 2 apples (150) and 1 pear (275): 575 cents.
func request(key string) PlaceRequest {
	return PlaceRequest{
		IdempotencyKey: key,
		CustomerID:     "cust_1",
		Items:          []Item{{SKU: "apple", Quantity: 2}, {SKU: "pear", Quantity: 1}},
		PaymentMethod:  "card_ok",
	}
}

const requestTotal = 2*150 + 275

func (h *harness) outcome(outcome, reason string) float64 {
	return testutil.ToFloat64(h.svc.metrics.outcomes.WithLabelValues(outcome, reason))
}

func (h *harness) compensations(step, result string) float64 {
	return testutil.ToFloat64(h.svc.metrics.compensations.WithLabelValues(step, result))
}

func TestPlaceOrderConfirms(t *testing.T) {
	h := newHarness(t)

	o, err := h.svc.PlaceOrder(t.Context(), request("k1"))
	require.NoError(t, err)

	assert.Equal(t, StatusConfirmed, o.Status)
	assert.Regexp(t, `^ord_[0-9a-f]{16}$`, o.ID)
	assert.Equal(t, "ch_1", o.ChargeID)
	assert.Empty(t, o.FailureReason)
	assert.Equal(t, int64(requestTotal), o.TotalCents)
	assert.Equal(t, []Item{{"apple", 2, 150}, {"pear", 1, 275}}, o.Items)

	require.Len(t, h.pay.callsOf("Charge"), 1)
	assert.Equal(t, o.ID, h.pay.callsOf("Charge")[0].id, "charge is keyed by the order id")
	assert.Equal(t, o.ID, h.stock.callsOf("Reserve")[0].id, "reservation id is the order id")
	assert.Equal(t, 0, h.stock.count("Release"))
	assert.Equal(t, 0, h.pay.count("Refund"))
	st, _ := h.stock.reservation(o.ID)
	assert.Equal(t, inventoryv1.ReservationState_RESERVATION_STATE_COMMITTED, st)

	h.pay.mu.Lock()
	charge := h.pay.charges[o.ID]
	h.pay.mu.Unlock()
	assert.Equal(t, int64(requestTotal), charge.GetAmountCents(), "amount is the total of the reservation's prices")

	stored, err := h.store.Get(t.Context(), o.ID)
	require.NoError(t, err)
	assert.Equal(t, StatusConfirmed, stored.Status)
	assert.Equal(t, "ch_1", stored.ChargeID)
	assert.Equal(t, o.Items, stored.Items)

	assert.Equal(t, 1.0, h.outcome(outcomeConfirmed, ""))
	assert.Equal(t, 1.0, testutil.ToFloat64(h.svc.metrics.commits.WithLabelValues(resultOK)))
}

func TestPlaceOrderPassesPaymentMethodThrough(t *testing.T) {
	h := newHarness(t)
	req := request("k1")
	req.PaymentMethod = "card_declined"

	o, err := h.svc.PlaceOrder(t.Context(), req)
	require.NoError(t, err)
	assert.Equal(t, StatusFailed, o.Status)
	assert.Equal(t, ReasonPaymentDeclined, o.FailureReason)
}

func TestSagaFailuresCompensate(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(h *harness, req *PlaceRequest)
		reason string
		// calls expected per method of the fakes.
		reserve, charge, refund, release int
	}{
		{
			name:    "out of stock",
			setup:   func(_ *harness, r *PlaceRequest) { r.Items = []Item{{SKU: "plum", Quantity: 4}} },
			reason:  ReasonOutOfStock,
			reserve: 1, release: 1,
		},
		{
			name:    "unknown product",
			setup:   func(_ *harness, r *PlaceRequest) { r.Items = append(r.Items, Item{SKU: "durian", Quantity: 1}) },
			reason:  ReasonUnknownProduct,
			reserve: 1, release: 1,
		},
		{
			name:    "reserve unavailable",
			setup:   func(h *harness, _ *PlaceRequest) { h.stock.failOn("Reserve", codes.Unavailable, 1) },
			reason:  ReasonDependencyUnavailable,
			reserve: 1, release: 1,
		},
		{
			name:    "reserve deadline exceeded",
			setup:   func(h *harness, _ *PlaceRequest) { h.stock.failOn("Reserve", codes.DeadlineExceeded, 1) },
			reason:  ReasonDeadlineExceeded,
			reserve: 1, release: 1,
		},
		{
			name:    "reserve applied but its response lost",
			setup:   func(h *harness, _ *PlaceRequest) { h.stock.failAfterApply("Reserve", codes.Unavailable, 1) },
			reason:  ReasonDependencyUnavailable,
			reserve: 1, release: 1,
		},
		{
			name:    "reserve internal error",
			setup:   func(h *harness, _ *PlaceRequest) { h.stock.failOn("Reserve", codes.Internal, 1) },
			reason:  ReasonDependencyUnavailable,
			reserve: 1, release: 1,
		},
		{
			name:    "payment declined",
			setup:   func(_ *harness, r *PlaceRequest) { r.PaymentMethod = "card_declined" },
			reason:  ReasonPaymentDeclined,
			reserve: 1, charge: 1, release: 1,
		},
		{
			name:    "charge unavailable",
			setup:   func(h *harness, _ *PlaceRequest) { h.pay.failOn("Charge", codes.Unavailable, 1) },
			reason:  ReasonDependencyUnavailable,
			reserve: 1, charge: 1, refund: 1, release: 1,
		},
		{
			name:    "charge applied but its response lost",
			setup:   func(h *harness, _ *PlaceRequest) { h.pay.failAfterApply("Charge", codes.DeadlineExceeded, 1) },
			reason:  ReasonDeadlineExceeded,
			reserve: 1, charge: 1, refund: 1, release: 1,
		},
		{
			name: "compensations retried until they succeed",
			setup: func(h *harness, _ *PlaceRequest) {
				h.pay.failOn("Charge", codes.Unavailable, 1)
				h.pay.failOn("Refund", codes.Unavailable, 2)
				h.stock.failAfterApply("Release", codes.Unavailable, 1)
			},
			reason:  ReasonDependencyUnavailable,
			reserve: 1, charge: 1, refund: 3, release: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			before := map[string]int64{"apple": h.stock.level("apple"), "pear": h.stock.level("pear"), "plum": h.stock.level("plum")}
			req := request("k1")
			tt.setup(h, &req)

			o, err := h.svc.PlaceOrder(t.Context(), req)
			require.NoError(t, err, "a business failure is a FAILED order, not an error")

			assert.Equal(t, StatusFailed, o.Status)
			assert.Equal(t, tt.reason, o.FailureReason)
			assert.Empty(t, o.ChargeID)
			stored, err := h.store.Get(t.Context(), o.ID)
			require.NoError(t, err)
			assert.Equal(t, StatusFailed, stored.Status)
			assert.Equal(t, tt.reason, stored.FailureReason)

			assert.Equal(t, tt.reserve, h.stock.count("Reserve"), "Reserve calls")
			assert.Equal(t, tt.charge, h.pay.count("Charge"), "Charge calls")
			assert.Equal(t, tt.refund, h.pay.count("Refund"), "Refund calls")
			assert.Equal(t, tt.release, h.stock.count("Release"), "Release calls")
			assert.Equal(t, 0, h.stock.count("Commit"), "a failed order is never committed")

			// Nothing leaked: stock back, no money held, tombstones in place.
			for sku, n := range before {
				assert.Equal(t, n, h.stock.level(sku), "stock of %s", sku)
			}
			assert.Equal(t, 0, h.pay.captured(), "no charge holds money")
			st, ok := h.stock.reservation(o.ID)
			require.True(t, ok, "release leaves a reservation or a tombstone")
			assert.Equal(t, inventoryv1.ReservationState_RESERVATION_STATE_RELEASED, st)
			if tt.refund > 0 {
				st, ok := h.pay.chargeState(o.ID)
				require.True(t, ok, "refund leaves a charge or a tombstone")
				assert.Contains(t, []paymentsv1.ChargeState{
					paymentsv1.ChargeState_CHARGE_STATE_REFUNDED, paymentsv1.ChargeState_CHARGE_STATE_VOIDED,
				}, st)
			}

			assert.Equal(t, 1.0, h.outcome(outcomeFailed, tt.reason))
			assert.Equal(t, 0.0, h.outcome(outcomeConfirmed, ""))
			assert.Equal(t, 1.0, h.compensations(stepRelease, resultOK))
			assert.Equal(t, float64(min(tt.refund, 1)), h.compensations(stepRefund, resultOK))
			assert.Equal(t, 0.0, h.compensations(stepRelease, resultError)+h.compensations(stepRefund, resultError))
		})
	}
}

func TestLateStepsAfterCompensationFail(t *testing.T) {
	// The tombstones left by compensation make a late duplicate of a step
	// fail: a Reserve or Charge still in flight when we gave up cannot take
	// stock or money afterwards.
	h := newHarness(t)
	h.pay.failOn("Charge", codes.DeadlineExceeded, 1)
	o, err := h.svc.PlaceOrder(t.Context(), request("k1"))
	require.NoError(t, err)
	require.Equal(t, StatusFailed, o.Status)

	_, err = h.stock.Reserve(t.Context(), &inventoryv1.ReserveRequest{ReservationId: o.ID, Items: []*inventoryv1.Item{{Sku: "apple", Quantity: 1}}})
	assert.Equal(t, codes.FailedPrecondition, codeOf(err))
	_, err = h.pay.Charge(t.Context(), &paymentsv1.ChargeRequest{IdempotencyKey: o.ID, OrderId: o.ID, AmountCents: requestTotal})
	assert.Equal(t, codes.FailedPrecondition, codeOf(err))
}

func TestCommitFailureKeepsOrderConfirmed(t *testing.T) {
	h := newHarness(t)
	h.stock.failOn("Commit", codes.Unavailable, -1)

	o, err := h.svc.PlaceOrder(t.Context(), request("k1"))
	require.NoError(t, err)
	assert.Equal(t, StatusConfirmed, o.Status)
	assert.Equal(t, 3, h.stock.count("Commit"), "commit is retried")
	assert.Equal(t, 0, h.stock.count("Release"), "a confirmed order is never released")
	assert.Equal(t, 1.0, testutil.ToFloat64(h.svc.metrics.commits.WithLabelValues(resultError)))
	stored, err := h.store.Get(t.Context(), o.ID)
	require.NoError(t, err)
	assert.Equal(t, StatusConfirmed, stored.Status)
}

func TestIdempotentReplay(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *harness)
		want  Status
	}{
		{"confirmed", func(*harness) {}, StatusConfirmed},
		{"failed", func(h *harness) { h.pay.failOn("Charge", codes.Unavailable, 1) }, StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tt.setup(h)
			first, err := h.svc.PlaceOrder(t.Context(), request("k1"))
			require.NoError(t, err)
			require.Equal(t, tt.want, first.Status)

			second, err := h.svc.PlaceOrder(t.Context(), request("k1"))
			require.NoError(t, err)
			assert.Equal(t, first.ID, second.ID)
			assert.Equal(t, first.Status, second.Status)
			assert.Equal(t, first.ChargeID, second.ChargeID)
			assert.Equal(t, 1, h.pay.count("Charge"), "the same key never charges again")
			assert.Equal(t, 1, h.stock.count("Reserve"), "a final order is returned as stored")

			orders, err := h.svc.ListOrders(t.Context(), "")
			require.NoError(t, err)
			assert.Len(t, orders, 1)
		})
	}
}

// A request that arrives with less than MinDeadline left is refused before
// anything is recorded, so the same key placed again with time to spare
// becomes an order (not the replay of a stored failure).
func TestPlaceOrderRefusesARequestWithTooLittleTime(t *testing.T) {
	tests := []struct {
		name        string
		minDeadline time.Duration
		timeout     time.Duration // 0: no deadline
		wantRefused bool
	}{
		{"less left than the minimum", 10 * time.Second, 5 * time.Second, true},
		{"more left than the minimum", 100 * time.Millisecond, 5 * time.Second, false},
		{"no deadline", 10 * time.Second, 0, false},
		{"check off", 0, 5 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(o *Options) { o.MinDeadline = tt.minDeadline })
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			o, err := h.svc.PlaceOrder(ctx, request("k1"))
			refused := testutil.ToFloat64(h.svc.metrics.refused.WithLabelValues(refusedTooLittleTime))
			if !tt.wantRefused {
				require.NoError(t, err)
				assert.Equal(t, StatusConfirmed, o.Status)
				assert.Zero(t, refused)
				return
			}
			require.ErrorIs(t, err, ErrTooLittleTime)
			assert.Contains(t, err.Error(), "needed")
			assert.Equal(t, 1.0, refused)
			_, err = h.store.GetByKey(t.Context(), "k1")
			require.ErrorIs(t, err, ErrNotFound, "nothing is recorded under the key")
			assert.Zero(t, h.stock.count("Reserve"), "nothing reaches the dependencies")

			h.svc.minDeadline = 0
			o, err = h.svc.PlaceOrder(t.Context(), request("k1"))
			require.NoError(t, err)
			assert.Equal(t, StatusConfirmed, o.Status, "the same key, retried with time to spare, places the order")
		})
	}
}

func TestIdempotencyConflict(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *PlaceRequest)
	}{
		{"other customer", func(r *PlaceRequest) { r.CustomerID = "cust_2" }},
		{"other quantity", func(r *PlaceRequest) { r.Items[0].Quantity++ }},
		{"other sku", func(r *PlaceRequest) { r.Items[1].SKU = "plum" }},
		{"extra line", func(r *PlaceRequest) { r.Items = append(r.Items, Item{SKU: "plum", Quantity: 1}) }},
		{"other payment method", func(r *PlaceRequest) { r.PaymentMethod = "card_declined" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			_, err := h.svc.PlaceOrder(t.Context(), request("k1"))
			require.NoError(t, err)

			req := request("k1")
			tt.change(&req)
			_, err = h.svc.PlaceOrder(t.Context(), req)
			require.ErrorIs(t, err, ErrIdempotencyConflict)
			assert.Equal(t, 1, h.pay.count("Charge"))
		})
	}
}

func TestConcurrentSameKey(t *testing.T) {
	const n = 10
	t.Run("while the saga runs, others are aborted", func(t *testing.T) {
		h := newHarness(t)
		gate := make(chan struct{})
		h.stock.setHook(func(_ context.Context, method string) {
			if method == "Reserve" {
				<-gate
			}
		})
		type result struct {
			o   *Order
			err error
		}
		results := make(chan result, n)
		for range n {
			go func() {
				o, err := h.svc.PlaceOrder(t.Context(), request("k1"))
				results <- result{o, err}
			}()
		}
		// One goroutine holds the key (blocked in Reserve); the other nine
		// are turned away at once.
		timeout := time.After(10 * time.Second)
		for range n - 1 {
			select {
			case r := <-results:
				require.ErrorIs(t, r.err, ErrInProgress)
			case <-timeout:
				close(gate)
				t.Fatal("the concurrent requests were not answered")
			}
		}
		close(gate)
		var winner result
		select {
		case winner = <-results:
		case <-timeout:
			t.Fatal("the saga did not finish")
		}
		require.NoError(t, winner.err)
		assert.Equal(t, StatusConfirmed, winner.o.Status)
		assert.Equal(t, 1, h.pay.count("Charge"))

		again, err := h.svc.PlaceOrder(t.Context(), request("k1"))
		require.NoError(t, err)
		assert.Equal(t, winner.o.ID, again.ID)
	})

	t.Run("free race", func(t *testing.T) {
		h := newHarness(t)
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			ids = map[string]bool{}
		)
		for range n {
			wg.Go(func() {
				o, err := h.svc.PlaceOrder(t.Context(), request("k1"))
				if errors.Is(err, ErrInProgress) {
					return
				}
				if assert.NoError(t, err) {
					mu.Lock()
					ids[o.ID] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		assert.Len(t, ids, 1, "every answered request got the same order")
		assert.Equal(t, 1, h.pay.count("Charge"))
		assert.Equal(t, 1, h.pay.captured())
	})
}

func TestCompensationSurvivesCallerCancellation(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// The client goes away while Charge is on the wire.
	h.pay.setHook(func(_ context.Context, method string) {
		if method == "Charge" {
			cancel()
		}
	})

	o, err := h.svc.PlaceOrder(ctx, request("k1"))
	require.NoError(t, err)
	assert.Equal(t, StatusFailed, o.Status)
	assert.Equal(t, ReasonDeadlineExceeded, o.FailureReason)

	for _, c := range append(h.pay.callsOf("Refund"), h.stock.callsOf("Release")...) {
		assert.NoError(t, c.ctxErr, "%s ran on a context detached from the caller", c.method)
		assert.True(t, c.hasDeadline, "%s has its own deadline", c.method)
	}
	assert.Equal(t, 1, h.pay.count("Refund"))
	assert.Equal(t, 1, h.stock.count("Release"))
	assert.Equal(t, int64(1000), h.stock.level("apple"), "stock released")
	stored, err := h.store.Get(t.Context(), o.ID)
	require.NoError(t, err)
	assert.Equal(t, StatusFailed, stored.Status, "the outcome was persisted despite the cancellation")
}

func TestForwardStepsHaveDeadlines(t *testing.T) {
	h := newHarness(t)
	_, err := h.svc.PlaceOrder(t.Context(), request("k1")) // t.Context has no deadline
	require.NoError(t, err)
	for _, c := range append(h.stock.callsOf("Reserve"), h.pay.callsOf("Charge")...) {
		assert.True(t, c.hasDeadline, "%s has a deadline", c.method)
	}
}

func TestCompensationFailureLeavesPendingUntilRecovered(t *testing.T) {
	tests := []struct {
		name   string
		finish func(t *testing.T, h *harness) *Order
	}{
		{"by RecoverPending", func(t *testing.T, h *harness) *Order {
			n, err := h.svc.RecoverPending(t.Context())
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			orders, err := h.svc.ListOrders(t.Context(), "")
			require.NoError(t, err)
			require.Len(t, orders, 1)
			return orders[0]
		}},
		{"by a retry with the same key", func(t *testing.T, h *harness) *Order {
			o, err := h.svc.PlaceOrder(t.Context(), request("k1"))
			require.NoError(t, err)
			return o
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.pay.failOn("Charge", codes.Unavailable, -1)
			h.stock.failOn("Release", codes.Unavailable, -1)

			o, err := h.svc.PlaceOrder(t.Context(), request("k1"))
			require.NoError(t, err)
			assert.Equal(t, StatusPending, o.Status, "never FAILED while a step is not compensated")
			assert.Equal(t, 3, h.stock.count("Release"), "release retried")
			stored, err := h.store.Get(t.Context(), o.ID)
			require.NoError(t, err)
			assert.Equal(t, StatusPending, stored.Status)
			assert.Equal(t, ReasonDependencyUnavailable, stored.FailureReason, "the decision is recorded")
			assert.True(t, stored.NeedsRefund)
			assert.Equal(t, 0.0, h.outcome(outcomeFailed, ReasonDependencyUnavailable))
			assert.Equal(t, 1.0, h.compensations(stepRelease, resultError))
			assert.Equal(t, 1.0, h.compensations(stepRefund, resultOK))

			// Inventory comes back; the order is finished later.
			h.stock.clearFailures()
			got := tt.finish(t, h)

			assert.Equal(t, o.ID, got.ID)
			assert.Equal(t, StatusFailed, got.Status)
			assert.Equal(t, ReasonDependencyUnavailable, got.FailureReason)
			assert.Equal(t, 1, h.pay.count("Charge"), "resuming a compensation does not charge")
			assert.Equal(t, 2, h.pay.count("Refund"), "refund repeated (idempotent)")
			assert.Equal(t, int64(1000), h.stock.level("apple"))
			assert.Equal(t, 1.0, h.outcome(outcomeFailed, ReasonDependencyUnavailable))
			assert.Equal(t, 1.0, testutil.ToFloat64(h.svc.metrics.recovered))

			n, err := h.svc.RecoverPending(t.Context())
			require.NoError(t, err)
			assert.Equal(t, 0, n, "nothing left to recover")
		})
	}
}

func TestRecoverPendingReportsUnfinished(t *testing.T) {
	h := newHarness(t)
	h.stock.failOn("Reserve", codes.Unavailable, -1)
	h.stock.failOn("Release", codes.Unavailable, -1)
	o, err := h.svc.PlaceOrder(t.Context(), request("k1"))
	require.NoError(t, err)
	require.Equal(t, StatusPending, o.Status)

	n, err := h.svc.RecoverPending(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), o.ID)
	assert.Equal(t, 0, n)
	assert.Equal(t, 0.0, testutil.ToFloat64(h.svc.metrics.recovered))
}

// insertLeftover stores a PENDING order as a crash right after the insert
// would leave it.
func insertLeftover(t *testing.T, h *harness, req PlaceRequest, id string) *Order {
	t.Helper()
	now := time.Now()
	o := &Order{
		ID: id, IdempotencyKey: req.IdempotencyKey, RequestHash: req.hash(), CustomerID: req.CustomerID,
		Items: req.Items, PaymentMethod: req.PaymentMethod, Status: StatusPending, CreatedAt: now, UpdatedAt: now,
	}
	require.NoError(t, h.store.Insert(t.Context(), o))
	return o
}

func TestCrashLeftoverIsResumed(t *testing.T) {
	const id = "ord_00000000000000aa"
	tests := []struct {
		name string
		// before simulates what the crashed process had done.
		before func(t *testing.T, h *harness)
		resume func(t *testing.T, h *harness) *Order
	}{
		{
			name:   "nothing done, by RecoverPending",
			before: func(*testing.T, *harness) {},
			resume: recoverOnly,
		},
		{
			name: "reserved and charged, by RecoverPending",
			before: func(t *testing.T, h *harness) {
				_, err := h.stock.Reserve(t.Context(), &inventoryv1.ReserveRequest{ReservationId: id, Items: []*inventoryv1.Item{{Sku: "apple", Quantity: 2}, {Sku: "pear", Quantity: 1}}})
				require.NoError(t, err)
				_, err = h.pay.Charge(t.Context(), &paymentsv1.ChargeRequest{IdempotencyKey: id, OrderId: id, AmountCents: requestTotal, PaymentMethod: "card_ok"})
				require.NoError(t, err)
			},
			resume: recoverOnly,
		},
		{
			name:   "nothing done, by a retry with the same key",
			before: func(*testing.T, *harness) {},
			resume: func(t *testing.T, h *harness) *Order {
				o, err := h.svc.PlaceOrder(t.Context(), request("k1"))
				require.NoError(t, err)
				return o
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			insertLeftover(t, h, request("k1"), id)
			tt.before(t, h)

			o := tt.resume(t, h)

			assert.Equal(t, id, o.ID)
			assert.Equal(t, StatusConfirmed, o.Status)
			assert.Equal(t, "ch_1", o.ChargeID)
			assert.Equal(t, int64(requestTotal), o.TotalCents)
			assert.Equal(t, 1, h.pay.captured(), "charged exactly once")
			assert.Equal(t, int64(998), h.stock.level("apple"), "reserved exactly once")
			st, _ := h.stock.reservation(id)
			assert.Equal(t, inventoryv1.ReservationState_RESERVATION_STATE_COMMITTED, st)
			assert.Equal(t, 1.0, testutil.ToFloat64(h.svc.metrics.recovered))
		})
	}
}

func recoverOnly(t *testing.T, h *harness) *Order {
	t.Helper()
	n, err := h.svc.RecoverPending(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	orders, err := h.svc.ListOrders(t.Context(), "")
	require.NoError(t, err)
	require.Len(t, orders, 1)
	return orders[0]
}

func TestRecoverPendingSkipsRunningSagas(t *testing.T) {
	h := newHarness(t)
	insertLeftover(t, h, request("k1"), "ord_00000000000000bb")
	require.True(t, h.svc.acquire("k1"), "a saga of k1 runs")

	n, err := h.svc.RecoverPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	assert.Equal(t, 0, h.stock.count("Reserve"), "a running saga is left alone")

	h.svc.release("k1")
	n, err = h.svc.RecoverPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

func TestRunRecoveryFinishesPendingOrders(t *testing.T) {
	h := newHarness(t)
	insertLeftover(t, h, request("k1"), "ord_00000000000000cc")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.svc.RunRecovery(ctx, 5*time.Millisecond) }()

	require.Eventually(t, func() bool {
		o, err := h.store.Get(t.Context(), "ord_00000000000000cc")
		return err == nil && o.Status == StatusConfirmed
	}, 10*time.Second, 5*time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("RunRecovery did not stop")
	}
}

func TestSagaMetrics(t *testing.T) {
	h := newHarness(t)
	_, err := h.svc.PlaceOrder(t.Context(), request("k1"))
	require.NoError(t, err)
	h.pay.failOn("Charge", codes.Unavailable, 1)
	_, err = h.svc.PlaceOrder(t.Context(), request("k2"))
	require.NoError(t, err)
	insertLeftover(t, h, request("k3"), "ord_00000000000000dd")
	_, err = h.svc.RecoverPending(t.Context())
	require.NoError(t, err)

	want := `
# HELP chaoslab_saga_compensations_total Compensating steps of order sagas (release, refund) by result (ok, error) after retries.
# TYPE chaoslab_saga_compensations_total counter
chaoslab_saga_compensations_total{result="error",step="refund"} 0
chaoslab_saga_compensations_total{result="error",step="release"} 0
chaoslab_saga_compensations_total{result="ok",step="refund"} 1
chaoslab_saga_compensations_total{result="ok",step="release"} 1
# HELP chaoslab_saga_outcomes_total Order sagas that reached a final state, by outcome (confirmed, failed) and failure reason.
# TYPE chaoslab_saga_outcomes_total counter
chaoslab_saga_outcomes_total{outcome="confirmed",reason=""} 2
chaoslab_saga_outcomes_total{outcome="failed",reason="deadline_exceeded"} 0
chaoslab_saga_outcomes_total{outcome="failed",reason="dependency_unavailable"} 1
chaoslab_saga_outcomes_total{outcome="failed",reason="internal"} 0
chaoslab_saga_outcomes_total{outcome="failed",reason="out_of_stock"} 0
chaoslab_saga_outcomes_total{outcome="failed",reason="payment_declined"} 0
chaoslab_saga_outcomes_total{outcome="failed",reason="unknown_product"} 0
# HELP chaoslab_saga_recovered_total Pending orders (crash leftovers, unfinished compensations) resumed to a final state.
# TYPE chaoslab_saga_recovered_total counter
chaoslab_saga_recovered_total 1
`
	require.NoError(t, testutil.GatherAndCompare(h.reg, strings.NewReader(want),
		"chaoslab_saga_outcomes_total", "chaoslab_saga_compensations_total", "chaoslab_saga_recovered_total"))
}

func TestNewServiceRejectsDoubleRegistration(t *testing.T) {
	h := newHarness(t)
	_, err := NewService(h.store, h.stock, h.pay, Options{Registerer: h.reg})
	require.Error(t, err)
}

func TestSagaSpans(t *testing.T) {
	h := newHarness(t)
	h.pay.failOn("Charge", codes.Unavailable, 1)
	ctx, parent := h.tp.Tracer("test").Start(t.Context(), "PlaceOrder")
	_, err := h.svc.PlaceOrder(ctx, request("k1"))
	require.NoError(t, err)
	parent.End()

	byName := map[string]tracetest.SpanStub{}
	for _, s := range h.spans.GetSpans() {
		byName[s.Name] = s
		assert.Equal(t, parent.SpanContext().TraceID(), s.SpanContext.TraceID(), "%s is in the caller's trace", s.Name)
	}
	for _, name := range []string{"saga.reserve", "saga.charge", "saga.persist", "saga.compensate.refund", "saga.compensate.release"} {
		require.Contains(t, byName, name)
		assert.Equal(t, tracerName, byName[name].InstrumentationScope.Name)
	}
	assert.Equal(t, otelcodes.Error, byName["saga.charge"].Status.Code)
	assert.Equal(t, otelcodes.Unset, byName["saga.reserve"].Status.Code)
	assert.Equal(t, otelcodes.Unset, byName["saga.compensate.release"].Status.Code)
	assert.Equal(t, parent.SpanContext().SpanID(), byName["saga.compensate.release"].Parent.SpanID())

	// A compensation that fails for good marks its span as an error.
	h.spans.Reset()
	h.pay.failOn("Charge", codes.Unavailable, 1)
	h.stock.failOn("Release", codes.Unavailable, -1)
	_, err = h.svc.PlaceOrder(t.Context(), request("k2"))
	require.NoError(t, err)
	var released bool
	for _, s := range h.spans.GetSpans() {
		if s.Name == "saga.compensate.release" {
			released = true
			assert.Equal(t, otelcodes.Error, s.Status.Code)
		}
	}
	assert.True(t, released)
}

// breakerOpenError returns the error a real breaker gives for a call it
// refuses (it opens after one failure here).
func breakerOpenError(t *testing.T) error {
	t.Helper()
	cfg := resilience.DefaultConfig()
	cfg.BreakerFailures, cfg.BreakerOpenFor = 1, time.Minute
	b := resilience.NewBreaker("inventory", cfg, prometheus.NewRegistry(), nil)
	call := b.UnaryClientInterceptor()
	failing := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(codes.Unavailable, "down")
	}
	require.Error(t, call(t.Context(), "/inventory.v1.InventoryService/Reserve", nil, nil, nil, failing))
	err := call(t.Context(), "/inventory.v1.InventoryService/Reserve", nil, nil, nil, failing)
	require.ErrorIs(t, err, resilience.ErrBreakerOpen)
	require.Equal(t, codes.Unavailable, status.Code(err), "still UNAVAILABLE to gRPC callers")
	return err
}

// A Reserve the breaker refused was never sent: a fresh order fails at once,
// without compensating (fail fast), while a resumed order still releases
// what an earlier attempt may have reserved.
func TestBreakerRefusedReserveFailsFastWithoutCompensation(t *testing.T) {
	open := breakerOpenError(t)

	h := newHarness(t)
	h.stock.setFail("Reserve", &failure{err: open, times: -1})
	o, err := h.svc.PlaceOrder(t.Context(), request("fresh"))
	require.NoError(t, err)
	assert.Equal(t, StatusFailed, o.Status)
	assert.Equal(t, ReasonDependencyUnavailable, o.FailureReason)
	assert.Equal(t, 0, h.stock.count("Release"), "nothing was sent, nothing to release")
	assert.Equal(t, 0, h.pay.count("Charge"))

	// The same refusal while resuming a crash leftover still compensates.
	h2 := newHarness(t)
	h2.stock.setFail("Reserve", &failure{err: open, times: -1})
	pending := &Order{ID: "ord_00000000000000aa", IdempotencyKey: "left", CustomerID: "c", Status: StatusPending,
		Items: []Item{{SKU: "apple", Quantity: 1}}, RequestHash: "h", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	require.NoError(t, h2.store.Insert(t.Context(), pending))
	n, err := h2.svc.RecoverPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, 1, h2.stock.count("Release"), "a resumed order may have reserved before: release")
}
