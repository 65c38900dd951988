// Package orders is the orders service: it places an order as a saga over
// inventory and payments (reserve stock, charge, persist CONFIRMED, commit the
// reservation) and compensates a failed step (release, refund) before
// persisting the order FAILED with its reason. Orders are idempotent by key and
// kept in SQLite; a saga interrupted by a crash or by a compensation that could
// not finish stays PENDING and is resumed later, every step being idempotent.
package orders

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
)

// tracerName names the tracer of the saga spans.
const tracerName = "github.com/chaoslab/chaoslab/services/orders"

// Limits of a valid request.
const (
	maxKeyLen   = 128
	maxItems    = 20
	maxQuantity = 100
)

// Service errors, mapped to transport codes by the server.
var (
	// ErrInvalidRequest: the request is malformed; the wrapping error says why.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrIdempotencyConflict: the key was already used with a different request.
	ErrIdempotencyConflict = errors.New("idempotency key already used with a different request")
	// ErrInProgress: the saga of this key is running; retry later with the same key.
	ErrInProgress = errors.New("order with this idempotency key is in progress")
	// ErrTooLittleTime: the request's deadline leaves less than
	// Options.MinDeadline; nothing was recorded, so a retry with the same key
	// and more time places the order.
	ErrTooLittleTime = errors.New("too little of the request's deadline left to place the order")
)

// stockClient is what the saga needs of inventory; the generated
// inventoryv1.InventoryServiceClient satisfies it.
type stockClient interface {
	Reserve(ctx context.Context, in *inventoryv1.ReserveRequest, opts ...grpc.CallOption) (*inventoryv1.ReserveResponse, error)
	Release(ctx context.Context, in *inventoryv1.ReleaseRequest, opts ...grpc.CallOption) (*inventoryv1.ReleaseResponse, error)
	Commit(ctx context.Context, in *inventoryv1.CommitRequest, opts ...grpc.CallOption) (*inventoryv1.CommitResponse, error)
}

// paymentsClient is what the saga needs of payments; the generated
// paymentsv1.PaymentsServiceClient satisfies it.
type paymentsClient interface {
	Charge(ctx context.Context, in *paymentsv1.ChargeRequest, opts ...grpc.CallOption) (*paymentsv1.ChargeResponse, error)
	Refund(ctx context.Context, in *paymentsv1.RefundRequest, opts ...grpc.CallOption) (*paymentsv1.RefundResponse, error)
}

