// Package invariants checks the shop's data after a run: no acknowledged
// order lost, no order charged twice, every FAILED order compensated. It
// reads every order, charge and reservation through the services' List
// RPCs; the orders saga keys its reservation and its charge by the order
// id, which is how an order is matched with them.
package invariants

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/lab"
	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
)

// OrderLister lists orders; ordersv1.OrdersServiceClient satisfies it.
type OrderLister interface {
	ListOrders(ctx context.Context, in *ordersv1.ListOrdersRequest, opts ...grpc.CallOption) (*ordersv1.ListOrdersResponse, error)
}

// ChargeLister lists charges; paymentsv1.PaymentsServiceClient satisfies it.
type ChargeLister interface {
	ListCharges(ctx context.Context, in *paymentsv1.ListChargesRequest, opts ...grpc.CallOption) (*paymentsv1.ListChargesResponse, error)
}

// ReservationLister lists reservations; inventoryv1.InventoryServiceClient
// satisfies it.
type ReservationLister interface {
	ListReservations(ctx context.Context, in *inventoryv1.ListReservationsRequest, opts ...grpc.CallOption) (*inventoryv1.ListReservationsResponse, error)
}

// Shop is the shop's data as the invariants read it. The runner builds it
// from the generated gRPC clients of the three services:
//
//	invariants.Shop{
//		Orders:    ordersv1.NewOrdersServiceClient(ordersConn),
//		Payments:  paymentsv1.NewPaymentsServiceClient(paymentsConn),
//		Inventory: inventoryv1.NewInventoryServiceClient(inventoryConn),
//	}
//
// The List RPCs return everything in one message: dial with a receive limit
// that fits the lab's history (grpc.MaxCallRecvMsgSize), since the default
// 4 MiB holds some 20 000 orders.
type Shop struct {
	Orders    OrderLister
	Payments  ChargeLister
	Inventory ReservationLister
	// Shipments, Outbox and Consumer are the event path's: shipping's
	// shipments, orders' outbox backlog, shipping's consumer lag (the
	// settle probe's).
	Shipments ShipmentLister
	Outbox    OutboxReader
	Consumer  ConsumerLagReader
}

// The shop's invariants, as its lab file and scenarios name them.
const (
	// NoLostOrders: every order the gateway acknowledged (201) exists,
	// CONFIRMED.
	NoLostOrders = "no_lost_orders"
	// NoDoubleCharge: no order has more than one captured charge.
	NoDoubleCharge = "no_double_charge"
	// FailedOrdersCompensated: every FAILED order holds neither money nor
	// stock.
	FailedOrdersCompensated = "failed_orders_compensated"
)

// Names returns the shop's invariants in the order the lab file lists
// them.
func Names() []string {
	return []string{NoLostOrders, NoDoubleCharge, FailedOrdersCompensated,
		OneShipmentPerConfirmedOrder, NoOrphanShipments, OutboxDrained}
}

// callTimeout bounds each List call.
const callTimeout = 30 * time.Second

// maxIDs is how many offending ids a detail lists.
const maxIDs = 5

// Check evaluates the invariants in want over the run in, one check each in
// that order, reading each list of the shop at most once for all of them.
// The orders acknowledged are in.Acked (their IDs); since is in.Since.
//
// A check that examined nothing never passes: no acknowledged order, no
// order since since, no FAILED order — each is inconclusive, with what was
// (not) examined in its detail.
//
//   - no_lost_orders: every id in acked (the orders the gateway
//     acknowledged with 201) exists and is CONFIRMED. No acknowledged order
//     at all is inconclusive: there is nothing to check.
//   - no_double_charge: no order created since since has more than one
//     CAPTURED charge, and no CAPTURED charge created since since belongs
//     to an order that does not exist. Refunded and voided charges took no
//     money and do not count.
//   - failed_orders_compensated: every order created since since that is
//     FAILED has no CAPTURED charge (refunded, voided or none) and its
//     reservation is RELEASED or absent. Orders still PENDING are not
//     compensated yet: the caller waits for the shop to settle first, and
//     if PENDING orders are the only problem the check is inconclusive. No
//     FAILED order at all is inconclusive too.
//   - one_shipment_per_confirmed_order, no_orphan_shipments and
//     outbox_drained check the event path (events.go): no CONFIRMED order
//     since since, or no shipment at all, is inconclusive.
//
// A failing List call makes the checks that need it inconclusive. Details
// count the offenders and name up to five.
func Check(ctx context.Context, shop Shop, want []string, in lab.RunInput) []journal.Check {
	d := &data{shop: shop}
	acked := make([]string, 0, len(in.Acked))
	for _, w := range in.Acked {
		acked = append(acked, w.ID)
	}
	since := in.Since
	out := make([]journal.Check, 0, len(want))
	for _, inv := range want {
		var c journal.Check
		switch inv {
		case NoLostOrders:
			c = noLostOrders(ctx, d, acked)
		case NoDoubleCharge:
			c = noDoubleCharge(ctx, d, since)
		case FailedOrdersCompensated:
			c = failedOrdersCompensated(ctx, d, since)
		case OneShipmentPerConfirmedOrder:
			c = oneShipmentPerConfirmedOrder(ctx, d, since)
		case NoOrphanShipments:
			c = noOrphanShipments(ctx, d)
		case OutboxDrained:
			c = outboxDrained(ctx, d, since)
		default:
			c = journal.Check{Outcome: journal.Inconclusive,
				Detail: fmt.Sprintf("unknown invariant %q; known: %s", inv, strings.Join(Names(), ", "))}
		}
		c.Name, c.Kind = inv, journal.KindInvariant
		out = append(out, c)
	}
	return out
}

