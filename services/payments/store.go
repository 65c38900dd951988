// Package payments is the payment service of the shop: it charges and refunds
// orders, keeps the charges in the service's own SQLite database and serves
// them over gRPC (payments.v1.PaymentsService).
//
// Every charge is keyed by the caller's idempotency key, so a retried call
// never charges or refunds twice:
//
//	Charge  (none)    → CAPTURED   a new charge id
//	Charge  CAPTURED  → as is      same order and amount, else ErrKeyConflict
//	Refund  CAPTURED  → REFUNDED
//	Refund  (none)    → VOIDED     tombstone of amount 0: a late Charge fails with ErrVoided
package payments

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/chaoslab/chaoslab/services/internal/sqlitedb"
)

// Sentinel errors of the store, wrapped with detail; test with errors.Is.
var (
	// ErrKeyConflict means the idempotency key was already used for another order or amount.
	ErrKeyConflict = errors.New("idempotency key already used for another charge")
	// ErrVoided means the key was refunded before it was ever charged, so it can no longer charge.
	ErrVoided = errors.New("idempotency key voided by an earlier refund")
	// ErrInvalidArgument means the caller passed a malformed request.
	ErrInvalidArgument = errors.New("invalid argument")
)

// ChargeState is the lifecycle state of a charge.
type ChargeState string

// The states of a charge.
const (
	// Captured means the money was taken.
	Captured ChargeState = "CAPTURED"
	// Refunded means the money was given back.
	Refunded ChargeState = "REFUNDED"
	// Voided marks a key refunded before it was ever charged (a tombstone, amount 0).
	Voided ChargeState = "VOIDED"
)

