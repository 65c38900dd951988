package invariants

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/harness/journal"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
)

// The event path's invariants: orders' outbox → NATS JetStream → shipping.
const (
	// OneShipmentPerConfirmedOrder: every CONFIRMED order (created since the
	// run's start) has exactly one shipment.
	OneShipmentPerConfirmedOrder = "one_shipment_per_confirmed_order"
	// NoOrphanShipments: every shipment is of a CONFIRMED order.
	NoOrphanShipments = "no_orphan_shipments"
	// OutboxDrained: orders' outbox is empty after the run (every
	// OrderConfirmed event was acknowledged by the broker).
	OutboxDrained = "outbox_drained"
)

// Shipment is a shipment as the invariants read it.
type Shipment struct {
	ID      string
	OrderID string
	EventID string
}

// ShipmentLister lists every shipment shipping recorded.
type ShipmentLister interface {
	ListShipments(ctx context.Context) ([]Shipment, error)
}

// ConsumerLagReader tells how far shipping's consumer is behind the stream:
// messages not yet delivered, and delivered but not acked.
type ConsumerLagReader interface {
	ConsumerLag(ctx context.Context) (pending, ackPending int64, err error)
}

// OutboxReader counts the events in orders' outbox.
type OutboxReader interface {
	OutboxBacklog(ctx context.Context) (int64, error)
}

// shipmentsByOrder returns the shipments by order id, and how many there are.
func (d *data) shipmentsByOrder(ctx context.Context) (map[string][]Shipment, int, error) {
	if !d.shipOK {
		d.shipOK = true
		d.ships, d.shipErr = fetch(ctx, "shipments", d.shop.Shipments == nil, func(ctx context.Context) ([]Shipment, error) {
			return d.shop.Shipments.ListShipments(ctx)
		})
	}
	if d.shipErr != nil {
		return nil, 0, d.shipErr
	}
	m := map[string][]Shipment{}
	for _, s := range d.ships {
		m[s.OrderID] = append(m[s.OrderID], s)
	}
	return m, len(d.ships), nil
}

// confirmedSince returns the CONFIRMED orders created since since, oldest first.
func confirmedSince(orders map[string]*ordersv1.Order, since time.Time) []*ordersv1.Order {
	var out []*ordersv1.Order
	for _, o := range sortedOrders(orders) {
		if o.GetStatus() == ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED && createdSince(o.GetCreatedAt(), since) {
			out = append(out, o)
		}
	}
	return out
}

// oneShipmentPerConfirmedOrder checks that each CONFIRMED order since since
// has exactly one shipment.
func oneShipmentPerConfirmedOrder(ctx context.Context, d *data, since time.Time) journal.Check {
	c := journal.Check{Objective: "every CONFIRMED order has exactly one shipment"}
	orders, err := d.ordersByID(ctx)
	if err != nil {
		return inconclusive(c, err.Error())
	}
	confirmed := confirmedSince(orders, since)
	if len(confirmed) == 0 {
		return nothingToExamine(c, "no order was CONFIRMED since the start: nothing to check")
	}
	ships, _, err := d.shipmentsByOrder(ctx)
	if err != nil {
		return inconclusive(c, err.Error())
	}
	var missing, dup []string
	for _, o := range confirmed {
		switch n := len(ships[o.GetOrderId()]); {
		case n == 0:
			missing = append(missing, o.GetOrderId())
		case n > 1:
			dup = append(dup, fmt.Sprintf("%s ×%d", o.GetOrderId(), n))
		}
	}
	bad := len(missing) + len(dup)
	c.Value, c.Threshold = journal.Float(float64(bad)), journal.Float(0)
	c.OnData = true
	if bad == 0 {
		c.Outcome = journal.Pass
		c.Detail = fmt.Sprintf("all %s have exactly one shipment → pass", count(len(confirmed), "CONFIRMED order"))
		return c
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("%d without a shipment (%s)", len(missing), list(missing)))
	}
	if len(dup) > 0 {
		parts = append(parts, fmt.Sprintf("%d with more than one (%s)", len(dup), list(dup)))
	}
	c.Outcome = journal.Fail
	c.Detail = fmt.Sprintf("%d of %s: %s → fail", bad, count(len(confirmed), "CONFIRMED order"), strings.Join(parts, "; "))
	return c
}

// noOrphanShipments checks that every shipment belongs to a CONFIRMED order.
func noOrphanShipments(ctx context.Context, d *data) journal.Check {
	c := journal.Check{Objective: "no shipment without a CONFIRMED order"}
	ships, n, err := d.shipmentsByOrder(ctx)
	if err != nil {
		return inconclusive(c, err.Error())
	}
	if n == 0 {
		return nothingToExamine(c, "shipping recorded no shipment: nothing to check")
	}
	orders, err := d.ordersByID(ctx)
	if err != nil {
		return inconclusive(c, err.Error())
	}
	var orphans []string
	for _, id := range sortedKeys(ships) {
		o, ok := orders[id]
		switch {
		case !ok:
			orphans = append(orphans, id+" (no such order)")
		case o.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED:
			orphans = append(orphans, fmt.Sprintf("%s (%s)", id, statusName(o.GetStatus())))
		}
	}
	c.Value, c.Threshold = journal.Float(float64(len(orphans))), journal.Float(0)
	c.OnData = true
	if len(orphans) == 0 {
		c.Outcome = journal.Pass
		c.Detail = fmt.Sprintf("all %s are of CONFIRMED orders → pass", count(n, "shipment"))
		return c
	}
	c.Outcome = journal.Fail
	c.Detail = fmt.Sprintf("%s of %s: %s → fail", count(len(orphans), "order"), count(n, "shipment"), list(orphans))
	return c
}

// outboxDrained checks that orders' outbox is empty; with no order
// CONFIRMED since since nothing went through it, and the check is
// inconclusive.
func outboxDrained(ctx context.Context, d *data, since time.Time) journal.Check {
	c := journal.Check{Objective: "orders' outbox is empty: every OrderConfirmed event reached the broker"}
	orders, err := d.ordersByID(ctx)
	if err != nil {
		return inconclusive(c, err.Error())
	}
	confirmed := len(confirmedSince(orders, since))
	if confirmed == 0 {
		return nothingToExamine(c, "no order was CONFIRMED since the start: no event went through the outbox")
	}
	backlog, err := fetch(ctx, "the outbox", d.shop.Outbox == nil, func(ctx context.Context) (int64, error) {
		return d.shop.Outbox.OutboxBacklog(ctx)
	})
	if err != nil {
		return inconclusive(c, err.Error())
	}
	c.Value, c.Threshold = journal.Float(float64(backlog)), journal.Float(0)
	c.OnData = true
	if backlog == 0 {
		c.Outcome = journal.Pass
		c.Detail = fmt.Sprintf("outbox empty after %s → pass", count(confirmed, "CONFIRMED order"))
		return c
	}
	c.Outcome = journal.Fail
	c.Detail = fmt.Sprintf("%s still in the outbox after %s → fail", count(int(backlog), "event"), count(confirmed, "CONFIRMED order"))
	return c
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