// noLostOrders checks that every acknowledged order exists, CONFIRMED.
func noLostOrders(ctx context.Context, d *data, acked []string) journal.Check {
	c := journal.Check{Objective: "every acknowledged (201) order exists, CONFIRMED"}
	seen := map[string]bool{}
	var ids []string
	for _, id := range acked {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nothingToExamine(c, "no order was acknowledged (201) during the run: nothing to check")
	}
	orders, err := d.ordersByID(ctx)
	if err != nil {
		return inconclusive(c, err.Error())
	}
	var lost []string
	notConfirmed := map[ordersv1.OrderStatus][]string{}
	for _, id := range ids {
		o, ok := orders[id]
		switch {
		case !ok:
			lost = append(lost, id)
		case o.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED:
			notConfirmed[o.GetStatus()] = append(notConfirmed[o.GetStatus()], id)
		}
	}
	bad := len(lost)
	var parts []string
	if len(lost) > 0 {
		parts = append(parts, fmt.Sprintf("%d missing (%s)", len(lost), list(lost)))
	}
	for _, st := range slices.Sorted(maps.Keys(notConfirmed)) {
		bad += len(notConfirmed[st])
		parts = append(parts, fmt.Sprintf("%d %s (%s)", len(notConfirmed[st]), statusName(st), list(notConfirmed[st])))
	}
	c.Value, c.Threshold = journal.Float(float64(bad)), journal.Float(0)
	c.OnData = true // every acknowledged order looked up
	if bad == 0 {
		c.Outcome = journal.Pass
		c.Detail = fmt.Sprintf("all %s exist, CONFIRMED → pass", count(len(ids), "acknowledged order"))
		return c
	}
	c.Outcome = journal.Fail
	c.Detail = fmt.Sprintf("%d of %s lost or not CONFIRMED: %s → fail", bad, count(len(ids), "acknowledged order"), strings.Join(parts, "; "))
	return c
}

// noDoubleCharge checks that no order is charged more than once, and no
// charge is for an order that does not exist.
func noDoubleCharge(ctx context.Context, d *data, since time.Time) journal.Check {
	c := journal.Check{Objective: "no order has more than one captured charge; no captured charge without an order"}
	orders, err := d.ordersByID(ctx)
	if err != nil {
		return inconclusive(c, err.Error())
	}
	charges, err := d.charges(ctx)
	if err != nil {
		return inconclusive(c, err.Error())
	}
	captured := capturedByOrder(charges)
	var twice, orphans []string
	checked := 0
	for _, o := range sortedOrders(orders) {
		if !createdSince(o.GetCreatedAt(), since) {
			continue
		}
		checked++
		if n := len(captured[o.GetOrderId()]); n > 1 {
			twice = append(twice, fmt.Sprintf("%s ×%d", o.GetOrderId(), n))
		}
	}
	for _, ch := range charges {
		if ch.GetState() != paymentsv1.ChargeState_CHARGE_STATE_CAPTURED || !createdSince(ch.GetCreatedAt(), since) {
			continue
		}
		if _, ok := orders[ch.GetOrderId()]; !ok {
			orphans = append(orphans, fmt.Sprintf("%s for %q", ch.GetChargeId(), ch.GetOrderId()))
		}
	}
	bad := len(twice) + len(orphans)
	c.Value, c.Threshold = journal.Float(float64(bad)), journal.Float(0)
	if bad == 0 && checked == 0 {
		return nothingToExamine(c, "no order since the start to examine: nothing to check")
	}
	c.OnData = true // the orders and charges since the start, examined
	if bad == 0 {
		c.Outcome = journal.Pass
		c.Detail = fmt.Sprintf("none of %s since the start has more than one captured charge; no captured charge without an order → pass", count(checked, "order"))
		return c
	}
	var parts []string
	if len(twice) > 0 {
		parts = append(parts, fmt.Sprintf("%d of %s charged more than once (%s)", len(twice), count(checked, "order"), list(twice)))
	}
	if len(orphans) > 0 {
		parts = append(parts, fmt.Sprintf("%s for orders that do not exist (%s)", count(len(orphans), "captured charge"), list(orphans)))
	}
	c.Outcome = journal.Fail
	c.Detail = strings.Join(parts, "; ") + " → fail"
	return c
}

