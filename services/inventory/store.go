// Package inventory is the stock service of the shop: a catalog of products
// and reservations of their stock for orders, kept in the service's own SQLite
// database and served over gRPC (inventory.v1.InventoryService).
//
// Stock never goes negative, and every mutation is idempotent by its
// reservation id so that callers may retry freely:
//
//	Reserve  (none)     → RESERVED   available -= q, reserved += q
//	Release  RESERVED   → RELEASED   available += q, reserved -= q
//	Release  (none)     → RELEASED   tombstone without items: a late Reserve fails
//	Commit   RESERVED   → COMMITTED  reserved -= q (the stock has left)
package inventory

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/chaoslab/chaoslab/services/internal/sqlitedb"
)

// Sentinel errors of the store. They are wrapped with detail (which SKU, which
// reservation); test for them with errors.Is.
var (
	// ErrInsufficientStock means a product has fewer units available than requested.
	ErrInsufficientStock = errors.New("insufficient stock")
	// ErrUnknownProduct means a SKU is not in the catalog.
	ErrUnknownProduct = errors.New("unknown product")
	// ErrReservationReleased means the reservation was released (possibly as a
	// tombstone, before it ever existed) and can no longer be reserved or committed.
	ErrReservationReleased = errors.New("reservation already released")
	// ErrReservationCommitted means the reservation was committed and can no longer be released.
	ErrReservationCommitted = errors.New("reservation already committed")
	// ErrReservationNotFound means no reservation has that id.
	ErrReservationNotFound = errors.New("reservation not found")
	// ErrInvalidArgument means the caller passed a malformed request.
	ErrInvalidArgument = errors.New("invalid argument")
)

// ReservationState is the lifecycle state of a reservation.
type ReservationState string

// The states of a reservation.
const (
	// Reserved holds stock for an order that is still in progress.
	Reserved ReservationState = "RESERVED"
	// Released gave its stock back (or is a tombstone that never held any).
	Released ReservationState = "RELEASED"
	// Committed is final: its stock has left the warehouse.
	Committed ReservationState = "COMMITTED"
)

// Product is a catalog entry with its stock levels.
type Product struct {
	SKU        string
	Name       string
	PriceCents int64
	// Available is the stock that can still be reserved.
	Available int64
	// Reserved is the stock held by reservations in state Reserved.
	Reserved int64
}

// Item is one line of a reservation.
type Item struct {
	SKU      string
	Quantity int32
	// PriceCents is the unit price at reservation time, set by the store.
	PriceCents int64
}

// Reservation is stock held for one order.
type Reservation struct {
	ID    string
	Items []Item
	State ReservationState
	// TotalCents is the sum of Quantity * PriceCents over Items.
	TotalCents int64
}

var schema = []string{
	`CREATE TABLE IF NOT EXISTS products (
		sku         TEXT PRIMARY KEY,
		name        TEXT NOT NULL,
		price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
		available   INTEGER NOT NULL CHECK (available >= 0),
		reserved    INTEGER NOT NULL CHECK (reserved >= 0)
	)`,
	`CREATE TABLE IF NOT EXISTS reservations (
		id          TEXT PRIMARY KEY,
		state       TEXT NOT NULL CHECK (state IN ('RESERVED', 'RELEASED', 'COMMITTED')),
		total_cents INTEGER NOT NULL,
		created_at  TEXT NOT NULL,
		updated_at  TEXT NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS reservation_items (
		reservation_id TEXT NOT NULL REFERENCES reservations (id),
		sku            TEXT NOT NULL REFERENCES products (sku),
		quantity       INTEGER NOT NULL CHECK (quantity > 0),
		price_cents    INTEGER NOT NULL,
		PRIMARY KEY (reservation_id, sku)
	)`,
}

// timeLayout is fixed-width so that stored timestamps sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Store keeps products and reservations in SQLite. It is safe for concurrent
// use: every mutation runs in one immediate (write-locking) transaction.
type Store struct {
	db *sql.DB
}

