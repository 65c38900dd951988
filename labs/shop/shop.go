// Package shop is the Go side of the shop's lab file (labs/shop/lab.yaml):
// the checkers it names with `builtin:` — the settle probe
// no_pending_orders and the three invariants of package
// labs/shop/invariants — and the gRPC clients they read the shop through.
package shop

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/chaoslab/chaoslab/harness/checks"
	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/labs/shop/invariants"
	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
	"github.com/chaoslab/chaoslab/services/orders/outboxapi"
)

// NoPendingOrders is a settle probe: in-flight sagas have finished when
// orders lists no PENDING order.
const NoPendingOrders = "no_pending_orders"

// NoPendingWork is the shop's settle probe: no PENDING order, orders'
// outbox empty, and shipping's consumer caught up with the stream (nothing
// undelivered, nothing unacked).
const NoPendingWork = "no_pending_work"

// The services the builtins read, by their names in the lab file.
const (
	Orders    = "orders"
	Inventory = "inventory"
	Payments  = "payments"
	Shipping  = "shipping"
)

// Builtins returns the shop's built-in checkers, reading the shop through
// s. The names alone (Builtins(invariants.Shop{}).Names()) are what
// loading the lab file needs; evaluating needs the clients (Dial).
func Builtins(s invariants.Shop) checks.Builtins {
	return checks.Builtins{
		Invariants: invariants.Names(),
		CheckInvariants: func(ctx context.Context, names []string, in lab.RunInput) []journal.Check {
			return invariants.Check(ctx, s, names, in)
		},
		Settle: map[string]checks.SettleProbe{
			NoPendingOrders: func(ctx context.Context) (lab.SettleStatus, error) { return pendingOrders(ctx, s.Orders) },
			NoPendingWork:   func(ctx context.Context) (lab.SettleStatus, error) { return pendingWork(ctx, s) },
		},
	}
}

// pendingOrders counts the PENDING orders, asking orders for those alone.
func pendingOrders(ctx context.Context, orders invariants.OrderLister) (lab.SettleStatus, error) {
	if orders == nil {
		return lab.SettleStatus{}, errors.New("listing PENDING orders: no client for orders")
	}
	resp, err := orders.ListOrders(ctx, &ordersv1.ListOrdersRequest{Status: ordersv1.OrderStatus_ORDER_STATUS_PENDING})
	if err != nil {
		return lab.SettleStatus{}, fmt.Errorf("listing PENDING orders: %w", err)
	}
	n := len(resp.GetOrders())
	detail := fmt.Sprintf("%d orders PENDING", n)
	if n == 1 {
		detail = "1 order PENDING"
	}
	return lab.SettleStatus{Pending: n, Detail: detail}, nil
}

// pendingWork adds up what is still in flight: PENDING orders, events in
// orders' outbox, and messages shipping's consumer has not received or not
// acked.
func pendingWork(ctx context.Context, s invariants.Shop) (lab.SettleStatus, error) {
	orders, err := pendingOrders(ctx, s.Orders)
	if err != nil {
		return lab.SettleStatus{}, err
	}
	if s.Outbox == nil {
		return lab.SettleStatus{}, errors.New("reading the outbox: no client for orders' outbox")
	}
	backlog, err := s.Outbox.OutboxBacklog(ctx)
	if err != nil {
		return lab.SettleStatus{}, fmt.Errorf("reading the outbox: %w", err)
	}
	if s.Consumer == nil {
		return lab.SettleStatus{}, errors.New("reading shipping's consumer lag: no client for shipping")
	}
	pending, ackPending, err := s.Consumer.ConsumerLag(ctx)
	if err != nil {
		return lab.SettleStatus{}, fmt.Errorf("reading shipping's consumer lag: %w", err)
	}
	return lab.SettleStatus{
		Pending: orders.Pending + int(backlog) + int(pending) + int(ackPending),
		Detail: fmt.Sprintf("%s; %d events in the outbox; shipping: %d undelivered, %d unacked",
			orders.Detail, backlog, pending, ackPending),
	}, nil
}

// maxRecvMsgSize is the receive limit of the List calls, which return every
// order, charge or reservation of the lab at once.
const maxRecvMsgSize = 256 << 20

// Conn is the shop's gRPC clients: Shop reads orders, charges and
// reservations.
type Conn struct {
	Shop  invariants.Shop
	conns []*grpc.ClientConn
}

// Dial makes the clients of orders (its outbox too), inventory and
// payments at addrs (service name → host:port, as the harness reaches
// them), and of shipping when addrs has it (a shop without the event path
// leaves Shipments and Consumer nil: the checks that need them say so).
// Connections are made when first used.
func Dial(addrs map[string]string) (*Conn, error) {
	c := &Conn{}
	dial := func(service string) (*grpc.ClientConn, error) {
		addr, ok := addrs[service]
		if !ok || addr == "" {
			return nil, fmt.Errorf("the shop's checkers read service %s: the lab has no address for it", service)
		}
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMsgSize)))
		if err != nil {
			return nil, fmt.Errorf("dialling %s at %s: %w", service, addr, err)
		}
		c.conns = append(c.conns, cc)
		return cc, nil
	}
	var errs []error
	for _, svc := range []string{Orders, Inventory, Payments} {
		cc, err := dial(svc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch svc {
		case Orders:
			c.Shop.Orders = ordersv1.NewOrdersServiceClient(cc)
			c.Shop.Outbox = outboxapi.NewClient(cc)
		case Inventory:
			c.Shop.Inventory = inventoryv1.NewInventoryServiceClient(cc)
		case Payments:
			c.Shop.Payments = paymentsv1.NewPaymentsServiceClient(cc)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	if addr := addrs[Shipping]; addr != "" {
		sc := shippingClient{base: "http://" + addr, hc: &http.Client{}}
		c.Shop.Shipments, c.Shop.Consumer = sc, sc
	}
	return c, nil
}

// Close closes the connections.
func (c *Conn) Close() error {
	var errs []error
	for _, cc := range c.conns {
		if err := cc.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	c.conns = nil
	return errors.Join(errs...)
}