// failedOrdersCompensated checks that every FAILED order holds neither
// money nor stock.
func failedOrdersCompensated(ctx context.Context, d *data, since time.Time) journal.Check {
	c := journal.Check{Objective: "every FAILED order: no captured charge, reservation released or absent"}
	orders, err := d.ordersByID(ctx)
	if err != nil {
		return inconclusive(c, err.Error())
	}
	charges, err := d.charges(ctx)
	if err != nil {
		return inconclusive(c, err.Error())
	}
	reservations, err := d.reservations(ctx)
	if err != nil {
		return inconclusive(c, err.Error())
	}
	captured := capturedByOrder(charges)
	var failed int
	var charged, holding, pending []string
	offending := map[string]bool{}
	for _, o := range sortedOrders(orders) {
		if !createdSince(o.GetCreatedAt(), since) {
			continue
		}
		id := o.GetOrderId()
		switch o.GetStatus() {
		case ordersv1.OrderStatus_ORDER_STATUS_PENDING:
			pending = append(pending, id)
		case ordersv1.OrderStatus_ORDER_STATUS_FAILED:
			failed++
			if ch := captured[id]; len(ch) > 0 {
				charged = append(charged, fmt.Sprintf("%s (charge %s)", id, strings.Join(ch, ", ")))
				offending[id] = true
			}
			if r, ok := reservations[id]; ok && r.GetState() != inventoryv1.ReservationState_RESERVATION_STATE_RELEASED {
				holding = append(holding, fmt.Sprintf("%s (%s)", id, reservationStateName(r.GetState())))
				offending[id] = true
			}
		}
	}
	var parts []string
	if len(charged) > 0 {
		parts = append(parts, fmt.Sprintf("%d still charged: %s", len(charged), list(charged)))
	}
	if len(holding) > 0 {
		parts = append(parts, fmt.Sprintf("%d still holding stock: %s", len(holding), list(holding)))
	}
	pendingNote := ""
	if len(pending) > 0 {
		pendingNote = fmt.Sprintf("; %s still PENDING, not compensated yet (%s)", count(len(pending), "order"), list(pending))
	}
	bad := len(offending)
	c.Value, c.Threshold = journal.Float(float64(bad)), journal.Float(0)
	c.OnData = bad > 0 || failed > 0 && len(pending) == 0 // named offenders, or FAILED orders all examined
	switch {
	case failed == 0:
		c.Outcome, c.NothingToExamine = journal.Inconclusive, true
		c.Detail = fmt.Sprintf("no FAILED order since the start to examine%s: nothing to check (list this invariant only in scenarios whose fault makes orders fail) → inconclusive", pendingNote)
	case bad > 0:
		c.Outcome = journal.Fail
		c.Detail = fmt.Sprintf("%d of %s since the start not compensated: %s%s → fail", bad, count(failed, "FAILED order"), strings.Join(parts, "; "), pendingNote)
	case len(pending) > 0:
		c.Outcome = journal.Inconclusive
		c.Detail = fmt.Sprintf("%s since the start, all compensated%s → inconclusive", count(failed, "FAILED order"), pendingNote)
	default:
		c.Outcome = journal.Pass
		c.Detail = fmt.Sprintf("%s since the start, all compensated → pass", count(failed, "FAILED order"))
	}
	return c
}

// data reads the shop's data once, when first needed.
type data struct {
	shop Shop

	orders    map[string]*ordersv1.Order
	ordersErr error
	ordersOK  bool

	chargeList []*paymentsv1.Charge
	chargesErr error
	chargesOK  bool

	resv    map[string]*inventoryv1.Reservation
	resvErr error
	resvOK  bool

	ships   []Shipment
	shipErr error
	shipOK  bool
}

