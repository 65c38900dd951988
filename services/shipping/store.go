// Package shipping is the shipping service: a durable JetStream pull
// consumer of the OrderConfirmed events that orders' outbox relay
// publishes. It records one shipment per confirmed order in its own SQLite
// database, deduplicating by event id (a unique key written in the
// shipment's transaction), since delivery is at least once: a relay that
// lost an ack publishes again, a consumer killed mid-batch gets the batch
// again. Invariants read its shipments over HTTP (GET /v1/shipments).
package shipping

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/chaoslab/chaoslab/services/internal/events"
	"github.com/chaoslab/chaoslab/services/internal/sqlitedb"
)

const shipmentsSchema = `CREATE TABLE IF NOT EXISTS shipments (
	shipment_id  TEXT PRIMARY KEY,
	order_id     TEXT NOT NULL,
	event_id     TEXT NOT NULL,
	confirmed_at TEXT NOT NULL,
	recorded_at  TEXT NOT NULL
)`

const shipmentsByOrder = `CREATE INDEX IF NOT EXISTS shipments_order ON shipments (order_id)`

// processedSchema holds the id of every event that made a shipment: the
// deduplication key, written in the shipment's transaction.
const processedSchema = `CREATE TABLE IF NOT EXISTS processed_events (
	event_id     TEXT PRIMARY KEY,
	processed_at TEXT NOT NULL
)`

// timeLayout is fixed-width so that stored timestamps sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Shipment is a recorded shipment.
type Shipment struct {
	ID          string    `json:"shipment_id"`
	OrderID     string    `json:"order_id"`
	EventID     string    `json:"event_id"`
	ConfirmedAt time.Time `json:"confirmed_at"`
	RecordedAt  time.Time `json:"recorded_at"`
}

// Store keeps shipments in the service's SQLite database.
type Store struct {
	db *sql.DB
}

// OpenStore opens (creating if needed) the shipping database at path.
func OpenStore(ctx context.Context, path string) (*Store, error) {
	db, err := sqlitedb.Open(ctx, path, shipmentsSchema, shipmentsByOrder, processedSchema)
	if err != nil {
		return nil, fmt.Errorf("opening shipping store: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Record records the shipment of ev's order at now. With dedup, the event
// id is inserted in the same transaction, and an event already processed
// records nothing: Record then returns false. Without dedup every call
// records a shipment (the expect-fail scenario's broken consumer).
func (s *Store) Record(ctx context.Context, ev events.OrderConfirmed, dedup bool, now time.Time) (*Shipment, bool, error) {
	sh := &Shipment{ID: newShipmentID(), OrderID: ev.OrderID, EventID: ev.EventID, ConfirmedAt: ev.ConfirmedAt.UTC(), RecordedAt: now.UTC()}
	recorded := true
	err := sqlitedb.InTx(ctx, s.db, "recording the shipment of order "+ev.OrderID, func(tx *sql.Tx) error {
		if dedup {
			res, err := tx.ExecContext(ctx, `INSERT INTO processed_events (event_id, processed_at) VALUES (?, ?)
				ON CONFLICT (event_id) DO NOTHING`, ev.EventID, formatTime(now))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 0 {
				recorded = false // a duplicate: its shipment exists
				return nil
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO shipments (shipment_id, order_id, event_id, confirmed_at, recorded_at)
			VALUES (?, ?, ?, ?, ?)`, sh.ID, sh.OrderID, sh.EventID, formatTime(sh.ConfirmedAt), formatTime(sh.RecordedAt))
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if !recorded {
		return nil, false, nil
	}
	return sh, true, nil
}

// List returns every shipment, oldest first.
func (s *Store) List(ctx context.Context) ([]Shipment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT shipment_id, order_id, event_id, confirmed_at, recorded_at
		FROM shipments ORDER BY recorded_at, shipment_id`)
	if err != nil {
		return nil, fmt.Errorf("listing shipments: %w", err)
	}
	defer rows.Close()
	out := []Shipment{}
	for rows.Next() {
		var (
			sh                  Shipment
			confirmed, recorded string
		)
		if err := rows.Scan(&sh.ID, &sh.OrderID, &sh.EventID, &confirmed, &recorded); err != nil {
			return nil, fmt.Errorf("listing shipments: %w", err)
		}
		if sh.ConfirmedAt, err = time.Parse(timeLayout, confirmed); err != nil {
			return nil, fmt.Errorf("listing shipments: confirmed_at of %s: %w", sh.ID, err)
		}
		if sh.RecordedAt, err = time.Parse(timeLayout, recorded); err != nil {
			return nil, fmt.Errorf("listing shipments: recorded_at of %s: %w", sh.ID, err)
		}
		out = append(out, sh)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing shipments: %w", err)
	}
	return out, nil
}

func newShipmentID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "shp_" + hex.EncodeToString(b[:])
}

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }
