package orders

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
)

// Server implements ordersv1.OrdersServiceServer over a Service.
type Server struct {
	ordersv1.UnimplementedOrdersServiceServer
	svc *Service
}

// NewServer returns the gRPC implementation of the orders service.
func NewServer(svc *Service) *Server { return &Server{svc: svc} }

// PlaceOrder runs the saga of the request; see Service.PlaceOrder.
func (s *Server) PlaceOrder(ctx context.Context, req *ordersv1.PlaceOrderRequest) (*ordersv1.PlaceOrderResponse, error) {
	preq := PlaceRequest{
		IdempotencyKey: req.GetIdempotencyKey(),
		CustomerID:     req.GetCustomerId(),
		PaymentMethod:  req.GetPaymentMethod(),
	}
	for _, it := range req.GetItems() {
		preq.Items = append(preq.Items, Item{SKU: it.GetSku(), Quantity: it.GetQuantity()})
	}
	o, err := s.svc.PlaceOrder(ctx, preq)
	if err != nil {
		return nil, grpcError(err)
	}
	return &ordersv1.PlaceOrderResponse{Order: toProto(o)}, nil
}

// GetOrder returns one order; NOT_FOUND when unknown.
func (s *Server) GetOrder(ctx context.Context, req *ordersv1.GetOrderRequest) (*ordersv1.Order, error) {
	o, err := s.svc.GetOrder(ctx, req.GetOrderId())
	if err != nil {
		return nil, grpcError(err)
	}
	return toProto(o), nil
}

// ListOrders returns every order, or those in the requested status, oldest
// first.
func (s *Server) ListOrders(ctx context.Context, req *ordersv1.ListOrdersRequest) (*ordersv1.ListOrdersResponse, error) {
	var st Status
	if req.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_UNSPECIFIED {
		var ok bool
		if st, ok = statusOf(req.GetStatus()); !ok {
			return nil, grpcError(fmt.Errorf("%w: unknown status %d", ErrInvalidRequest, req.GetStatus()))
		}
	}
	orders, err := s.svc.ListOrders(ctx, st)
	if err != nil {
		return nil, grpcError(err)
	}
	resp := &ordersv1.ListOrdersResponse{Orders: make([]*ordersv1.Order, 0, len(orders))}
	for _, o := range orders {
		resp.Orders = append(resp.Orders, toProto(o))
	}
	return resp, nil
}

// grpcError is the one place where the service's errors become gRPC codes.
func grpcError(err error) error {
	var code codes.Code
	switch {
	case errors.Is(err, ErrInvalidRequest):
		code = codes.InvalidArgument
	case errors.Is(err, ErrIdempotencyConflict):
		code = codes.AlreadyExists
	case errors.Is(err, ErrInProgress):
		code = codes.Aborted
	case errors.Is(err, ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, ErrTooLittleTime), errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	default:
		code = codes.Internal
	}
	return status.Error(code, err.Error())
}

// statusOf is the Status of a proto status; false for UNSPECIFIED and
// values this version does not know.
func statusOf(st ordersv1.OrderStatus) (Status, bool) {
	for _, s := range []Status{StatusPending, StatusConfirmed, StatusFailed} {
		if protoStatus(s) == st {
			return s, true
		}
	}
	return "", false
}

func protoStatus(st Status) ordersv1.OrderStatus {
	switch st {
	case StatusPending:
		return ordersv1.OrderStatus_ORDER_STATUS_PENDING
	case StatusConfirmed:
		return ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED
	case StatusFailed:
		return ordersv1.OrderStatus_ORDER_STATUS_FAILED
	default:
		return ordersv1.OrderStatus_ORDER_STATUS_UNSPECIFIED
	}
}

func toProto(o *Order) *ordersv1.Order {
	p := &ordersv1.Order{
		OrderId:        o.ID,
		IdempotencyKey: o.IdempotencyKey,
		CustomerId:     o.CustomerID,
		TotalCents:     o.TotalCents,
		Status:         protoStatus(o.Status),
		ChargeId:       o.ChargeID,
		CreatedAt:      timestamppb.New(o.CreatedAt),
		UpdatedAt:      timestamppb.New(o.UpdatedAt),
	}
	if o.Status == StatusFailed {
		// A pending order may carry the reason it is being compensated for;
		// the contract shows a reason on FAILED orders only.
		p.FailureReason = o.FailureReason
	}
	for _, it := range o.Items {
		p.Items = append(p.Items, &ordersv1.LineItem{Sku: it.SKU, Quantity: it.Quantity, UnitPriceCents: it.UnitPriceCents})
	}
	return p
}