// Options configures a Service. Zero values select the documented defaults.
type Options struct {
	// Logger receives the saga's log lines. Default: discards.
	Logger *slog.Logger
	// TracerProvider makes the saga spans. Default: no-op.
	TracerProvider trace.TracerProvider
	// Registerer receives the saga metrics. Default: a fresh registry.
	Registerer prometheus.Registerer
	// StepTimeout bounds each forward call (reserve, charge) on top of the
	// caller's deadline. Default: 5s.
	StepTimeout time.Duration
	// CompensationTimeout bounds each attempt of a compensating call, of the
	// final persist and of the commit, which all run detached from the
	// caller's cancellation. Default: 5s.
	CompensationTimeout time.Duration
	// CompensationAttempts is how many times such a call is tried while it
	// fails. Default: 3.
	CompensationAttempts int
	// CompensationBackoff is the wait after the first failed attempt; it
	// doubles after each further one. Default: 100ms.
	CompensationBackoff time.Duration
	// MinDeadline refuses a new order (ErrTooLittleTime) whose request has
	// less than this left of its deadline, before anything is recorded: a
	// request that waited out most of its deadline upstream (a gateway
	// holding it while orders restarted) would otherwise be stored FAILED
	// under its idempotency key, and every retry of that key would replay
	// the failure. Zero: no such check.
	MinDeadline time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Service places orders. It is safe for concurrent use.
type Service struct {
	store    *Store
	stock    stockClient
	payments paymentsClient

	log     *slog.Logger
	tracer  trace.Tracer
	metrics *metrics
	now     func() time.Time

	stepTimeout time.Duration
	compTimeout time.Duration
	compTries   int
	compBackoff time.Duration
	minDeadline time.Duration

	mu       sync.Mutex
	inFlight map[string]struct{} // idempotency keys whose saga runs now
}

// NewService returns a Service over store and the two dependencies. It fails
// when the metrics cannot be registered (e.g. registered twice).
func NewService(store *Store, stock stockClient, payments paymentsClient, opts Options) (*Service, error) {
	if store == nil || stock == nil || payments == nil {
		return nil, errors.New("creating orders service: store, stock and payments are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.TracerProvider == nil {
		opts.TracerProvider = noop.NewTracerProvider()
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.StepTimeout <= 0 {
		opts.StepTimeout = 5 * time.Second
	}
	if opts.CompensationTimeout <= 0 {
		opts.CompensationTimeout = 5 * time.Second
	}
	if opts.CompensationAttempts <= 0 {
		opts.CompensationAttempts = 3
	}
	if opts.CompensationBackoff <= 0 {
		opts.CompensationBackoff = 100 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("creating orders service: %w", err)
	}
	return &Service{
		store:       store,
		stock:       stock,
		payments:    payments,
		log:         opts.Logger,
		tracer:      opts.TracerProvider.Tracer(tracerName),
		metrics:     m,
		now:         opts.Now,
		stepTimeout: opts.StepTimeout,
		compTimeout: opts.CompensationTimeout,
		compTries:   opts.CompensationAttempts,
		compBackoff: opts.CompensationBackoff,
		minDeadline: opts.MinDeadline,
		inFlight:    make(map[string]struct{}),
	}, nil
}

// PlaceRequest is an order to place.
type PlaceRequest struct {
	IdempotencyKey string
	CustomerID     string
	// Items are the SKUs and quantities; unit prices are ignored (inventory
	// prices the reservation).
	Items []Item
	// PaymentMethod is passed to payments as is.
	PaymentMethod string
}

// validate reports the first malformed field, wrapped in ErrInvalidRequest.
func (r PlaceRequest) validate() error {
	switch {
	case r.IdempotencyKey == "" || len(r.IdempotencyKey) > maxKeyLen:
		return fmt.Errorf("%w: idempotency_key must be 1..%d characters, got %d", ErrInvalidRequest, maxKeyLen, len(r.IdempotencyKey))
	case r.CustomerID == "":
		return fmt.Errorf("%w: customer_id is required", ErrInvalidRequest)
	case len(r.Items) == 0 || len(r.Items) > maxItems:
		return fmt.Errorf("%w: items must hold 1..%d lines, got %d", ErrInvalidRequest, maxItems, len(r.Items))
	}
	for i, it := range r.Items {
		if it.SKU == "" {
			return fmt.Errorf("%w: items[%d].sku is required", ErrInvalidRequest, i)
		}
		if it.Quantity < 1 || it.Quantity > maxQuantity {
			return fmt.Errorf("%w: items[%d].quantity must be 1..%d, got %d", ErrInvalidRequest, i, maxQuantity, it.Quantity)
		}
	}
	return nil
}

// hash fingerprints what the request asks for: same customer, same lines in
// the same order, same payment method.
func (r PlaceRequest) hash() string {
	type line struct {
		SKU      string `json:"sku"`
		Quantity int32  `json:"quantity"`
	}
	v := struct {
		CustomerID    string `json:"customer_id"`
		Items         []line `json:"items"`
		PaymentMethod string `json:"payment_method"`
	}{CustomerID: r.CustomerID, PaymentMethod: r.PaymentMethod}
	for _, it := range r.Items {
		v.Items = append(v.Items, line{it.SKU, it.Quantity})
	}
	b, _ := json.Marshal(v) // strings and ints: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// PlaceOrder places an order, idempotently by its key. A business failure is
// a FAILED order, not an error. The returned order is PENDING only when a
// compensation could not finish: it is then resumed by a retry with the same
// key or by RecoverPending. Errors: ErrInvalidRequest, ErrIdempotencyConflict,
// ErrInProgress, or a storage error.
func (s *Service) PlaceOrder(ctx context.Context, req PlaceRequest) (*Order, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	if !s.acquire(req.IdempotencyKey) {
		return nil, ErrInProgress
	}
	defer s.release(req.IdempotencyKey)

	hash := req.hash()
	existing, err := s.store.GetByKey(ctx, req.IdempotencyKey)
	switch {
	case err == nil:
		return s.replay(ctx, existing, hash)
	case !errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("placing order: %w", err)
	}

	if err := s.checkDeadline(ctx); err != nil {
		return nil, err
	}
	id, err := newOrderID()
	if err != nil {
		return nil, fmt.Errorf("placing order: %w", err)
	}
	now := s.now()
	o := &Order{
		ID:             id,
		IdempotencyKey: req.IdempotencyKey,
		RequestHash:    hash,
		CustomerID:     req.CustomerID,
		PaymentMethod:  req.PaymentMethod,
		Status:         StatusPending,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	for _, it := range req.Items {
		o.Items = append(o.Items, Item{SKU: it.SKU, Quantity: it.Quantity})
	}
	if err := s.store.Insert(ctx, o); err != nil {
		if !errors.Is(err, ErrDuplicateKey) {
			return nil, fmt.Errorf("placing order: %w", err)
		}
		// Another process sharing the database won the race for this key.
		existing, err := s.store.GetByKey(ctx, req.IdempotencyKey)
		if err != nil {
			return nil, fmt.Errorf("placing order: %w", err)
		}
		return s.replay(ctx, existing, hash)
	}
	s.log.InfoContext(ctx, "placing order", "order_id", o.ID, "idempotency_key", o.IdempotencyKey, "customer_id", o.CustomerID)
	return s.run(ctx, o, true)
}

// checkDeadline refuses a new order whose request has less than
// s.minDeadline left of its deadline.
func (s *Service) checkDeadline(ctx context.Context) error {
	deadline, ok := ctx.Deadline()
	if !ok || s.minDeadline <= 0 {
		return nil
	}
	if left := time.Until(deadline); left < s.minDeadline {
		s.metrics.refused.WithLabelValues(refusedTooLittleTime).Inc()
		return fmt.Errorf("placing order: %w: %s left, %s needed", ErrTooLittleTime,
			max(left, 0).Round(time.Millisecond), s.minDeadline)
	}
	return nil
}

// replay answers a request whose key is already stored: the stored order when
// final, the resumed saga when a previous attempt left it PENDING.
func (s *Service) replay(ctx context.Context, o *Order, hash string) (*Order, error) {
	if o.RequestHash != hash {
		return nil, fmt.Errorf("placing order with key %q (order %s): %w", o.IdempotencyKey, o.ID, ErrIdempotencyConflict)
	}
	if o.Final() {
		return o, nil
	}
	s.log.InfoContext(ctx, "resuming pending order", "order_id", o.ID, "idempotency_key", o.IdempotencyKey)
	return s.resume(ctx, o)
}

// resume runs the saga of a PENDING order that no one is running and counts
// it as recovered when it reaches a final state.
func (s *Service) resume(ctx context.Context, o *Order) (*Order, error) {
	out, err := s.run(ctx, o, false)
	if err == nil && out.Final() {
		s.metrics.recovered.Inc()
	}
	return out, err
}

// GetOrder returns one order, or ErrNotFound.
func (s *Service) GetOrder(ctx context.Context, id string) (*Order, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: order_id is required", ErrInvalidRequest)
	}
	o, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("getting order: %w", err)
	}
	return o, nil
}

// ListOrders returns the orders in status, or every order when status is
// empty, oldest first.
func (s *Service) ListOrders(ctx context.Context, status Status) ([]*Order, error) {
	return s.store.List(ctx, status)
}

// RecoverPending resumes every PENDING order that is not running in this
// process, e.g. those left by a crash or by a compensation that could not
// finish. It returns how many reached a final state; the error joins the
// failures of those that did not. Safe to call at any time: every saga step
// is idempotent.
func (s *Service) RecoverPending(ctx context.Context) (int, error) {
	pending, err := s.store.List(ctx, StatusPending)
	if err != nil {
		return 0, fmt.Errorf("recovering pending orders: %w", err)
	}
	var (
		done int
		errs []error
	)
	for _, o := range pending {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		finished, err := s.recoverOne(ctx, o)
		if err != nil {
			errs = append(errs, err)
		}
		if finished {
			done++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return done, fmt.Errorf("recovering pending orders: %w", err)
	}
	return done, nil
}

func (s *Service) recoverOne(ctx context.Context, o *Order) (bool, error) {
	if !s.acquire(o.IdempotencyKey) {
		return false, nil // its saga is running: it will finish it
	}
	defer s.release(o.IdempotencyKey)
	// Re-read under the key: a request may have finished it since the listing.
	cur, err := s.store.Get(ctx, o.ID)
	if err != nil {
		return false, fmt.Errorf("recovering order %s: %w", o.ID, err)
	}
	if cur.Final() {
		return false, nil
	}
	ctx, span := s.tracer.Start(ctx, "saga.recover", trace.WithAttributes(orderAttrs(cur)...))
	defer span.End()
	s.log.InfoContext(ctx, "recovering pending order", "order_id", cur.ID, "idempotency_key", cur.IdempotencyKey)
	out, err := s.resume(ctx, cur)
	if err != nil {
		recordError(span, err)
		return false, fmt.Errorf("recovering order %s: %w", cur.ID, err)
	}
	if !out.Final() {
		err := fmt.Errorf("recovering order %s: compensation did not finish", cur.ID)
		recordError(span, err)
		return false, err
	}
	return true, nil
}

// RunRecovery calls RecoverPending every interval until ctx is done, so that
// orders whose compensation failed are finished without waiting for a
// restart. Failures are logged. It returns ctx's error.
func (s *Service) RunRecovery(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			n, err := s.RecoverPending(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "recovering pending orders", "recovered", n, "error", err)
			}
		}
	}
}

func (s *Service) acquire(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.inFlight[key]; busy {
		return false
	}
	s.inFlight[key] = struct{}{}
	return true
}

func (s *Service) release(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inFlight, key)
}

// newOrderID returns "ord_" and 16 random hex characters.
func newOrderID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating order id: %w", err)
	}
	return "ord_" + hex.EncodeToString(b[:]), nil
}
