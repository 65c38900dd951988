package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
)

func TestPlaceOrderConfirmed(t *testing.T) {
	orders := &fakeOrders{}
	s := newTestServer(t, orders, &fakeCatalog{}, nil)

	rec := serve(s, placeRequest(t, validBody))

	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	assert.Equal(t, "/v1/orders/o-1", rec.Header().Get("Location"))
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.JSONEq(t, `{
		"order_id":"o-1","idempotency_key":"key-1","customer_id":"c-1",
		"items":[{"sku":"sku-1","quantity":2,"unit_price_cents":250}],
		"total_cents":500,"status":"CONFIRMED","failure_reason":"","charge_id":"ch-1",
		"created_at":"2025-03-01T12:00:00Z","updated_at":"2025-03-01T12:00:01.5Z"}`, rec.Body.String())

	require.Equal(t, 1, orders.placedCount())
	want := &ordersv1.PlaceOrderRequest{
		IdempotencyKey: "key-1",
		CustomerId:     "c-1",
		Items:          []*ordersv1.LineItem{{Sku: "sku-1", Quantity: 2}},
		PaymentMethod:  "card_ok",
	}
	assert.True(t, proto.Equal(want, orders.placed[0]), "sent %v", orders.placed[0])
}

func TestPlaceOrderOtherStatuses(t *testing.T) {
	tests := []struct {
		name       string
		status     ordersv1.OrderStatus
		wantStatus int
	}{
		{"pending is accepted", ordersv1.OrderStatus_ORDER_STATUS_PENDING, http.StatusAccepted},
		{"no status is a bad gateway", ordersv1.OrderStatus_ORDER_STATUS_UNSPECIFIED, http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orders := &fakeOrders{place: func(_ context.Context, req *ordersv1.PlaceOrderRequest) (*ordersv1.PlaceOrderResponse, error) {
				o := confirmedOrder(req)
				o.Status = tt.status
				return &ordersv1.PlaceOrderResponse{Order: o}, nil
			}}
			rec := serve(newTestServer(t, orders, &fakeCatalog{}, nil), placeRequest(t, validBody))
			assert.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
		})
	}
}

func TestGetOrder(t *testing.T) {
	orders := &fakeOrders{get: func(_ context.Context, req *ordersv1.GetOrderRequest) (*ordersv1.Order, error) {
		if req.GetOrderId() != "o-7" {
			return nil, status.Errorf(codes.NotFound, "order %q not found", req.GetOrderId())
		}
		return &ordersv1.Order{
			OrderId: "o-7", IdempotencyKey: "k", CustomerId: "c-2",
			Items:      []*ordersv1.LineItem{{Sku: "a", Quantity: 1, UnitPriceCents: 10}},
			TotalCents: 10, Status: ordersv1.OrderStatus_ORDER_STATUS_FAILED, FailureReason: "out_of_stock",
		}, nil
	}}
	s := newTestServer(t, orders, &fakeCatalog{}, nil)

	t.Run("found", func(t *testing.T) {
		rec := serve(s, getRequest(t, "/v1/orders/o-7"))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.JSONEq(t, `{"order_id":"o-7","idempotency_key":"k","customer_id":"c-2",
			"items":[{"sku":"a","quantity":1,"unit_price_cents":10}],"total_cents":10,
			"status":"FAILED","failure_reason":"out_of_stock","charge_id":""}`, rec.Body.String())
	})
	t.Run("not found", func(t *testing.T) {
		p := requireProblem(t, serve(s, getRequest(t, "/v1/orders/o-8")), http.StatusNotFound)
		assert.Equal(t, `order "o-8" not found`, p.Detail)
		assert.Equal(t, "/v1/orders/o-8", p.Instance)
	})
}