// Charge is the money taken (or not) for one idempotency key.
type Charge struct {
	ID             string
	IdempotencyKey string
	OrderID        string
	AmountCents    int64
	State          ChargeState
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

var schema = []string{
	`CREATE TABLE IF NOT EXISTS charges (
		idempotency_key TEXT PRIMARY KEY,
		charge_id       TEXT NOT NULL UNIQUE,
		order_id        TEXT NOT NULL,
		amount_cents    INTEGER NOT NULL CHECK (amount_cents >= 0),
		state           TEXT NOT NULL CHECK (state IN ('CAPTURED', 'REFUNDED', 'VOIDED')),
		created_at      TEXT NOT NULL,
		updated_at      TEXT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS charges_by_order ON charges (order_id)`,
}

// timeLayout is fixed-width so that stored timestamps sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

const chargeColumns = `charge_id, idempotency_key, order_id, amount_cents, state, created_at, updated_at`

// Store keeps charges in SQLite. It is safe for concurrent use: every
// mutation runs in one immediate (write-locking) transaction.
type Store struct {
	db *sql.DB
}

// OpenStore opens (creating if needed) the database at path.
func OpenStore(ctx context.Context, path string) (*Store, error) {
	db, err := sqlitedb.Open(ctx, path, schema...)
	if err != nil {
		return nil, fmt.Errorf("opening payments store: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return s.db.Close()
}

// Charge captures amountCents for orderID under key. If key was used before,
// the existing Captured or Refunded charge is returned as is when its order
// and amount match (ErrKeyConflict otherwise), and a Voided key fails with
// ErrVoided. Nothing checks a payment method here: that rule is the server's.
func (s *Store) Charge(ctx context.Context, key, orderID string, amountCents int64) (Charge, error) {
	var c Charge
	err := s.inTx(ctx, fmt.Sprintf("charging key %q", key), func(tx *sql.Tx) error {
		if key == "" || orderID == "" || amountCents <= 0 {
			return fmt.Errorf("%w: need an idempotency key, an order id and a positive amount (got %d)",
				ErrInvalidArgument, amountCents)
		}
		var err error
		c, err = getCharge(ctx, tx, key)
		switch {
		case err == nil && c.State == Voided:
			return ErrVoided
		case err == nil && (c.OrderID != orderID || c.AmountCents != amountCents):
			return fmt.Errorf("%w: it charged order %q %d cents, not order %q %d cents",
				ErrKeyConflict, c.OrderID, c.AmountCents, orderID, amountCents)
		case err == nil:
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		c, err = insertCharge(ctx, tx, key, orderID, amountCents, Captured)
		return err
	})
	if err != nil {
		return Charge{}, err
	}
	return c, nil
}

// Refund gives back the money of the charge made with key. A Refunded or
// Voided charge is returned as is. An unknown key records a Voided tombstone
// of amount 0 for orderID, so that a late Charge with that key fails. A key
// that belongs to another order fails with ErrKeyConflict.
func (s *Store) Refund(ctx context.Context, key, orderID string) (Charge, error) {
	var c Charge
	err := s.inTx(ctx, fmt.Sprintf("refunding key %q", key), func(tx *sql.Tx) error {
		if key == "" || orderID == "" {
			return fmt.Errorf("%w: need an idempotency key and an order id", ErrInvalidArgument)
		}
		var err error
		c, err = getCharge(ctx, tx, key)
		if errors.Is(err, sql.ErrNoRows) {
			c, err = insertCharge(ctx, tx, key, orderID, 0, Voided)
			return err
		}
		if err != nil {
			return err
		}
		if c.OrderID != orderID {
			return fmt.Errorf("%w: it belongs to order %q, not %q", ErrKeyConflict, c.OrderID, orderID)
		}
		if c.State != Captured {
			return nil
		}
		c.State, c.UpdatedAt = Refunded, now()
		if _, err := tx.ExecContext(ctx,
			`UPDATE charges SET state = ?, updated_at = ? WHERE idempotency_key = ?`,
			c.State, c.UpdatedAt.Format(timeLayout), key); err != nil {
			return fmt.Errorf("marking refunded: %w", err)
		}
		return nil
	})
	if err != nil {
		return Charge{}, err
	}
	return c, nil
}

// ListCharges returns the charges of orderID, or every charge when orderID is
// empty, oldest first.
func (s *Store) ListCharges(ctx context.Context, orderID string) ([]Charge, error) {
	query := `SELECT ` + chargeColumns + ` FROM charges`
	var args []any
	if orderID != "" {
		query += ` WHERE order_id = ?`
		args = append(args, orderID)
	}
	query += ` ORDER BY created_at, idempotency_key`
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("listing charges: %w", err)
	}
	defer rows.Close()
	var charges []Charge
	for rows.Next() {
		c, err := scanCharge(rows)
		if err != nil {
			return nil, fmt.Errorf("listing charges: %w", err)
		}
		charges = append(charges, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing charges: %w", err)
	}
	return charges, nil
}

// inTx runs fn in one serialised transaction (sqlitedb.InTx).
func (s *Store) inTx(ctx context.Context, what string, fn func(*sql.Tx) error) error {
	return sqlitedb.InTx(ctx, s.db, what, fn)
}

// getCharge reads the charge of key; sql.ErrNoRows when there is none.
func getCharge(ctx context.Context, tx *sql.Tx, key string) (Charge, error) {
	row := tx.QueryRowContext(ctx, `SELECT `+chargeColumns+` FROM charges WHERE idempotency_key = ?`, key)
	c, err := scanCharge(row)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Charge{}, fmt.Errorf("reading charge: %w", err)
	}
	return c, err
}

func insertCharge(ctx context.Context, tx *sql.Tx, key, orderID string, amountCents int64, state ChargeState) (Charge, error) {
	t := now()
	c := Charge{
		ID:             newChargeID(),
		IdempotencyKey: key,
		OrderID:        orderID,
		AmountCents:    amountCents,
		State:          state,
		CreatedAt:      t,
		UpdatedAt:      t,
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO charges (`+chargeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.IdempotencyKey, c.OrderID, c.AmountCents, c.State, t.Format(timeLayout), t.Format(timeLayout))
	if err != nil {
		return Charge{}, fmt.Errorf("recording %s charge: %w", state, err)
	}
	return c, nil
}

func scanCharge(row interface{ Scan(...any) error }) (Charge, error) {
	var c Charge
	var created, updated string
	if err := row.Scan(&c.ID, &c.IdempotencyKey, &c.OrderID, &c.AmountCents, &c.State, &created, &updated); err != nil {
		return Charge{}, err
	}
	var err error
	if c.CreatedAt, err = time.Parse(timeLayout, created); err != nil {
		return Charge{}, fmt.Errorf("charge %s: created_at: %w", c.ID, err)
	}
	if c.UpdatedAt, err = time.Parse(timeLayout, updated); err != nil {
		return Charge{}, fmt.Errorf("charge %s: updated_at: %w", c.ID, err)
	}
	return c, nil
}

// now is the current time as the store keeps it: UTC, no monotonic reading,
// so that a returned Charge equals the same Charge read back.
func now() time.Time {
	return time.Now().UTC().Round(0)
}

// newChargeID returns "ch_" and 16 random hex digits.
func newChargeID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand crashes the program instead
	return "ch_" + hex.EncodeToString(b[:])
}
