package orders

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
)

// serve runs the orders gRPC server of h on 127.0.0.1 and returns a client.
func serve(t *testing.T, h *harness) ordersv1.OrdersServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	ordersv1.RegisterOrdersServiceServer(srv, NewServer(h.svc))
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return ordersv1.NewOrdersServiceClient(conn)
}

func placeRequest(key string) *ordersv1.PlaceOrderRequest {
	return &ordersv1.PlaceOrderRequest{
		IdempotencyKey: key,
		CustomerId:     "cust_1",
		Items:          []*ordersv1.LineItem{{Sku: "apple", Quantity: 2}, {Sku: "pear", Quantity: 1}},
		PaymentMethod:  "card_ok",
	}
}

func lines(n int, qty int32) []*ordersv1.LineItem {
	out := make([]*ordersv1.LineItem, n)
	for i := range out {
		out[i] = &ordersv1.LineItem{Sku: "apple", Quantity: qty}
	}
	return out
}

func TestServerValidation(t *testing.T) {
	h := newHarness(t)
	client := serve(t, h)
	tests := []struct {
		name   string
		change func(r *ordersv1.PlaceOrderRequest)
		want   codes.Code
	}{
		{"valid", func(*ordersv1.PlaceOrderRequest) {}, codes.OK},
		{"empty key", func(r *ordersv1.PlaceOrderRequest) { r.IdempotencyKey = "" }, codes.InvalidArgument},
		{"key of 128", func(r *ordersv1.PlaceOrderRequest) { r.IdempotencyKey = strings.Repeat("a", 128) }, codes.OK},
		{"key of 129", func(r *ordersv1.PlaceOrderRequest) { r.IdempotencyKey = strings.Repeat("b", 129) }, codes.InvalidArgument},
		{"no customer", func(r *ordersv1.PlaceOrderRequest) { r.CustomerId = "" }, codes.InvalidArgument},
		{"no items", func(r *ordersv1.PlaceOrderRequest) { r.Items = nil }, codes.InvalidArgument},
		{"20 items", func(r *ordersv1.PlaceOrderRequest) { r.Items = lines(20, 1) }, codes.OK},
		{"21 items", func(r *ordersv1.PlaceOrderRequest) { r.Items = lines(21, 1) }, codes.InvalidArgument},
		{"quantity 0", func(r *ordersv1.PlaceOrderRequest) { r.Items[1].Quantity = 0 }, codes.InvalidArgument},
		{"quantity -1", func(r *ordersv1.PlaceOrderRequest) { r.Items[1].Quantity = -1 }, codes.InvalidArgument},
		{"quantity 100", func(r *ordersv1.PlaceOrderRequest) { r.Items = lines(1, 100) }, codes.OK},
		{"quantity 101", func(r *ordersv1.PlaceOrderRequest) { r.Items = lines(1, 101) }, codes.InvalidArgument},
		{"empty sku", func(r *ordersv1.PlaceOrderRequest) { r.Items[0].Sku = "" }, codes.InvalidArgument},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := placeRequest("key-" + string(rune('a'+i)))
			tt.change(req)
			charges := h.pay.count("Charge")
			resp, err := client.PlaceOrder(t.Context(), req)
			require.Equal(t, tt.want, status.Code(err), "error: %v", err)
			if tt.want != codes.OK {
				assert.Equal(t, charges, h.pay.count("Charge"), "a rejected request never reaches the saga")
				return
			}
			assert.Equal(t, ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED, resp.GetOrder().GetStatus())
		})
	}
}