func TestListProducts(t *testing.T) {
	tests := []struct {
		name     string
		list     func(context.Context) (*inventoryv1.ListProductsResponse, error)
		wantCode int
		wantBody string
	}{
		{
			name: "catalog",
			list: func(context.Context) (*inventoryv1.ListProductsResponse, error) {
				return &inventoryv1.ListProductsResponse{Products: []*inventoryv1.Product{
					{Sku: "sku-1", Name: "Widget", PriceCents: 250, Available: 7, Reserved: 3},
					{Sku: "sku-2", Name: "Gadget", PriceCents: 1000},
				}}, nil
			},
			wantCode: http.StatusOK,
			wantBody: `{"products":[{"sku":"sku-1","name":"Widget","price_cents":250,"available":7},
				{"sku":"sku-2","name":"Gadget","price_cents":1000,"available":0}]}`,
		},
		{
			name: "empty catalog is an empty list",
			list: func(context.Context) (*inventoryv1.ListProductsResponse, error) {
				return &inventoryv1.ListProductsResponse{}, nil
			},
			wantCode: http.StatusOK,
			wantBody: `{"products":[]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, &fakeOrders{}, &fakeCatalog{list: tt.list}, nil)
			rec := serve(s, getRequest(t, "/v1/products"))
			require.Equal(t, tt.wantCode, rec.Code)
			assert.JSONEq(t, tt.wantBody, rec.Body.String())
		})
	}
	t.Run("inventory down", func(t *testing.T) {
		catalog := &fakeCatalog{list: func(context.Context) (*inventoryv1.ListProductsResponse, error) {
			return nil, status.Error(codes.Unavailable, "circuit breaker is open")
		}}
		s := newTestServer(t, &fakeOrders{}, catalog, nil)
		p := requireProblem(t, serve(s, getRequest(t, "/v1/products")), http.StatusServiceUnavailable)
		assert.Equal(t, "circuit breaker is open", p.Detail)
	})
}

func TestHealth(t *testing.T) {
	t.Run("healthz", func(t *testing.T) {
		s := newTestServer(t, &fakeOrders{}, &fakeCatalog{}, nil)
		rec := serve(s, getRequest(t, "/healthz"))
		assert.Equal(t, http.StatusOK, rec.Code)
	})
	t.Run("ready without a check", func(t *testing.T) {
		s := newTestServer(t, &fakeOrders{}, &fakeCatalog{}, nil)
		assert.Equal(t, http.StatusOK, serve(s, getRequest(t, "/readyz")).Code)
	})
	t.Run("ready", func(t *testing.T) {
		var hadDeadline bool
		s := newTestServer(t, &fakeOrders{}, &fakeCatalog{}, func(o *Options) {
			o.Ready = func(ctx context.Context) error { _, hadDeadline = ctx.Deadline(); return nil }
		})
		assert.Equal(t, http.StatusOK, serve(s, getRequest(t, "/readyz")).Code)
		assert.True(t, hadDeadline, "the readiness check must be bounded")
	})
	t.Run("not ready", func(t *testing.T) {
		s := newTestServer(t, &fakeOrders{}, &fakeCatalog{}, func(o *Options) {
			o.Ready = func(context.Context) error { return errors.New("orders connection is TRANSIENT_FAILURE") }
		})
		p := requireProblem(t, serve(s, getRequest(t, "/readyz")), http.StatusServiceUnavailable)
		assert.Contains(t, p.Detail, "TRANSIENT_FAILURE")
		assert.Equal(t, http.StatusOK, serve(s, getRequest(t, "/healthz")).Code, "healthz stays up while not ready")
	})
}

func TestUnroutedRequests(t *testing.T) {
	s := newTestServer(t, &fakeOrders{}, &fakeCatalog{}, nil)
	tests := []struct {
		method, path string
		wantStatus   int
		wantAllow    string
	}{
		{http.MethodGet, "/nope", http.StatusNotFound, ""},
		{http.MethodGet, "/v1/orders/", http.StatusNotFound, ""},
		{http.MethodGet, "/v1/orders", http.StatusMethodNotAllowed, "POST"},
		{http.MethodDelete, "/v1/orders/o-1", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodPost, "/v1/products", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodPut, "/healthz", http.StatusMethodNotAllowed, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := httptest.NewRequestWithContext(t.Context(), tt.method, tt.path, nil)
			rec := serve(s, r)
			p := requireProblem(t, rec, tt.wantStatus)
			assert.Equal(t, tt.path, p.Instance)
			assert.Equal(t, tt.wantAllow, rec.Header().Get("Allow"))
			assert.Equal(t, "unmatched", s.Route(r))
		})
	}
	t.Run("unclean path is redirected", func(t *testing.T) {
		rec := serve(s, getRequest(t, "/v1//products"))
		assert.Equal(t, http.StatusTemporaryRedirect, rec.Code)
		assert.Equal(t, "/v1/products", rec.Header().Get("Location"))
	})
}

func TestRoute(t *testing.T) {
	s := newTestServer(t, &fakeOrders{}, &fakeCatalog{}, nil)
	tests := []struct{ method, path, want string }{
		{http.MethodPost, "/v1/orders", "POST /v1/orders"},
		{http.MethodGet, "/v1/orders/o-123", "GET /v1/orders/{id}"},
		{http.MethodHead, "/v1/orders/o-123", "GET /v1/orders/{id}"},
		{http.MethodGet, "/v1/products", "GET /v1/products"},
		{http.MethodGet, "/healthz", "GET /healthz"},
		{http.MethodGet, "/readyz", "GET /readyz"},
		{http.MethodGet, "/v1/orders/a/b", "unmatched"},
		{http.MethodPatch, "/v1/products", "unmatched"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := httptest.NewRequestWithContext(t.Context(), tt.method, tt.path, nil)
			assert.Equal(t, tt.want, s.Route(r))
		})
	}
}

func TestNewServerRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"no key", Options{}},
		{"negative rate", Options{JWTKey: []byte("k"), RateLimit: -1}},
		{"negative in flight", Options{JWTKey: []byte("k"), MaxInFlight: -1}},
		{"negative timeout", Options{JWTKey: []byte("k"), RequestTimeout: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewServer(&fakeOrders{}, &fakeCatalog{}, tt.opts)
			assert.Error(t, err)
		})
	}
	t.Run("nil clients", func(t *testing.T) {
		_, err := NewServer(nil, &fakeCatalog{}, Options{JWTKey: []byte("k")})
		assert.Error(t, err)
	})
}
