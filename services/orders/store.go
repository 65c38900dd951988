package orders

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/chaoslab/chaoslab/services/internal/sqlitedb"
)

// Status is the lifecycle state of an order.
type Status string

const (
	// StatusPending: the saga has started and not finished. A pending order
	// with a FailureReason is being compensated.
	StatusPending Status = "PENDING"
	// StatusConfirmed: stock reserved and payment captured.
	StatusConfirmed Status = "CONFIRMED"
	// StatusFailed: the saga failed and every step it took was compensated.
	StatusFailed Status = "FAILED"
)

// Failure reasons recorded on FAILED orders (the values of the proto contract).
const (
	ReasonOutOfStock            = "out_of_stock"
	ReasonUnknownProduct        = "unknown_product"
	ReasonPaymentDeclined       = "payment_declined"
	ReasonDependencyUnavailable = "dependency_unavailable"
	ReasonDeadlineExceeded      = "deadline_exceeded"
	ReasonInternal              = "internal"
)

// Item is one line of an order. UnitPriceCents is zero until inventory has
// priced the reservation.
type Item struct {
	SKU            string `json:"sku"`
	Quantity       int32  `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

// Order is an order as stored.
type Order struct {
	ID             string
	IdempotencyKey string
	// RequestHash fingerprints the request (customer, items, payment method)
	// so that a reused key with a different request is detected.
	RequestHash   string
	CustomerID    string
	Items         []Item
	PaymentMethod string
	TotalCents    int64
	Status        Status
	// FailureReason is set on FAILED orders, and on PENDING orders whose
	// compensation has started but not finished.
	FailureReason string
	// NeedsRefund tells a compensating order that its charge outcome is
	// uncertain, so compensation must refund as well as release.
	NeedsRefund bool
	ChargeID    string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Final reports whether the order has reached CONFIRMED or FAILED.
func (o *Order) Final() bool { return o.Status == StatusConfirmed || o.Status == StatusFailed }

// clone returns a deep copy, so that callers never share Items.
func (o *Order) clone() *Order {
	c := *o
	c.Items = append([]Item(nil), o.Items...)
	return &c
}

// Store errors.
var (
	// ErrNotFound: no order with that id or key.
	ErrNotFound = errors.New("order not found")
	// ErrDuplicateKey: an order with that idempotency key already exists.
	ErrDuplicateKey = errors.New("idempotency key already used")
	// ErrNotPending: the order is already final and cannot change any more.
	ErrNotPending = errors.New("order is no longer pending")
)

const schema = `CREATE TABLE IF NOT EXISTS orders (
	order_id        TEXT PRIMARY KEY,
	idempotency_key TEXT NOT NULL UNIQUE,
	request_hash    TEXT NOT NULL,
	customer_id     TEXT NOT NULL,
	items           TEXT NOT NULL,
	payment_method  TEXT NOT NULL,
	total_cents     INTEGER NOT NULL DEFAULT 0,
	status          TEXT NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'FAILED')),
	failure_reason  TEXT NOT NULL DEFAULT '',
	needs_refund    INTEGER NOT NULL DEFAULT 0,
	charge_id       TEXT NOT NULL DEFAULT '',
	created_at      TEXT NOT NULL,
	updated_at      TEXT NOT NULL
)`

const pendingIndex = `CREATE INDEX IF NOT EXISTS orders_status ON orders (status)`

// timeLayout is fixed-width so that stored timestamps sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Store keeps orders in the service's SQLite database.
type Store struct {
	db *sql.DB
	// propagator writes the trace context into an event's headers.
	propagator propagation.TextMapPropagator
}

// OpenStore opens (creating if needed) the orders database at path.
func OpenStore(ctx context.Context, path string) (*Store, error) {
	db, err := sqlitedb.Open(ctx, path, schema, pendingIndex, outboxSchema)
	if err != nil {
		return nil, fmt.Errorf("opening orders store: %w", err)
	}
	return &Store{db: db, propagator: propagation.TraceContext{}}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Insert stores a new order. It returns ErrDuplicateKey when an order with the
// same idempotency key exists.
func (s *Store) Insert(ctx context.Context, o *Order) error {
	items, err := json.Marshal(o.Items)
	if err != nil {
		return fmt.Errorf("inserting order %s: encoding items: %w", o.ID, err)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO orders
		(order_id, idempotency_key, request_hash, customer_id, items, payment_method,
		 total_cents, status, failure_reason, needs_refund, charge_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (idempotency_key) DO NOTHING`,
		o.ID, o.IdempotencyKey, o.RequestHash, o.CustomerID, string(items), o.PaymentMethod,
		o.TotalCents, string(o.Status), o.FailureReason, o.NeedsRefund, o.ChargeID,
		formatTime(o.CreatedAt), formatTime(o.UpdatedAt))
	if err != nil {
		return fmt.Errorf("inserting order %s: %w", o.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("inserting order %s: %w", o.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("inserting order %s with key %q: %w", o.ID, o.IdempotencyKey, ErrDuplicateKey)
	}
	return nil
}

// Update writes the mutable fields of a PENDING order (items, total, status,
// failure reason, refund flag, charge id, updated_at). Final orders never
// change: updating one returns ErrNotPending.
//
// An update to CONFIRMED also writes the order's OrderConfirmed event into
// the outbox, in the same transaction: the order is confirmed with its event
// or not at all, and the relay publishes the event later (at least once).
// The event carries the trace context of ctx (W3C traceparent).
func (s *Store) Update(ctx context.Context, o *Order) error {
	items, err := json.Marshal(o.Items)
	if err != nil {
		return fmt.Errorf("updating order %s: encoding items: %w", o.ID, err)
	}
	var n int64
	err = sqlitedb.InTx(ctx, s.db, "updating order "+o.ID, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE orders SET
			items = ?, total_cents = ?, status = ?, failure_reason = ?, needs_refund = ?,
			charge_id = ?, updated_at = ?
			WHERE order_id = ? AND status = 'PENDING'`,
			string(items), o.TotalCents, string(o.Status), o.FailureReason, o.NeedsRefund,
			o.ChargeID, formatTime(o.UpdatedAt), o.ID)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if n == 1 && o.Status == StatusConfirmed {
			return s.insertEvent(ctx, tx, o)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		if _, err := s.Get(ctx, o.ID); err != nil {
			return fmt.Errorf("updating order: %w", err)
		}
		return fmt.Errorf("updating order %s: %w", o.ID, ErrNotPending)
	}
	return nil
}

const selectOrder = `SELECT order_id, idempotency_key, request_hash, customer_id, items,
	payment_method, total_cents, status, failure_reason, needs_refund, charge_id,
	created_at, updated_at FROM orders`

// Get returns the order with id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Order, error) {
	o, err := scanOrder(s.db.QueryRowContext(ctx, selectOrder+` WHERE order_id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("getting order %s: %w", id, err)
	}
	return o, nil
}

// GetByKey returns the order placed with idempotency key, or ErrNotFound.
func (s *Store) GetByKey(ctx context.Context, key string) (*Order, error) {
	o, err := scanOrder(s.db.QueryRowContext(ctx, selectOrder+` WHERE idempotency_key = ?`, key))
	if err != nil {
		return nil, fmt.Errorf("getting order by key %q: %w", key, err)
	}
	return o, nil
}

// List returns the orders in status, or every order when status is empty,
// oldest first.
func (s *Store) List(ctx context.Context, status Status) ([]*Order, error) {
	query, args := selectOrder+` ORDER BY created_at, order_id`, []any(nil)
	if status != "" {
		query, args = selectOrder+` WHERE status = ? ORDER BY created_at, order_id`, []any{string(status)}
	}
	orders, err := s.list(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("listing orders: %w", err)
	}
	return orders, nil
}

func (s *Store) list(ctx context.Context, query string, args ...any) ([]*Order, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var orders []*Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, err
		}
		orders = append(orders, o)
	}
	return orders, rows.Err()
}

type scanner interface {
	Scan(dest ...any) error
}

func scanOrder(row scanner) (*Order, error) {
	var (
		o                Order
		items, status    string
		created, updated string
		needsRefund      bool
	)
	err := row.Scan(&o.ID, &o.IdempotencyKey, &o.RequestHash, &o.CustomerID, &items,
		&o.PaymentMethod, &o.TotalCents, &status, &o.FailureReason, &needsRefund, &o.ChargeID,
		&created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(items), &o.Items); err != nil {
		return nil, fmt.Errorf("decoding items of order %s: %w", o.ID, err)
	}
	o.Status = Status(status)
	o.NeedsRefund = needsRefund
	if o.CreatedAt, err = time.Parse(timeLayout, created); err != nil {
		return nil, fmt.Errorf("decoding created_at of order %s: %w", o.ID, err)
	}
	if o.UpdatedAt, err = time.Parse(timeLayout, updated); err != nil {
		return nil, fmt.Errorf("decoding updated_at of order %s: %w", o.ID, err)
	}
	return &o, nil
}

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }
