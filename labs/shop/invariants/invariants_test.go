package invariants

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/lab"
	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
)

// fakeShop serves canned orders, charges and reservations, and counts the
// calls.
type fakeShop struct {
	orders       []*ordersv1.Order
	charges      []*paymentsv1.Charge
	reservations []*inventoryv1.Reservation
	ordersErr    error
	chargesErr   error
	resvErr      error
	calls        map[string]int
}

func (f *fakeShop) count(what string) {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[what]++
}

func (f *fakeShop) ListOrders(ctx context.Context, _ *ordersv1.ListOrdersRequest, _ ...grpc.CallOption) (*ordersv1.ListOrdersResponse, error) {
	f.count("orders")
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("fake: call without a deadline")
	}
	if f.ordersErr != nil {
		return nil, f.ordersErr
	}
	return &ordersv1.ListOrdersResponse{Orders: f.orders}, nil
}

func (f *fakeShop) ListCharges(ctx context.Context, _ *paymentsv1.ListChargesRequest, _ ...grpc.CallOption) (*paymentsv1.ListChargesResponse, error) {
	f.count("charges")
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("fake: call without a deadline")
	}
	if f.chargesErr != nil {
		return nil, f.chargesErr
	}
	return &paymentsv1.ListChargesResponse{Charges: f.charges}, nil
}

func (f *fakeShop) ListReservations(ctx context.Context, _ *inventoryv1.ListReservationsRequest, _ ...grpc.CallOption) (*inventoryv1.ListReservationsResponse, error) {
	f.count("reservations")
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("fake: call without a deadline")
	}
	if f.resvErr != nil {
		return nil, f.resvErr
	}
	return &inventoryv1.ListReservationsResponse{Reservations: f.reservations}, nil
}

var (
	since = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	// during is a creation time in the run, before one from an earlier run.
	during, before = since.Add(3 * time.Second), since.Add(-time.Hour)
)

const (
	confirmed = ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED
	failed    = ordersv1.OrderStatus_ORDER_STATUS_FAILED
	pending   = ordersv1.OrderStatus_ORDER_STATUS_PENDING
	captured  = paymentsv1.ChargeState_CHARGE_STATE_CAPTURED
	refunded  = paymentsv1.ChargeState_CHARGE_STATE_REFUNDED
	voided    = paymentsv1.ChargeState_CHARGE_STATE_VOIDED
	reserved  = inventoryv1.ReservationState_RESERVATION_STATE_RESERVED
	released  = inventoryv1.ReservationState_RESERVATION_STATE_RELEASED
	committed = inventoryv1.ReservationState_RESERVATION_STATE_COMMITTED
)

func order(id string, st ordersv1.OrderStatus, at time.Time) *ordersv1.Order {
	return &ordersv1.Order{OrderId: id, Status: st, CreatedAt: timestamppb.New(at)}
}

func charge(id, orderID string, st paymentsv1.ChargeState, at time.Time) *paymentsv1.Charge {
	return &paymentsv1.Charge{ChargeId: id, IdempotencyKey: orderID, OrderId: orderID, State: st, CreatedAt: timestamppb.New(at)}
}

func reservation(id string, st inventoryv1.ReservationState) *inventoryv1.Reservation {
	return &inventoryv1.Reservation{ReservationId: id, State: st}
}

// confirmedOrders returns n CONFIRMED orders o1…on created during the run.
func confirmedOrders(n int) []*ordersv1.Order {
	var out []*ordersv1.Order
	for i := 1; i <= n; i++ {
		out = append(out, order(fmt.Sprintf("o%d", i), confirmed, during.Add(time.Duration(i)*time.Millisecond)))
	}
	return out
}

// run is a run from since on whose load acknowledged the orders acked.
func run(acked ...string) lab.RunInput {
	in := lab.RunInput{RunID: "r1", Scenario: "unit", Since: since, Until: since.Add(time.Minute)}
	for i, id := range acked {
		in.Acked = append(in.Acked, lab.Write{ID: id, Key: fmt.Sprintf("r1-unit-%d", i)})
	}
	return in
}

