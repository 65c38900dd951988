package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
)

// Test payment methods: the lab has no card network, a token decides.
const (
	// MethodOK is accepted; an empty payment method means MethodOK.
	MethodOK = "card_ok"
	// MethodDeclined is always declined.
	MethodDeclined = "card_declined"
)

// ErrDeclined means the payment method was declined; nothing was charged or stored.
var ErrDeclined = errors.New("payment method declined")

// Server implements paymentsv1.PaymentsServiceServer over a Store.
type Server struct {
	paymentsv1.UnimplementedPaymentsServiceServer
	store  *Store
	logger *slog.Logger
}

// NewServer returns a Server backed by store; logger records internal errors.
func NewServer(store *Store, logger *slog.Logger) *Server {
	return &Server{store: store, logger: logger}
}

// Charge captures the amount of an order, idempotently by idempotency key.
func (s *Server) Charge(ctx context.Context, req *paymentsv1.ChargeRequest) (*paymentsv1.ChargeResponse, error) {
	if err := validateCharge(req); err != nil {
		return nil, s.statusFromError(ctx, err)
	}
	if err := authorize(req.GetPaymentMethod()); err != nil {
		return nil, s.statusFromError(ctx, fmt.Errorf("charging order %q: %w", req.GetOrderId(), err))
	}
	c, err := s.store.Charge(ctx, req.GetIdempotencyKey(), req.GetOrderId(), req.GetAmountCents())
	if err != nil {
		return nil, s.statusFromError(ctx, err)
	}
	return &paymentsv1.ChargeResponse{Charge: chargeToProto(c)}, nil
}

// Refund gives back the money of a charge; unknown keys get a tombstone.
func (s *Server) Refund(ctx context.Context, req *paymentsv1.RefundRequest) (*paymentsv1.RefundResponse, error) {
	if err := validateKeyAndOrder(req.GetIdempotencyKey(), req.GetOrderId()); err != nil {
		return nil, s.statusFromError(ctx, err)
	}
	c, err := s.store.Refund(ctx, req.GetIdempotencyKey(), req.GetOrderId())
	if err != nil {
		return nil, s.statusFromError(ctx, err)
	}
	return &paymentsv1.RefundResponse{Charge: chargeToProto(c)}, nil
}

// ListCharges returns every charge, or those of one order.
func (s *Server) ListCharges(ctx context.Context, req *paymentsv1.ListChargesRequest) (*paymentsv1.ListChargesResponse, error) {
	charges, err := s.store.ListCharges(ctx, req.GetOrderId())
	if err != nil {
		return nil, s.statusFromError(ctx, err)
	}
	resp := &paymentsv1.ListChargesResponse{Charges: make([]*paymentsv1.Charge, 0, len(charges))}
	for _, c := range charges {
		resp.Charges = append(resp.Charges, chargeToProto(c))
	}
	return resp, nil
}

// statusFromError is the one place where errors become gRPC statuses.
// Unexpected errors are logged and reported as INTERNAL without detail.
func (s *Server) statusFromError(ctx context.Context, err error) error {
	var code codes.Code
	switch {
	case errors.Is(err, ErrInvalidArgument):
		code = codes.InvalidArgument
	case errors.Is(err, ErrDeclined), errors.Is(err, ErrVoided):
		code = codes.FailedPrecondition
	case errors.Is(err, ErrKeyConflict):
		code = codes.AlreadyExists
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	default:
		s.logger.ErrorContext(ctx, "payments request failed", "method", methodName(ctx), "err", err)
		return status.Error(codes.Internal, "internal error")
	}
	return status.Error(code, err.Error())
}

func methodName(ctx context.Context) string {
	m, _ := grpc.Method(ctx)
	return m
}

// authorize is the decline rule: MethodDeclined is declined, MethodOK (or
// nothing) accepted, and any other token is invalid.
func authorize(method string) error {
	switch method {
	case "", MethodOK:
		return nil
	case MethodDeclined:
		return ErrDeclined
	default:
		return fmt.Errorf("%w: unknown payment_method %q, use %q or %q", ErrInvalidArgument, method, MethodOK, MethodDeclined)
	}
}

func validateKeyAndOrder(key, orderID string) error {
	if key == "" {
		return fmt.Errorf("%w: idempotency_key is required", ErrInvalidArgument)
	}
	if orderID == "" {
		return fmt.Errorf("%w: key %q: order_id is required", ErrInvalidArgument, key)
	}
	return nil
}

func validateCharge(req *paymentsv1.ChargeRequest) error {
	if err := validateKeyAndOrder(req.GetIdempotencyKey(), req.GetOrderId()); err != nil {
		return err
	}
	if req.GetAmountCents() <= 0 {
		return fmt.Errorf("%w: order %q: amount_cents %d must be positive", ErrInvalidArgument, req.GetOrderId(), req.GetAmountCents())
	}
	return nil
}

func chargeToProto(c Charge) *paymentsv1.Charge {
	return &paymentsv1.Charge{
		ChargeId:       c.ID,
		IdempotencyKey: c.IdempotencyKey,
		OrderId:        c.OrderID,
		AmountCents:    c.AmountCents,
		State:          stateToProto(c.State),
		CreatedAt:      timestamppb.New(c.CreatedAt),
		UpdatedAt:      timestamppb.New(c.UpdatedAt),
	}
}

func stateToProto(s ChargeState) paymentsv1.ChargeState {
	switch s {
	case Captured:
		return paymentsv1.ChargeState_CHARGE_STATE_CAPTURED
	case Refunded:
		return paymentsv1.ChargeState_CHARGE_STATE_REFUNDED
	case Voided:
		return paymentsv1.ChargeState_CHARGE_STATE_VOIDED
	default:
		return paymentsv1.ChargeState_CHARGE_STATE_UNSPECIFIED
	}
}
