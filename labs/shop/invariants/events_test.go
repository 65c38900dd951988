package invariants

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/journal"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
)

// fakeEvents serves canned shipments and an outbox backlog, and counts calls.
type fakeEvents struct {
	shipments []Shipment
	shipErr   error
	backlog   int64
	outboxErr error
	calls     map[string]int
}

func (f *fakeEvents) ListShipments(ctx context.Context) ([]Shipment, error) {
	f.count("shipments")
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("fake: call without a deadline")
	}
	return f.shipments, f.shipErr
}

func (f *fakeEvents) OutboxBacklog(ctx context.Context) (int64, error) {
	f.count("outbox")
	if _, ok := ctx.Deadline(); !ok {
		return 0, errors.New("fake: call without a deadline")
	}
	return f.backlog, f.outboxErr
}

func (f *fakeEvents) count(what string) {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[what]++
}

func ships(orderIDs ...string) []Shipment {
	var out []Shipment
	for i, id := range orderIDs {
		out = append(out, Shipment{ID: "s" + string(rune('a'+i)), OrderID: id, EventID: "order-confirmed-" + id})
	}
	return out
}

func TestEventInvariants(t *testing.T) {
	boom := errors.New("connection refused")
	tests := []struct {
		name    string
		inv     string
		shop    fakeShop
		events  fakeEvents
		outcome string
		value   float64
		detail  string
		nothing bool
	}{
		{
			name: "one shipment each", inv: OneShipmentPerConfirmedOrder,
			shop:    fakeShop{orders: append(confirmedOrders(2), order("f", failed, during), order("old", confirmed, before))},
			events:  fakeEvents{shipments: ships("o1", "o2", "old")},
			outcome: journal.Pass, detail: "all 2 CONFIRMED orders have exactly one shipment → pass",
		},
		{
			name: "a missing and a duplicated shipment", inv: OneShipmentPerConfirmedOrder,
			shop:    fakeShop{orders: confirmedOrders(3)},
			events:  fakeEvents{shipments: ships("o1", "o1", "o3")},
			outcome: journal.Fail, value: 2,
			detail: "2 of 3 CONFIRMED orders: 1 without a shipment (o2); 1 with more than one (o1 ×2) → fail",
		},
		{
			name: "no confirmed order", inv: OneShipmentPerConfirmedOrder,
			shop:    fakeShop{orders: []*ordersv1.Order{order("f", failed, during)}},
			outcome: journal.Inconclusive, nothing: true,
			detail: "no order was CONFIRMED since the start: nothing to check",
		},
		{
			name: "shipping unreachable", inv: OneShipmentPerConfirmedOrder,
			shop: fakeShop{orders: confirmedOrders(1)}, events: fakeEvents{shipErr: boom},
			outcome: journal.Inconclusive, detail: "listing shipments: connection refused",
		},
		{
			name: "no orphans", inv: NoOrphanShipments,
			shop: fakeShop{orders: confirmedOrders(2)}, events: fakeEvents{shipments: ships("o1", "o2")},
			outcome: journal.Pass, detail: "all 2 shipments are of CONFIRMED orders → pass",
		},
		{
			name: "orphans", inv: NoOrphanShipments,
			shop:    fakeShop{orders: append(confirmedOrders(1), order("f", failed, during))},
			events:  fakeEvents{shipments: ships("o1", "f", "ghost")},
			outcome: journal.Fail, value: 2,
			detail: "2 orders of 3 shipments: f (FAILED), ghost (no such order) → fail",
		},
		{
			name: "no shipment at all", inv: NoOrphanShipments,
			shop:    fakeShop{orders: confirmedOrders(1)},
			outcome: journal.Inconclusive, nothing: true,
			detail: "shipping recorded no shipment: nothing to check",
		},
		{
			name: "outbox drained", inv: OutboxDrained,
			shop:    fakeShop{orders: confirmedOrders(3)},
			outcome: journal.Pass, detail: "outbox empty after 3 CONFIRMED orders → pass",
		},
		{
			name: "outbox holds events", inv: OutboxDrained,
			shop: fakeShop{orders: confirmedOrders(3)}, events: fakeEvents{backlog: 2},
			outcome: journal.Fail, value: 2, detail: "2 events still in the outbox after 3 CONFIRMED orders → fail",
		},
		{
			name: "outbox with nothing through it", inv: OutboxDrained,
			shop:    fakeShop{orders: []*ordersv1.Order{order("f", failed, during)}},
			outcome: journal.Inconclusive, nothing: true,
			detail: "no order was CONFIRMED since the start: no event went through the outbox",
		},
		{
			name: "outbox unreachable", inv: OutboxDrained,
			shop: fakeShop{orders: confirmedOrders(1)}, events: fakeEvents{outboxErr: boom},
			outcome: journal.Inconclusive, detail: "listing the outbox: connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, e := &tt.shop, &tt.events
			got := Check(t.Context(), Shop{Orders: f, Shipments: e, Outbox: e}, []string{tt.inv}, run())
			require.Len(t, got, 1)
			c := got[0]
			assert.Equal(t, tt.outcome, c.Outcome, c.Detail)
			assert.Equal(t, tt.detail, c.Detail)
			assert.Equal(t, tt.nothing, c.NothingToExamine)
			assert.Equal(t, tt.outcome != journal.Inconclusive, c.OnData)
			if tt.outcome != journal.Inconclusive {
				require.NotNil(t, c.Value)
				assert.Equal(t, tt.value, *c.Value)
			}
		})
	}
}

// Without the event path's clients the checks say so, inconclusive.
func TestEventInvariantsWithoutClients(t *testing.T) {
	f := &fakeShop{orders: confirmedOrders(1)}
	got := Check(t.Context(), Shop{Orders: f}, []string{OneShipmentPerConfirmedOrder, OutboxDrained}, run())
	require.Len(t, got, 2)
	assert.Equal(t, "listing shipments: no client for them in the Shop", got[0].Detail)
	assert.Equal(t, "listing the outbox: no client for them in the Shop", got[1].Detail)
	for _, c := range got {
		assert.Equal(t, journal.Inconclusive, c.Outcome)
	}
}

// The shipments are read once for both shipment invariants.
func TestEventInvariantsReadShipmentsOnce(t *testing.T) {
	f := &fakeShop{orders: confirmedOrders(2)}
	e := &fakeEvents{shipments: ships("o1", "o2")}
	got := Check(t.Context(), Shop{Orders: f, Shipments: e, Outbox: e},
		[]string{OneShipmentPerConfirmedOrder, NoOrphanShipments, OutboxDrained}, run())
	for _, c := range got {
		assert.Equal(t, journal.Pass, c.Outcome, c.Detail)
	}
	assert.Equal(t, map[string]int{"shipments": 1, "outbox": 1}, e.calls)
	assert.Equal(t, map[string]int{"orders": 1}, f.calls)
}