func TestServerPlaceGetList(t *testing.T) {
	h := newHarness(t)
	client := serve(t, h)

	resp, err := client.PlaceOrder(t.Context(), placeRequest("k1"))
	require.NoError(t, err)
	o := resp.GetOrder()
	assert.Equal(t, ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED, o.GetStatus())
	assert.Equal(t, "k1", o.GetIdempotencyKey())
	assert.Equal(t, "cust_1", o.GetCustomerId())
	assert.Equal(t, int64(requestTotal), o.GetTotalCents())
	assert.Equal(t, "ch_1", o.GetChargeId())
	assert.Empty(t, o.GetFailureReason())
	require.Len(t, o.GetItems(), 2)
	assert.Equal(t, int64(150), o.GetItems()[0].GetUnitPriceCents())
	assert.False(t, o.GetCreatedAt().AsTime().IsZero())

	got, err := client.GetOrder(t.Context(), &ordersv1.GetOrderRequest{OrderId: o.GetOrderId()})
	require.NoError(t, err)
	assert.Equal(t, o.GetOrderId(), got.GetOrderId())
	assert.Equal(t, o.GetChargeId(), got.GetChargeId())

	declined := placeRequest("k2")
	declined.PaymentMethod = "card_declined"
	resp, err = client.PlaceOrder(t.Context(), declined)
	require.NoError(t, err, "a business failure is a FAILED order, not an RPC error")
	assert.Equal(t, ordersv1.OrderStatus_ORDER_STATUS_FAILED, resp.GetOrder().GetStatus())
	assert.Equal(t, ReasonPaymentDeclined, resp.GetOrder().GetFailureReason())

	list, err := client.ListOrders(t.Context(), &ordersv1.ListOrdersRequest{})
	require.NoError(t, err)
	require.Len(t, list.GetOrders(), 2)
	assert.Equal(t, o.GetOrderId(), list.GetOrders()[0].GetOrderId())
	assert.Equal(t, resp.GetOrder().GetOrderId(), list.GetOrders()[1].GetOrderId())

	for _, tt := range []struct {
		status ordersv1.OrderStatus
		want   []string
	}{
		{ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED, []string{o.GetOrderId()}},
		{ordersv1.OrderStatus_ORDER_STATUS_FAILED, []string{resp.GetOrder().GetOrderId()}},
		{ordersv1.OrderStatus_ORDER_STATUS_PENDING, nil},
	} {
		list, err := client.ListOrders(t.Context(), &ordersv1.ListOrdersRequest{Status: tt.status})
		require.NoError(t, err)
		var got []string
		for _, o := range list.GetOrders() {
			got = append(got, o.GetOrderId())
		}
		assert.Equal(t, tt.want, got, "orders in status %s", tt.status)
	}
}

func TestServerErrorCodes(t *testing.T) {
	h := newHarness(t)
	client := serve(t, h)

	t.Run("unknown order is NOT_FOUND", func(t *testing.T) {
		_, err := client.GetOrder(t.Context(), &ordersv1.GetOrderRequest{OrderId: "ord_0000000000000000"})
		assert.Equal(t, codes.NotFound, status.Code(err))
		_, err = client.GetOrder(t.Context(), &ordersv1.GetOrderRequest{})
		assert.Equal(t, codes.InvalidArgument, status.Code(err))
	})

	t.Run("list in an unknown status is INVALID_ARGUMENT", func(t *testing.T) {
		_, err := client.ListOrders(t.Context(), &ordersv1.ListOrdersRequest{Status: 99})
		assert.Equal(t, codes.InvalidArgument, status.Code(err))
	})

	t.Run("key reused with another request is ALREADY_EXISTS", func(t *testing.T) {
		_, err := client.PlaceOrder(t.Context(), placeRequest("reused"))
		require.NoError(t, err)
		other := placeRequest("reused")
		other.Items[0].Quantity = 3
		_, err = client.PlaceOrder(t.Context(), other)
		assert.Equal(t, codes.AlreadyExists, status.Code(err))
	})

	t.Run("request with too little deadline left is DEADLINE_EXCEEDED", func(t *testing.T) {
		client := serve(t, newHarness(t, func(o *Options) { o.MinDeadline = time.Minute }))
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		_, err := client.PlaceOrder(ctx, placeRequest("hurried"))
		assert.Equal(t, codes.DeadlineExceeded, status.Code(err))
		assert.Contains(t, status.Convert(err).Message(), "too little of the request's deadline left")
	})

	t.Run("key whose saga runs is ABORTED", func(t *testing.T) {
		gate := make(chan struct{})
		h.stock.setHook(func(_ context.Context, method string) {
			if method == "Reserve" {
				<-gate
			}
		})
		t.Cleanup(func() { h.stock.setHook(nil) })
		reserves := h.stock.count("Reserve")
		first := make(chan error, 1)
		go func() {
			_, err := client.PlaceOrder(t.Context(), placeRequest("busy"))
			first <- err
		}()
		// Wait until the first saga is inside Reserve (the hook runs before
		// the call is recorded, so poll the in-flight keys instead).
		require.Eventually(t, func() bool {
			h.svc.mu.Lock()
			defer h.svc.mu.Unlock()
			_, busy := h.svc.inFlight["busy"]
			return busy
		}, 10*time.Second, time.Millisecond)

		_, err := client.PlaceOrder(t.Context(), placeRequest("busy"))
		assert.Equal(t, codes.Aborted, status.Code(err))

		close(gate)
		select {
		case err := <-first:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("the first saga did not finish")
		}
		assert.Equal(t, reserves+1, h.stock.count("Reserve"))
		_, err = client.PlaceOrder(t.Context(), placeRequest("busy"))
		assert.NoError(t, err, "once finished, the same key replays the order")
	})
}
