package faults

import "github.com/chaoslab/chaoslab/harness/stack"

// The lab's services, by the names faults, scenarios and metrics use.
const (
	Gateway   = stack.Gateway
	Orders    = stack.Orders
	Inventory = stack.Inventory
	Payments  = stack.Payments
)

// Services returns the names of the lab's services, in call order.
func Services() []string {
	return []string{Gateway, Orders, Inventory, Payments}
}

// Edges returns the lab's network edges, "caller->callee". Each one goes
// through a Toxiproxy proxy named by ProxyName.
func Edges() []string { return stack.EdgeNames() }

// ProxyName returns the name of the Toxiproxy proxy of an edge:
// "orders->payments" is proxied by "orders_to_payments".
func ProxyName(edge string) string { return stack.ProxyName(edge) }

// Methods returns what a request fault on service may name as its method:
// the full gRPC methods of a gRPC service, or the routes of the gateway.
// It returns nil for an unknown service.
func Methods(service string) []string {
	switch service {
	case Gateway:
		return []string{"POST /v1/orders", "GET /v1/orders/{id}", "GET /v1/products"}
	case Orders:
		return grpcMethods("orders.v1.OrdersService", "PlaceOrder", "GetOrder", "ListOrders")
	case Inventory:
		return grpcMethods("inventory.v1.InventoryService",
			"ListProducts", "Reserve", "Release", "Commit", "GetReservation", "ListReservations")
	case Payments:
		return grpcMethods("payments.v1.PaymentsService", "Charge", "Refund", "ListCharges")
	}
	return nil
}

// grpcMethods returns the full method names of service's methods.
func grpcMethods(service string, methods ...string) []string {
	out := make([]string, len(methods))
	for i, m := range methods {
		out[i] = "/" + service + "/" + m
	}
	return out
}
