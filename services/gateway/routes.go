package gateway

import (
	"context"
	"fmt"
	"net/http"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
)

// routes registers every route of the gateway. Health routes bypass
// admission; placing an order needs a bearer token.
func (s *Server) routes(adm *admission, auth *authenticator) {
	s.handle("GET /healthz", http.HandlerFunc(s.handleHealthz))
	s.handle("GET /readyz", http.HandlerFunc(s.handleReadyz))
	s.handle("POST /v1/orders", adm.wrap(auth.require(http.HandlerFunc(s.handlePlaceOrder))))
	s.handle("GET /v1/orders/{id}", adm.wrap(http.HandlerFunc(s.handleGetOrder)))
	s.handle("GET /v1/products", adm.wrap(http.HandlerFunc(s.handleListProducts)))
}

// handleHealthz answers 200 while the process serves.
func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz answers 200 when the readiness check passes, else 503.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			writeProblem(w, r, notReadyProblem(err))
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// handlePlaceOrder places an order: 201 when CONFIRMED, a problem naming
// the failure reason when FAILED.
func (s *Server) handlePlaceOrder(w http.ResponseWriter, r *http.Request) {
	if err := checkJSONContentType(r.Header.Get("Content-Type")); err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := decodePlaceOrder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if err := validatePlaceOrder(key, body); err != nil {
		s.fail(w, r, err)
		return
	}
	resp, err := s.orders.PlaceOrder(r.Context(), body.toProto(key))
	if err != nil {
		s.fail(w, r, fmt.Errorf("placing order: %w", err))
		return
	}
	o := resp.GetOrder()
	switch o.GetStatus() {
	case ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED:
		w.Header().Set("Location", orderLocation(o.GetOrderId()))
		writeJSON(w, http.StatusCreated, newOrder(o))
	case ordersv1.OrderStatus_ORDER_STATUS_PENDING:
		w.Header().Set("Location", orderLocation(o.GetOrderId()))
		writeJSON(w, http.StatusAccepted, newOrder(o))
	case ordersv1.OrderStatus_ORDER_STATUS_FAILED:
		writeProblem(w, r, failedOrderProblem(o))
	default:
		s.log.ErrorContext(r.Context(), "orders answered an order without status", "order_id", o.GetOrderId())
		writeProblem(w, r, badUpstreamProblem("the orders service answered an order without a status"))
	}
}

// handleGetOrder answers one order.
func (s *Server) handleGetOrder(w http.ResponseWriter, r *http.Request) {
	o, err := s.orders.GetOrder(r.Context(), &ordersv1.GetOrderRequest{OrderId: r.PathValue("id")})
	if err != nil {
		s.fail(w, r, fmt.Errorf("getting order: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, newOrder(o))
}

// handleListProducts answers the catalog.
func (s *Server) handleListProducts(w http.ResponseWriter, r *http.Request) {
	resp, err := s.catalog.ListProducts(r.Context(), &inventoryv1.ListProductsRequest{})
	if err != nil {
		s.fail(w, r, fmt.Errorf("listing products: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, newProductsJSON(resp))
}