// OpenStore opens (creating if needed) the database at path.
func OpenStore(ctx context.Context, path string) (*Store, error) {
	db, err := sqlitedb.Open(ctx, path, schema...)
	if err != nil {
		return nil, fmt.Errorf("opening inventory store: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return s.db.Close()
}

// Seed inserts the products whose SKU is not in the catalog yet. Existing
// products, and their stock, are never overwritten, so seeding on every start
// is safe. Product.Reserved is ignored: a new product has nothing reserved.
func (s *Store) Seed(ctx context.Context, products []Product) error {
	return s.inTx(ctx, "seeding products", func(tx *sql.Tx) error {
		for _, p := range products {
			if p.SKU == "" || p.PriceCents < 0 || p.Available < 0 {
				return fmt.Errorf("%w: product %q: need a sku, price_cents >= 0 and available >= 0", ErrInvalidArgument, p.SKU)
			}
			_, err := tx.ExecContext(ctx,
				`INSERT INTO products (sku, name, price_cents, available, reserved) VALUES (?, ?, ?, ?, 0)
				 ON CONFLICT (sku) DO NOTHING`,
				p.SKU, p.Name, p.PriceCents, p.Available)
			if err != nil {
				return fmt.Errorf("product %q: %w", p.SKU, err)
			}
		}
		return nil
	})
}

// ListProducts returns the catalog ordered by SKU.
func (s *Store) ListProducts(ctx context.Context) ([]Product, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT sku, name, price_cents, available, reserved FROM products ORDER BY sku`)
	if err != nil {
		return nil, fmt.Errorf("listing products: %w", err)
	}
	defer rows.Close()
	var products []Product
	for rows.Next() {
		var p Product
		if err := rows.Scan(&p.SKU, &p.Name, &p.PriceCents, &p.Available, &p.Reserved); err != nil {
			return nil, fmt.Errorf("listing products: %w", err)
		}
		products = append(products, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing products: %w", err)
	}
	return products, nil
}

// Reserve takes stock for every item, all or nothing, and records the
// reservation as Reserved. Items with the same SKU are merged. If a
// reservation with that id exists it is returned as is when Reserved or
// Committed, and ErrReservationReleased is returned when it was released.
func (s *Store) Reserve(ctx context.Context, id string, items []Item) (Reservation, error) {
	var r Reservation
	err := s.inTx(ctx, fmt.Sprintf("reserving %q", id), func(tx *sql.Tx) error {
		merged, err := mergeItems(id, items)
		if err != nil {
			return err
		}
		existing, err := getReservation(ctx, tx, id)
		switch {
		case err == nil && existing.State == Released:
			return ErrReservationReleased
		case err == nil:
			r = existing
			return nil
		case !errors.Is(err, ErrReservationNotFound):
			return err
		}

		r = Reservation{ID: id, State: Reserved}
		for _, it := range merged {
			var available int64
			err := tx.QueryRowContext(ctx,
				`SELECT price_cents, available FROM products WHERE sku = ?`, it.SKU).
				Scan(&it.PriceCents, &available)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: sku %q", ErrUnknownProduct, it.SKU)
			}
			if err != nil {
				return fmt.Errorf("reading product %q: %w", it.SKU, err)
			}
			if available < int64(it.Quantity) {
				return fmt.Errorf("%w: sku %q: requested %d, available %d",
					ErrInsufficientStock, it.SKU, it.Quantity, available)
			}
			if _, err := tx.ExecContext(ctx,
				`UPDATE products SET available = available - ?, reserved = reserved + ? WHERE sku = ?`,
				it.Quantity, it.Quantity, it.SKU); err != nil {
				return fmt.Errorf("taking stock of %q: %w", it.SKU, err)
			}
			r.Items = append(r.Items, it)
			r.TotalCents += int64(it.Quantity) * it.PriceCents
		}

		now := time.Now().UTC().Format(timeLayout)
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO reservations (id, state, total_cents, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			r.ID, r.State, r.TotalCents, now, now); err != nil {
			return fmt.Errorf("recording reservation: %w", err)
		}
		for _, it := range r.Items {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO reservation_items (reservation_id, sku, quantity, price_cents) VALUES (?, ?, ?, ?)`,
				r.ID, it.SKU, it.Quantity, it.PriceCents); err != nil {
				return fmt.Errorf("recording item %q: %w", it.SKU, err)
			}
		}
		return nil
	})
	if err != nil {
		return Reservation{}, err
	}
	return r, nil
}