func TestCheck(t *testing.T) {
	boom := errors.New("rpc error: code = Unavailable desc = connection refused")
	tests := []struct {
		name    string
		inv     string
		shop    fakeShop
		acked   []string
		outcome string
		detail  string
		value   float64
	}{
		// no_lost_orders
		{
			name: "no_lost_orders pass, repeated acks counted once", inv: NoLostOrders,
			shop:    fakeShop{orders: confirmedOrders(2)},
			acked:   []string{"o1", "o2", "o1"},
			outcome: journal.Pass, detail: "all 2 acknowledged orders exist, CONFIRMED → pass",
		},
		{
			name: "no_lost_orders fail: missing, PENDING, FAILED", inv: NoLostOrders,
			shop: fakeShop{orders: []*ordersv1.Order{
				order("b", failed, during), order("c", pending, during), order("d", confirmed, during),
			}},
			acked:   []string{"a", "b", "c", "d"},
			outcome: journal.Fail, value: 3,
			detail: "3 of 4 acknowledged orders lost or not CONFIRMED: 1 missing (a); 1 PENDING (c); 1 FAILED (b) → fail",
		},
		{
			name: "no_lost_orders lists five ids", inv: NoLostOrders,
			shop:    fakeShop{orders: confirmedOrders(1)},
			acked:   []string{"o1", "x1", "x2", "x3", "x4", "x5", "x6", "x7"},
			outcome: journal.Fail, value: 7,
			detail: "7 of 8 acknowledged orders lost or not CONFIRMED: 7 missing (x1, x2, x3, x4, x5 and 2 more) → fail",
		},
		{
			name: "no_lost_orders without acks", inv: NoLostOrders,
			shop:    fakeShop{orders: confirmedOrders(3)},
			outcome: journal.Inconclusive, detail: "no order was acknowledged (201) during the run: nothing to check",
		},
		{
			name: "no_lost_orders, orders unreachable", inv: NoLostOrders,
			shop: fakeShop{ordersErr: boom}, acked: []string{"o1"},
			outcome: journal.Inconclusive, detail: "listing orders: " + boom.Error(),
		},
		// no_double_charge
		{
			name: "no_double_charge pass", inv: NoDoubleCharge,
			shop: fakeShop{
				orders: append(confirmedOrders(2), order("old", confirmed, before), order("f", failed, during)),
				charges: []*paymentsv1.Charge{
					charge("c1", "o1", captured, during), charge("c2", "o2", captured, during),
					charge("c3", "f", refunded, during), charge("c4", "f", voided, during),
					// An earlier run's double charge is not this run's.
					charge("c5", "old", captured, before), charge("c6", "old", captured, before),
					// Money returned is not money taken.
					charge("c7", "ghost", refunded, during),
				},
			},
			outcome: journal.Pass,
			detail:  "none of 3 orders since the start has more than one captured charge; no captured charge without an order → pass",
		},
		{
			name: "no_double_charge fail: charged twice", inv: NoDoubleCharge,
			shop: fakeShop{
				orders: confirmedOrders(3),
				charges: []*paymentsv1.Charge{
					charge("c1", "o1", captured, during), charge("c2", "o2", captured, during),
					charge("c3", "o2", captured, during), charge("c4", "o3", captured, during),
				},
			},
			outcome: journal.Fail, value: 1,
			detail: "1 of 3 orders charged more than once (o2 ×2) → fail",
		},
		{
			name: "no_double_charge fail: charge without an order", inv: NoDoubleCharge,
			shop: fakeShop{
				orders: confirmedOrders(1),
				charges: []*paymentsv1.Charge{
					charge("c1", "o1", captured, during), charge("c2", "ghost", captured, during),
					charge("c3", "older-ghost", captured, before),
				},
			},
			outcome: journal.Fail, value: 1,
			detail: `1 captured charge for orders that do not exist (c2 for "ghost") → fail`,
		},
		{
			name: "no_double_charge, payments unreachable", inv: NoDoubleCharge,
			shop:    fakeShop{orders: confirmedOrders(1), chargesErr: boom},
			outcome: journal.Inconclusive, detail: "listing charges: " + boom.Error(),
		},
		// failed_orders_compensated
		{
			name: "failed_orders_compensated pass", inv: FailedOrdersCompensated,
			shop: fakeShop{
				orders: append(confirmedOrders(1),
					order("f1", failed, during), order("f2", failed, during), order("f3", failed, during),
					order("old", failed, before)),
				charges: []*paymentsv1.Charge{
					charge("c1", "o1", captured, during), charge("c2", "f1", refunded, during), charge("c3", "f2", voided, during),
					charge("c4", "old", captured, before), // an earlier run's problem
				},
				reservations: []*inventoryv1.Reservation{
					reservation("o1", committed), reservation("f1", released), reservation("f3", released),
					reservation("old", reserved),
				},
			},
			outcome: journal.Pass, detail: "3 FAILED orders since the start, all compensated → pass",
		},
		{
			name: "failed_orders_compensated fail: money or stock held", inv: FailedOrdersCompensated,
			shop: fakeShop{
				orders: []*ordersv1.Order{
					order("f1", failed, during), order("f2", failed, during.Add(time.Millisecond)),
					order("f3", failed, during.Add(2*time.Millisecond)), order("f4", failed, during.Add(3*time.Millisecond)),
					order("p1", pending, during),
				},
				charges: []*paymentsv1.Charge{charge("c1", "f1", captured, during), charge("c2", "f3", captured, during)},
				reservations: []*inventoryv1.Reservation{
					reservation("f2", reserved), reservation("f3", committed), reservation("f4", released),
				},
			},
			outcome: journal.Fail, value: 3,
			detail: "3 of 4 FAILED orders since the start not compensated: 2 still charged: f1 (charge c1), f3 (charge c2); " +
				"2 still holding stock: f2 (RESERVED), f3 (COMMITTED); 1 order still PENDING, not compensated yet (p1) → fail",
		},
		{
			name: "failed_orders_compensated: only PENDING orders is inconclusive", inv: FailedOrdersCompensated,
			shop: fakeShop{
				orders:       []*ordersv1.Order{order("f1", failed, during), order("p1", pending, during), order("p2", pending, during)},
				reservations: []*inventoryv1.Reservation{reservation("f1", released), reservation("p1", reserved)},
			},
			outcome: journal.Inconclusive,
			detail:  "1 FAILED order since the start, all compensated; 2 orders still PENDING, not compensated yet (p1, p2) → inconclusive",
		},
		{
			name: "no_double_charge over no order since the start examined nothing", inv: NoDoubleCharge,
			shop:    fakeShop{orders: []*ordersv1.Order{order("old", confirmed, before)}, charges: []*paymentsv1.Charge{charge("c1", "old", captured, before)}},
			outcome: journal.Inconclusive, detail: "no order since the start to examine: nothing to check",
		},
		{
			name: "failed_orders_compensated without a FAILED order examined nothing", inv: FailedOrdersCompensated,
			shop: fakeShop{
				orders:  append(confirmedOrders(2), order("old", failed, before)),
				charges: []*paymentsv1.Charge{charge("c1", "o1", captured, during), charge("c2", "o2", captured, during)},
			},
			outcome: journal.Inconclusive,
			detail:  "no FAILED order since the start to examine: nothing to check (list this invariant only in scenarios whose fault makes orders fail) → inconclusive",
		},
		{
			name: "failed_orders_compensated, inventory unreachable", inv: FailedOrdersCompensated,
			shop:    fakeShop{orders: confirmedOrders(1), resvErr: boom},
			outcome: journal.Inconclusive, detail: "listing reservations: " + boom.Error(),
		},
		{
			name: "unknown invariant", inv: "no_lost_socks",
			outcome: journal.Inconclusive,
			detail:  `unknown invariant "no_lost_socks"; known: no_lost_orders, no_double_charge, failed_orders_compensated, one_shipment_per_confirmed_order, no_orphan_shipments, outbox_drained`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &tt.shop
			got := Check(t.Context(), Shop{Orders: f, Payments: f, Inventory: f}, []string{tt.inv}, run(tt.acked...))
			require.Len(t, got, 1)
			c := got[0]
			assert.Equal(t, tt.outcome, c.Outcome, c.Detail)
			assert.Equal(t, tt.detail, c.Detail)
			assert.Equal(t, tt.inv, c.Name)
			assert.Equal(t, journal.KindInvariant, c.Kind)
			assert.Equal(t, tt.outcome != journal.Inconclusive, c.OnData, "on data: decided over the records examined")
			assert.Equal(t, strings.Contains(tt.detail, "nothing to check"), c.NothingToExamine,
				"nothing to examine, not an error")
			if tt.outcome != journal.Inconclusive {
				require.NotNil(t, c.Value)
				assert.Equal(t, tt.value, *c.Value)
			}
		})
	}
}

