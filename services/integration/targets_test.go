//go:build integration

package integration

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
)

// target is a gRPC service as its caller in the shop sees it: what the
// caller dials, an idempotent call to break, and how to count what that
// call did.
type target struct {
	// name is the service's name in the lab and the dependency's name in
	// the caller's metrics.
	name string
	// service is the full proto service name, for the retry policy.
	service string
	// waitForReady is how the shop dials the service: only the gateway's
	// connection to orders makes calls wait (within their deadline) for a
	// connection instead of failing at once.
	waitForReady bool
	// writeMethod is the full method of write, as the metrics label it.
	writeMethod string
	// read makes a cheap read-only call.
	read func(ctx context.Context, cc grpc.ClientConnInterface) error
	// write makes the idempotent call under test, keyed by key; a business
	// failure (a FAILED order) is an error too.
	write func(ctx context.Context, cc grpc.ClientConnInterface, key string) error
	// effects counts what the writes did: write once more with the same
	// key and it stays the same.
	effects func(ctx context.Context, cc grpc.ClientConnInterface, key string) (int, error)
}

// targets are the shop's gRPC services, each called as its caller in the
// shop calls it: inventory and payments as orders does, orders as the
// gateway does.
func targets() []target {
	return []target{
		{
			name:        "inventory",
			service:     inventoryv1.InventoryService_ServiceDesc.ServiceName,
			writeMethod: inventoryv1.InventoryService_Reserve_FullMethodName,
			read: func(ctx context.Context, cc grpc.ClientConnInterface) error {
				_, err := inventoryv1.NewInventoryServiceClient(cc).ListProducts(ctx, &inventoryv1.ListProductsRequest{})
				return err
			},
			write: func(ctx context.Context, cc grpc.ClientConnInterface, key string) error {
				_, err := inventoryv1.NewInventoryServiceClient(cc).Reserve(ctx, &inventoryv1.ReserveRequest{
					ReservationId: key, Items: []*inventoryv1.Item{{Sku: inventorySKU, Quantity: 1}},
				})
				return err
			},
			// The units of inventorySKU reserved, by every key: only the
			// inventory cases reserve it, one after the other.
			effects: func(ctx context.Context, cc grpc.ClientConnInterface, _ string) (int, error) {
				resp, err := inventoryv1.NewInventoryServiceClient(cc).ListProducts(ctx, &inventoryv1.ListProductsRequest{})
				if err != nil {
					return 0, err
				}
				for _, p := range resp.GetProducts() {
					if p.GetSku() == inventorySKU {
						return int(p.GetReserved()), nil
					}
				}
				return 0, fmt.Errorf("no product %s in the catalog", inventorySKU)
			},
		},
		{
			name:        "payments",
			service:     paymentsv1.PaymentsService_ServiceDesc.ServiceName,
			writeMethod: paymentsv1.PaymentsService_Charge_FullMethodName,
			read: func(ctx context.Context, cc grpc.ClientConnInterface) error {
				_, err := paymentsv1.NewPaymentsServiceClient(cc).ListCharges(ctx, &paymentsv1.ListChargesRequest{OrderId: "none"})
				return err
			},
			write: func(ctx context.Context, cc grpc.ClientConnInterface, key string) error {
				_, err := paymentsv1.NewPaymentsServiceClient(cc).Charge(ctx, &paymentsv1.ChargeRequest{
					IdempotencyKey: key, OrderId: key, AmountCents: 1999, PaymentMethod: "card_ok",
				})
				return err
			},
			// The captured charges of the order named key.
			effects: func(ctx context.Context, cc grpc.ClientConnInterface, key string) (int, error) {
				resp, err := paymentsv1.NewPaymentsServiceClient(cc).ListCharges(ctx, &paymentsv1.ListChargesRequest{OrderId: key})
				if err != nil {
					return 0, err
				}
				n := 0
				for _, c := range resp.GetCharges() {
					if c.GetState() == paymentsv1.ChargeState_CHARGE_STATE_CAPTURED {
						n++
					}
				}
				return n, nil
			},
		},
		{
			name:         "orders",
			service:      ordersv1.OrdersService_ServiceDesc.ServiceName,
			waitForReady: true,
			writeMethod:  ordersv1.OrdersService_PlaceOrder_FullMethodName,
			read: func(ctx context.Context, cc grpc.ClientConnInterface) error {
				_, err := ordersv1.NewOrdersServiceClient(cc).ListOrders(ctx, &ordersv1.ListOrdersRequest{})
				return err
			},
			write: func(ctx context.Context, cc grpc.ClientConnInterface, key string) error {
				resp, err := ordersv1.NewOrdersServiceClient(cc).PlaceOrder(ctx, &ordersv1.PlaceOrderRequest{
					IdempotencyKey: key, CustomerId: "c-integration",
					Items: []*ordersv1.LineItem{{Sku: "sku-1", Quantity: 1}},
				})
				if err != nil {
					return err
				}
				if o := resp.GetOrder(); o.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED {
					return fmt.Errorf("order %s is %s: %s", o.GetOrderId(), o.GetStatus(), o.GetFailureReason())
				}
				return nil
			},
			// The confirmed orders placed with key.
			effects: func(ctx context.Context, cc grpc.ClientConnInterface, key string) (int, error) {
				resp, err := ordersv1.NewOrdersServiceClient(cc).ListOrders(ctx, &ordersv1.ListOrdersRequest{})
				if err != nil {
					return 0, err
				}
				n := 0
				for _, o := range resp.GetOrders() {
					if o.GetIdempotencyKey() == key && o.GetStatus() == ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED {
						n++
					}
				}
				return n, nil
			},
		},
	}
}

// inventorySKU is the product the inventory cases reserve (orders buy
// sku-1).
const inventorySKU = "sku-2"
