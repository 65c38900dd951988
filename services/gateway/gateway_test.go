package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
)

// The generated clients must satisfy the gateway's small interfaces as they are.
var (
	_ ordersClient  = ordersv1.OrdersServiceClient(nil)
	_ catalogClient = inventoryv1.InventoryServiceClient(nil)
)

const (
	testKey   = "test-signing-key"
	validBody = `{"customer_id":"c-1","items":[{"sku":"sku-1","quantity":2}],"payment_method":"card_ok"}`
)

// testNow is the fixed time of the tests' clock.
func testNow() time.Time { return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC) }

// fakeOrders is a hand-written orders client. Unset functions answer a
// CONFIRMED order built from the request, and NOT_FOUND for GetOrder.
type fakeOrders struct {
	place func(ctx context.Context, req *ordersv1.PlaceOrderRequest) (*ordersv1.PlaceOrderResponse, error)
	get   func(ctx context.Context, req *ordersv1.GetOrderRequest) (*ordersv1.Order, error)

	mu     sync.Mutex
	placed []*ordersv1.PlaceOrderRequest
	gets   int
}

func (f *fakeOrders) PlaceOrder(ctx context.Context, req *ordersv1.PlaceOrderRequest, _ ...grpc.CallOption) (*ordersv1.PlaceOrderResponse, error) {
	f.mu.Lock()
	f.placed = append(f.placed, req)
	f.mu.Unlock()
	if f.place != nil {
		return f.place(ctx, req)
	}
	return &ordersv1.PlaceOrderResponse{Order: confirmedOrder(req)}, nil
}

func (f *fakeOrders) GetOrder(ctx context.Context, req *ordersv1.GetOrderRequest, _ ...grpc.CallOption) (*ordersv1.Order, error) {
	f.mu.Lock()
	f.gets++
	f.mu.Unlock()
	if f.get != nil {
		return f.get(ctx, req)
	}
	return nil, status.Errorf(codes.NotFound, "order %q not found", req.GetOrderId())
}

// placedCount is the number of PlaceOrder calls so far.
func (f *fakeOrders) placedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.placed)
}

// fakeCatalog is a hand-written inventory client.
type fakeCatalog struct {
	list func(ctx context.Context) (*inventoryv1.ListProductsResponse, error)
}

func (f *fakeCatalog) ListProducts(ctx context.Context, _ *inventoryv1.ListProductsRequest, _ ...grpc.CallOption) (*inventoryv1.ListProductsResponse, error) {
	if f.list != nil {
		return f.list(ctx)
	}
	return &inventoryv1.ListProductsResponse{}, nil
}

// confirmedOrder is what a healthy orders service answers for req.
func confirmedOrder(req *ordersv1.PlaceOrderRequest) *ordersv1.Order {
	o := &ordersv1.Order{
		OrderId:        "o-1",
		IdempotencyKey: req.GetIdempotencyKey(),
		CustomerId:     req.GetCustomerId(),
		Status:         ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED,
		ChargeId:       "ch-1",
		CreatedAt:      timestamppb.New(testNow()),
		UpdatedAt:      timestamppb.New(testNow().Add(1500 * time.Millisecond)),
	}
	for _, it := range req.GetItems() {
		o.Items = append(o.Items, &ordersv1.LineItem{Sku: it.GetSku(), Quantity: it.GetQuantity(), UnitPriceCents: 250})
		o.TotalCents += 250 * int64(it.GetQuantity())
	}
	return o
}

// newTestServer returns a gateway over the fakes, with the tests' key and
// clock; edit adjusts the options.
func newTestServer(t *testing.T, orders *fakeOrders, catalog *fakeCatalog, edit func(*Options)) *Server {
	t.Helper()
	opts := Options{JWTKey: []byte(testKey), Now: testNow}
	if edit != nil {
		edit(&opts)
	}
	s, err := NewServer(orders, catalog, opts)
	require.NoError(t, err)
	return s
}

// testToken is a valid token for the tests' key and clock.
func testToken(t *testing.T) string {
	t.Helper()
	tok, err := MintToken([]byte(testKey), "tester", time.Hour, testNow())
	require.NoError(t, err)
	return tok
}

// placeRequest is a valid POST /v1/orders with body.
func placeRequest(t *testing.T, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/orders", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Idempotency-Key", "key-1")
	r.Header.Set("Authorization", "Bearer "+testToken(t))
	return r
}

// getRequest is a GET of path.
func getRequest(t *testing.T, path string) *http.Request {
	t.Helper()
	return httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil)
}

// serve runs r through h and returns the response.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// problemBody is a decoded problem response.
type problemBody struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail"`
	Instance string       `json:"instance"`
	OrderID  string       `json:"order_id"`
	Reason   string       `json:"reason"`
	Errors   []fieldError `json:"errors"`
}

// fields lists the field names of the problem's errors.
func (p problemBody) fields() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// requireProblem checks that rec is a problem response of status and decodes it.
func requireProblem(t *testing.T, rec *httptest.ResponseRecorder, wantStatus int) problemBody {
	t.Helper()
	require.Equal(t, wantStatus, rec.Code, "body: %s", rec.Body.String())
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	var p problemBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p), "body: %s", rec.Body.String())
	assert.Equal(t, wantStatus, p.Status)
	assert.True(t, strings.HasPrefix(p.Type, problemTypePrefix), "type %q", p.Type)
	assert.NotEmpty(t, p.Title)
	assert.NotEmpty(t, p.Instance)
	return p
}
