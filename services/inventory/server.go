package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
)

// Request limits enforced by the server.
const (
	// MaxItems is the largest number of items in one reservation.
	MaxItems = 50
	// MaxQuantity is the largest quantity of one item.
	MaxQuantity = 1000
)

// Server implements inventoryv1.InventoryServiceServer over a Store.
type Server struct {
	inventoryv1.UnimplementedInventoryServiceServer
	store  *Store
	logger *slog.Logger
}

// NewServer returns a Server backed by store; logger records internal errors.
func NewServer(store *Store, logger *slog.Logger) *Server {
	return &Server{store: store, logger: logger}
}

// ListProducts returns the catalog with current stock levels.
func (s *Server) ListProducts(ctx context.Context, _ *inventoryv1.ListProductsRequest) (*inventoryv1.ListProductsResponse, error) {
	products, err := s.store.ListProducts(ctx)
	if err != nil {
		return nil, s.statusFromError(ctx, err)
	}
	resp := &inventoryv1.ListProductsResponse{Products: make([]*inventoryv1.Product, 0, len(products))}
	for _, p := range products {
		resp.Products = append(resp.Products, &inventoryv1.Product{
			Sku: p.SKU, Name: p.Name, PriceCents: p.PriceCents, Available: p.Available, Reserved: p.Reserved,
		})
	}
	return resp, nil
}

// Reserve takes stock for every item of a reservation, all or nothing.
func (s *Server) Reserve(ctx context.Context, req *inventoryv1.ReserveRequest) (*inventoryv1.ReserveResponse, error) {
	if err := validateReserve(req); err != nil {
		return nil, s.statusFromError(ctx, err)
	}
	items := make([]Item, 0, len(req.GetItems()))
	for _, it := range req.GetItems() {
		items = append(items, Item{SKU: it.GetSku(), Quantity: it.GetQuantity()}) // the price is ours to set
	}
	r, err := s.store.Reserve(ctx, req.GetReservationId(), items)
	if err != nil {
		return nil, s.statusFromError(ctx, err)
	}
	return &inventoryv1.ReserveResponse{Reservation: reservationToProto(r)}, nil
}

// Release gives reserved stock back; unknown ids get a tombstone.
func (s *Server) Release(ctx context.Context, req *inventoryv1.ReleaseRequest) (*inventoryv1.ReleaseResponse, error) {
	if err := validateID(req.GetReservationId()); err != nil {
		return nil, s.statusFromError(ctx, err)
	}
	r, err := s.store.Release(ctx, req.GetReservationId())
	if err != nil {
		return nil, s.statusFromError(ctx, err)
	}
	return &inventoryv1.ReleaseResponse{Reservation: reservationToProto(r)}, nil
}

// Commit makes a reservation final.
func (s *Server) Commit(ctx context.Context, req *inventoryv1.CommitRequest) (*inventoryv1.CommitResponse, error) {
	if err := validateID(req.GetReservationId()); err != nil {
		return nil, s.statusFromError(ctx, err)
	}
	r, err := s.store.Commit(ctx, req.GetReservationId())
	if err != nil {
		return nil, s.statusFromError(ctx, err)
	}
	return &inventoryv1.CommitResponse{Reservation: reservationToProto(r)}, nil
}

// GetReservation returns one reservation.
func (s *Server) GetReservation(ctx context.Context, req *inventoryv1.GetReservationRequest) (*inventoryv1.Reservation, error) {
	if err := validateID(req.GetReservationId()); err != nil {
		return nil, s.statusFromError(ctx, err)
	}
	r, err := s.store.GetReservation(ctx, req.GetReservationId())
	if err != nil {
		return nil, s.statusFromError(ctx, err)
	}
	return reservationToProto(r), nil
}

// ListReservations returns every reservation.
func (s *Server) ListReservations(ctx context.Context, _ *inventoryv1.ListReservationsRequest) (*inventoryv1.ListReservationsResponse, error) {
	list, err := s.store.ListReservations(ctx)
	if err != nil {
		return nil, s.statusFromError(ctx, err)
	}
	resp := &inventoryv1.ListReservationsResponse{Reservations: make([]*inventoryv1.Reservation, 0, len(list))}
	for _, r := range list {
		resp.Reservations = append(resp.Reservations, reservationToProto(r))
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
	case errors.Is(err, ErrUnknownProduct), errors.Is(err, ErrReservationNotFound):
		code = codes.NotFound
	case errors.Is(err, ErrInsufficientStock),
		errors.Is(err, ErrReservationReleased),
		errors.Is(err, ErrReservationCommitted):
		code = codes.FailedPrecondition
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	default:
		s.logger.ErrorContext(ctx, "inventory request failed", "method", methodName(ctx), "err", err)
		return status.Error(codes.Internal, "internal error")
	}
	return status.Error(code, err.Error())
}

func methodName(ctx context.Context) string {
	m, _ := grpc.Method(ctx)
	return m
}

func validateID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: reservation_id is required", ErrInvalidArgument)
	}
	return nil
}

func validateReserve(req *inventoryv1.ReserveRequest) error {
	if err := validateID(req.GetReservationId()); err != nil {
		return err
	}
	items := req.GetItems()
	if len(items) == 0 {
		return fmt.Errorf("%w: reservation %q: at least one item is required", ErrInvalidArgument, req.GetReservationId())
	}
	if len(items) > MaxItems {
		return fmt.Errorf("%w: reservation %q: %d items, at most %d allowed", ErrInvalidArgument, req.GetReservationId(), len(items), MaxItems)
	}
	for i, it := range items {
		if it.GetSku() == "" {
			return fmt.Errorf("%w: reservation %q: item %d: sku is required", ErrInvalidArgument, req.GetReservationId(), i)
		}
		if q := it.GetQuantity(); q <= 0 || q > MaxQuantity {
			return fmt.Errorf("%w: reservation %q: item %d (sku %q): quantity %d must be between 1 and %d",
				ErrInvalidArgument, req.GetReservationId(), i, it.GetSku(), q, MaxQuantity)
		}
	}
	return nil
}

func reservationToProto(r Reservation) *inventoryv1.Reservation {
	pb := &inventoryv1.Reservation{
		ReservationId: r.ID,
		State:         stateToProto(r.State),
		TotalCents:    r.TotalCents,
		Items:         make([]*inventoryv1.Item, 0, len(r.Items)),
	}
	for _, it := range r.Items {
		pb.Items = append(pb.Items, &inventoryv1.Item{Sku: it.SKU, Quantity: it.Quantity, PriceCents: it.PriceCents})
	}
	return pb
}

func stateToProto(s ReservationState) inventoryv1.ReservationState {
	switch s {
	case Reserved:
		return inventoryv1.ReservationState_RESERVATION_STATE_RESERVED
	case Released:
		return inventoryv1.ReservationState_RESERVATION_STATE_RELEASED
	case Committed:
		return inventoryv1.ReservationState_RESERVATION_STATE_COMMITTED
	default:
		return inventoryv1.ReservationState_RESERVATION_STATE_UNSPECIFIED
	}
}