func TestCheckReadsEachListOnce(t *testing.T) {
	f := &fakeShop{
		orders:       append(confirmedOrders(2), order("f1", failed, during)),
		charges:      []*paymentsv1.Charge{charge("c1", "o1", captured, during), charge("c2", "o2", captured, during)},
		reservations: []*inventoryv1.Reservation{reservation("o1", committed), reservation("o2", committed), reservation("f1", released)},
	}
	want := []string{FailedOrdersCompensated, NoLostOrders, NoDoubleCharge}
	got := Check(t.Context(), Shop{Orders: f, Payments: f, Inventory: f}, want, run("o1", "o2"))
	require.Len(t, got, 3)
	for i, c := range got {
		assert.Equal(t, want[i], c.Name)
		assert.Equal(t, journal.Pass, c.Outcome, c.Detail)
	}
	assert.Equal(t, map[string]int{"orders": 1, "charges": 1, "reservations": 1}, f.calls)
}

func TestCheckOnlyCallsWhatItNeeds(t *testing.T) {
	f := &fakeShop{orders: confirmedOrders(1)}
	got := Check(t.Context(), Shop{Orders: f}, []string{NoLostOrders}, run("o1"))
	assert.Equal(t, journal.Pass, got[0].Outcome, got[0].Detail)
	assert.Equal(t, map[string]int{"orders": 1}, f.calls)

	got = Check(t.Context(), Shop{Orders: f}, []string{NoDoubleCharge}, run())
	assert.Equal(t, journal.Inconclusive, got[0].Outcome)
	assert.Equal(t, "listing charges: no client for them in the Shop", got[0].Detail)
}