// Release gives the stock of a Reserved reservation back. Releasing a
// Released reservation returns it as is; releasing an unknown id records a
// Released tombstone without items so that a late Reserve with that id fails.
// A Committed reservation cannot be released (ErrReservationCommitted).
func (s *Store) Release(ctx context.Context, id string) (Reservation, error) {
	var r Reservation
	err := s.inTx(ctx, fmt.Sprintf("releasing %q", id), func(tx *sql.Tx) error {
		if id == "" {
			return fmt.Errorf("%w: empty reservation id", ErrInvalidArgument)
		}
		var err error
		r, err = getReservation(ctx, tx, id)
		if errors.Is(err, ErrReservationNotFound) {
			r = Reservation{ID: id, State: Released}
			now := time.Now().UTC().Format(timeLayout)
			_, err := tx.ExecContext(ctx,
				`INSERT INTO reservations (id, state, total_cents, created_at, updated_at) VALUES (?, ?, 0, ?, ?)`,
				id, Released, now, now)
			if err != nil {
				return fmt.Errorf("recording tombstone: %w", err)
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch r.State {
		case Released:
			return nil
		case Committed:
			return ErrReservationCommitted
		}
		for _, it := range r.Items {
			if _, err := tx.ExecContext(ctx,
				`UPDATE products SET available = available + ?, reserved = reserved - ? WHERE sku = ?`,
				it.Quantity, it.Quantity, it.SKU); err != nil {
				return fmt.Errorf("returning stock of %q: %w", it.SKU, err)
			}
		}
		r.State = Released
		return setState(ctx, tx, id, Released)
	})
	if err != nil {
		return Reservation{}, err
	}
	return r, nil
}

// Commit makes a Reserved reservation final: its units leave the reserved
// stock and do not come back to the available stock. Committing a Committed
// reservation returns it as is; a Released one fails with
// ErrReservationReleased and an unknown one with ErrReservationNotFound.
func (s *Store) Commit(ctx context.Context, id string) (Reservation, error) {
	var r Reservation
	err := s.inTx(ctx, fmt.Sprintf("committing %q", id), func(tx *sql.Tx) error {
		if id == "" {
			return fmt.Errorf("%w: empty reservation id", ErrInvalidArgument)
		}
		var err error
		if r, err = getReservation(ctx, tx, id); err != nil {
			return err
		}
		switch r.State {
		case Committed:
			return nil
		case Released:
			return ErrReservationReleased
		}
		for _, it := range r.Items {
			if _, err := tx.ExecContext(ctx,
				`UPDATE products SET reserved = reserved - ? WHERE sku = ?`,
				it.Quantity, it.SKU); err != nil {
				return fmt.Errorf("shipping stock of %q: %w", it.SKU, err)
			}
		}
		r.State = Committed
		return setState(ctx, tx, id, Committed)
	})
	if err != nil {
		return Reservation{}, err
	}
	return r, nil
}

// GetReservation returns one reservation, or ErrReservationNotFound.
func (s *Store) GetReservation(ctx context.Context, id string) (Reservation, error) {
	var r Reservation
	err := s.inTx(ctx, fmt.Sprintf("getting reservation %q", id), func(tx *sql.Tx) error {
		if id == "" {
			return fmt.Errorf("%w: empty reservation id", ErrInvalidArgument)
		}
		var err error
		r, err = getReservation(ctx, tx, id)
		return err
	})
	if err != nil {
		return Reservation{}, err
	}
	return r, nil
}

// ListReservations returns every reservation, oldest first, read in one
// transaction so that reservations and their items are consistent.
func (s *Store) ListReservations(ctx context.Context) ([]Reservation, error) {
	var list []Reservation
	err := s.inTx(ctx, "listing reservations", func(tx *sql.Tx) error {
		// The pool has one connection: read each result set fully before the next query.
		rows, err := tx.QueryContext(ctx,
			`SELECT id, state, total_cents FROM reservations ORDER BY created_at, id`)
		if err != nil {
			return err
		}
		index := map[string]int{}
		for rows.Next() {
			var r Reservation
			if err := rows.Scan(&r.ID, &r.State, &r.TotalCents); err != nil {
				rows.Close()
				return err
			}
			index[r.ID] = len(list)
			list = append(list, r)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}

		rows, err = tx.QueryContext(ctx,
			`SELECT reservation_id, sku, quantity, price_cents FROM reservation_items ORDER BY reservation_id, sku`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var it Item
			if err := rows.Scan(&id, &it.SKU, &it.Quantity, &it.PriceCents); err != nil {
				return err
			}
			r := &list[index[id]]
			r.Items = append(r.Items, it)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// inTx runs fn in one serialised transaction (sqlitedb.InTx).
func (s *Store) inTx(ctx context.Context, what string, fn func(*sql.Tx) error) error {
	return sqlitedb.InTx(ctx, s.db, what, fn)
}

// getReservation reads a reservation and its items (ordered by SKU).
func getReservation(ctx context.Context, tx *sql.Tx, id string) (Reservation, error) {
	r := Reservation{ID: id}
	err := tx.QueryRowContext(ctx,
		`SELECT state, total_cents FROM reservations WHERE id = ?`, id).Scan(&r.State, &r.TotalCents)
	if errors.Is(err, sql.ErrNoRows) {
		return Reservation{}, ErrReservationNotFound
	}
	if err != nil {
		return Reservation{}, fmt.Errorf("reading reservation: %w", err)
	}
	rows, err := tx.QueryContext(ctx,
		`SELECT sku, quantity, price_cents FROM reservation_items WHERE reservation_id = ? ORDER BY sku`, id)
	if err != nil {
		return Reservation{}, fmt.Errorf("reading items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.SKU, &it.Quantity, &it.PriceCents); err != nil {
			return Reservation{}, fmt.Errorf("reading items: %w", err)
		}
		r.Items = append(r.Items, it)
	}
	if err := rows.Err(); err != nil {
		return Reservation{}, fmt.Errorf("reading items: %w", err)
	}
	return r, nil
}

func setState(ctx context.Context, tx *sql.Tx, id string, state ReservationState) error {
	_, err := tx.ExecContext(ctx,
		`UPDATE reservations SET state = ?, updated_at = ? WHERE id = ?`,
		state, time.Now().UTC().Format(timeLayout), id)
	if err != nil {
		return fmt.Errorf("setting state to %s: %w", state, err)
	}
	return nil
}

// mergeItems validates items, sums the quantities of repeated SKUs and sorts
// the result by SKU (the order in which the store reads items back).
func mergeItems(id string, items []Item) ([]Item, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: empty reservation id", ErrInvalidArgument)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%w: no items", ErrInvalidArgument)
	}
	quantities := map[string]int64{}
	for i, it := range items {
		if it.SKU == "" {
			return nil, fmt.Errorf("%w: item %d: empty sku", ErrInvalidArgument, i)
		}
		if it.Quantity <= 0 {
			return nil, fmt.Errorf("%w: item %d (sku %q): quantity %d must be positive", ErrInvalidArgument, i, it.SKU, it.Quantity)
		}
		quantities[it.SKU] += int64(it.Quantity)
	}
	merged := make([]Item, 0, len(quantities))
	for sku, q := range quantities {
		if q > math.MaxInt32 {
			return nil, fmt.Errorf("%w: sku %q: total quantity %d is too large", ErrInvalidArgument, sku, q)
		}
		merged = append(merged, Item{SKU: sku, Quantity: int32(q)})
	}
	slices.SortFunc(merged, func(a, b Item) int { return cmp.Compare(a.SKU, b.SKU) })
	return merged, nil
}
