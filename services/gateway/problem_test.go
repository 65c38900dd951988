package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
)

func TestPlaceOrderMapsRPCErrors(t *testing.T) {
	tests := []struct {
		name           string
		err            error
		wantStatus     int
		wantRetryAfter string
		wantDetail     string
	}{
		{"invalid argument", status.Error(codes.InvalidArgument, "sku is empty"), 400, "", "sku is empty"},
		{"not found", status.Error(codes.NotFound, "no such thing"), 404, "", "no such thing"},
		{"key reused", status.Error(codes.AlreadyExists, "key used with another request"), 409, "", "key used with another request"},
		{"saga in progress", status.Error(codes.Aborted, "order in progress"), 409, "1", "order in progress"},
		{"load shed downstream", status.Error(codes.ResourceExhausted, "shed"), 503, "1", "shed"},
		{"dependency down", status.Error(codes.Unavailable, "breaker open"), 503, "", "breaker open"},
		{"deadline", status.Error(codes.DeadlineExceeded, "context deadline exceeded"), 504, "", "context deadline exceeded"},
		{"plain context deadline", fmt.Errorf("dialing: %w", context.DeadlineExceeded), 504, "", "the request deadline was exceeded"},
		{"canceled", status.Error(codes.Canceled, "context canceled"), 499, "", "context canceled"},
		{"internal", status.Error(codes.Internal, "saga broke"), 502, "", "saga broke"},
		{"unknown", status.Error(codes.Unknown, "panic recovered"), 502, "", "panic recovered"},
		{"data loss", status.Error(codes.DataLoss, "torn write"), 502, "", "torn write"},
		{"unimplemented", status.Error(codes.Unimplemented, "no such method"), 500, "", "no such method"},
		{"failed precondition", status.Error(codes.FailedPrecondition, "bad state"), 500, "", "bad state"},
		{"not a gRPC error", errors.New("secret internals at 10.0.0.7"), 500, "", "the gateway failed to serve the request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orders := &fakeOrders{place: func(context.Context, *ordersv1.PlaceOrderRequest) (*ordersv1.PlaceOrderResponse, error) {
				return nil, tt.err
			}}
			rec := serve(newTestServer(t, orders, &fakeCatalog{}, nil), placeRequest(t, validBody))
			p := requireProblem(t, rec, tt.wantStatus)
			assert.Equal(t, tt.wantDetail, p.Detail, "the detail is the gRPC message only")
			assert.Equal(t, tt.wantRetryAfter, rec.Header().Get("Retry-After"))
			assert.Empty(t, rec.Header().Get("Location"))
		})
	}
}

func TestPlaceOrderMapsFailedOrders(t *testing.T) {
	tests := []struct {
		reason     string
		wantStatus int
	}{
		{"out_of_stock", http.StatusConflict},
		{"unknown_product", http.StatusUnprocessableEntity},
		{"payment_declined", http.StatusPaymentRequired},
		{"dependency_unavailable", http.StatusServiceUnavailable},
		{"deadline_exceeded", http.StatusGatewayTimeout},
		{"internal", http.StatusInternalServerError},
		{"something_new", http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			orders := &fakeOrders{place: func(_ context.Context, req *ordersv1.PlaceOrderRequest) (*ordersv1.PlaceOrderResponse, error) {
				o := confirmedOrder(req)
				o.OrderId = "o-42"
				o.Status = ordersv1.OrderStatus_ORDER_STATUS_FAILED
				o.FailureReason = tt.reason
				o.ChargeId = ""
				return &ordersv1.PlaceOrderResponse{Order: o}, nil
			}}
			rec := serve(newTestServer(t, orders, &fakeCatalog{}, nil), placeRequest(t, validBody))
			p := requireProblem(t, rec, tt.wantStatus)
			assert.Equal(t, "o-42", p.OrderID)
			assert.Equal(t, tt.reason, p.Reason)
			assert.Equal(t, "/v1/orders/o-42", p.Instance)
			assert.Empty(t, rec.Header().Get("Location"), "a failed order is not created")
		})
	}
}

func TestProblemTypesAreDistinct(t *testing.T) {
	// Two different situations with one status must still be told apart by type.
	conflict := upstreamProblem(status.Error(codes.AlreadyExists, ""))
	inProgress := upstreamProblem(status.Error(codes.Aborted, ""))
	assert.Equal(t, conflict.Status, inProgress.Status)
	assert.NotEqual(t, conflict.Type, inProgress.Type)
	assert.NotEqual(t, overloadedProblem().Type, upstreamProblem(status.Error(codes.Unavailable, "")).Type)
}
