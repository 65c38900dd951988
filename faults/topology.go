package faults

import "strings"

// The shop's names: its services, its network edges and their proxies, and
// the methods of its services. They are fixed here for now, and
// harness/stack takes them from here, so that faults imports nothing of
// the harness; the next step of issue 11 reads them from the lab file.

// The lab's services, by the names faults, scenarios and metrics use.
const (
	Gateway   = "gateway"
	Orders    = "orders"
	Inventory = "inventory"
	Payments  = "payments"
)

// Services returns the names of the lab's services, in call order.
func Services() []string {
	return []string{Gateway, Orders, Inventory, Payments}
}

// dependenciesFirst returns the lab's services, each after the services it
// calls (the lab's start order).
func dependenciesFirst() []string {
	return []string{Inventory, Payments, Orders, Gateway}
}

// Edges returns the lab's network edges, "caller->callee": one in front of
// the gateway for client-side faults, and one per inter-service call path.
// Each one goes through a Toxiproxy proxy named by ProxyName.
func Edges() []string {
	return []string{"client->gateway", "gateway->orders", "gateway->inventory", "orders->inventory", "orders->payments"}
}

// ProxyName returns the name of the Toxiproxy proxy of an edge:
// "orders->payments" is proxied by "orders_to_payments".
func ProxyName(edge string) string { return strings.ReplaceAll(edge, "->", "_to_") }

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