// ordersByID returns every order by id.
func (d *data) ordersByID(ctx context.Context) (map[string]*ordersv1.Order, error) {
	if !d.ordersOK {
		d.ordersOK = true
		d.orders, d.ordersErr = fetch(ctx, "orders", d.shop.Orders == nil, func(ctx context.Context) (map[string]*ordersv1.Order, error) {
			resp, err := d.shop.Orders.ListOrders(ctx, &ordersv1.ListOrdersRequest{})
			m := map[string]*ordersv1.Order{}
			for _, o := range resp.GetOrders() {
				m[o.GetOrderId()] = o
			}
			return m, err
		})
	}
	return d.orders, d.ordersErr
}

// charges returns every charge.
func (d *data) charges(ctx context.Context) ([]*paymentsv1.Charge, error) {
	if !d.chargesOK {
		d.chargesOK = true
		d.chargeList, d.chargesErr = fetch(ctx, "charges", d.shop.Payments == nil, func(ctx context.Context) ([]*paymentsv1.Charge, error) {
			resp, err := d.shop.Payments.ListCharges(ctx, &paymentsv1.ListChargesRequest{})
			return resp.GetCharges(), err
		})
	}
	return d.chargeList, d.chargesErr
}

// reservations returns every reservation by id (an order's id).
func (d *data) reservations(ctx context.Context) (map[string]*inventoryv1.Reservation, error) {
	if !d.resvOK {
		d.resvOK = true
		d.resv, d.resvErr = fetch(ctx, "reservations", d.shop.Inventory == nil, func(ctx context.Context) (map[string]*inventoryv1.Reservation, error) {
			resp, err := d.shop.Inventory.ListReservations(ctx, &inventoryv1.ListReservationsRequest{})
			m := map[string]*inventoryv1.Reservation{}
			for _, r := range resp.GetReservations() {
				m[r.GetReservationId()] = r
			}
			return m, err
		})
	}
	return d.resv, d.resvErr
}

// fetch calls list with a deadline and names what failed.
func fetch[T any](ctx context.Context, what string, missing bool, list func(context.Context) (T, error)) (T, error) {
	var zero T
	if missing {
		return zero, fmt.Errorf("listing %s: no client for them in the Shop", what)
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	v, err := list(ctx)
	if err != nil {
		return zero, fmt.Errorf("listing %s: %w", what, err)
	}
	return v, nil
}

// capturedByOrder returns the ids of the CAPTURED charges of each order.
func capturedByOrder(charges []*paymentsv1.Charge) map[string][]string {
	out := map[string][]string{}
	for _, ch := range charges {
		if ch.GetState() == paymentsv1.ChargeState_CHARGE_STATE_CAPTURED {
			out[ch.GetOrderId()] = append(out[ch.GetOrderId()], ch.GetChargeId())
		}
	}
	return out
}

// sortedOrders returns the orders by creation time, then id, so that
// details list the earliest offenders.
func sortedOrders(orders map[string]*ordersv1.Order) []*ordersv1.Order {
	out := make([]*ordersv1.Order, 0, len(orders))
	for _, o := range orders {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b *ordersv1.Order) int {
		if c := a.GetCreatedAt().AsTime().Compare(b.GetCreatedAt().AsTime()); c != 0 {
			return c
		}
		return strings.Compare(a.GetOrderId(), b.GetOrderId())
	})
	return out
}

// createdSince reports whether a record created at ts is from since on; a
// record without a creation time is always checked.
func createdSince(ts *timestamppb.Timestamp, since time.Time) bool {
	return ts == nil || !ts.AsTime().Before(since)
}

// count writes n things: "1 order", "3 orders".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// list writes up to maxIDs items: "a, b, c, d, e and 7 more".
func list(items []string) string {
	if len(items) <= maxIDs {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:maxIDs], ", "), len(items)-maxIDs)
}

// statusName writes an order status as the shop's documents do: "PENDING".
func statusName(s ordersv1.OrderStatus) string {
	return strings.TrimPrefix(s.String(), "ORDER_STATUS_")
}

// reservationStateName writes a reservation state: "RESERVED".
func reservationStateName(s inventoryv1.ReservationState) string {
	return strings.TrimPrefix(s.String(), "RESERVATION_STATE_")
}

// inconclusive sets c inconclusive with detail.
// nothingToExamine is c inconclusive because no record was there to
// examine.
func nothingToExamine(c journal.Check, detail string) journal.Check {
	c = inconclusive(c, detail)
	c.NothingToExamine = true
	return c
}

func inconclusive(c journal.Check, detail string) journal.Check {
	c.Outcome = journal.Inconclusive
	c.Detail = detail
	return c
}
