package orders

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"

	"github.com/chaoslab/chaoslab/services/internal/events"
)

// outboxSchema is the transactional outbox: the events of confirmed orders
// not yet acknowledged by the broker, in the order they were written.
const outboxSchema = `CREATE TABLE IF NOT EXISTS outbox (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id   TEXT NOT NULL UNIQUE,
	event_type TEXT NOT NULL,
	order_id   TEXT NOT NULL,
	payload    BLOB NOT NULL,
	headers    TEXT NOT NULL,
	created_at TEXT NOT NULL
)`

// OutboxEvent is one row of the outbox.
type OutboxEvent struct {
	Seq       int64
	EventID   string
	Type      string
	OrderID   string
	Payload   []byte
	Headers   map[string]string
	CreatedAt time.Time
}

// eventID is the id of the OrderConfirmed event of an order: an order is
// confirmed once, so it has one such event.
func eventID(orderID string) string { return "order-confirmed-" + orderID }

// insertEvent writes o's OrderConfirmed event into the outbox within tx.
func (s *Store) insertEvent(ctx context.Context, tx *sql.Tx, o *Order) error {
	ev := events.OrderConfirmed{
		EventID: eventID(o.ID), OrderID: o.ID, CustomerID: o.CustomerID,
		TotalCents: o.TotalCents, ConfirmedAt: o.UpdatedAt.UTC(),
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding %s event: %w", events.TypeOrderConfirmed, err)
	}
	carrier := propagation.MapCarrier{}
	s.propagator.Inject(ctx, carrier)
	headers, err := json.Marshal(carrier)
	if err != nil {
		return fmt.Errorf("encoding event headers: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (event_id, event_type, order_id, payload, headers, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, ev.EventID, events.TypeOrderConfirmed, o.ID, payload, string(headers), formatTime(o.UpdatedAt)); err != nil {
		return fmt.Errorf("writing %s event of order %s to the outbox: %w", events.TypeOrderConfirmed, o.ID, err)
	}
	return nil
}

// Outbox returns up to limit events of the outbox, oldest first.
func (s *Store) Outbox(ctx context.Context, limit int) ([]OutboxEvent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, event_id, event_type, order_id, payload, headers, created_at
		FROM outbox ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxEvent
	for rows.Next() {
		var (
			e                OutboxEvent
			headers, created string
		)
		if err := rows.Scan(&e.Seq, &e.EventID, &e.Type, &e.OrderID, &e.Payload, &headers, &created); err != nil {
			return nil, fmt.Errorf("reading the outbox: %w", err)
		}
		if err := json.Unmarshal([]byte(headers), &e.Headers); err != nil {
			return nil, fmt.Errorf("reading the outbox: headers of event %s: %w", e.EventID, err)
		}
		if e.CreatedAt, err = time.Parse(timeLayout, created); err != nil {
			return nil, fmt.Errorf("reading the outbox: created_at of event %s: %w", e.EventID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the outbox: %w", err)
	}
	return out, nil
}

// DeleteOutbox removes published events (by seq) from the outbox.
func (s *Store) DeleteOutbox(ctx context.Context, seqs ...int64) error {
	if len(seqs) == 0 {
		return nil
	}
	args := make([]any, len(seqs))
	for i, q := range seqs {
		args[i] = q
	}
	query := `DELETE FROM outbox WHERE seq IN (?` + strings.Repeat(", ?", len(seqs)-1) + `)`
	if _, err := s.db.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("deleting %d published events from the outbox: %w", len(seqs), err)
	}
	return nil
}

// OutboxBacklog counts the events not yet published.
func (s *Store) OutboxBacklog(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting the outbox: %w", err)
	}
	return n, nil
}

// registerOutboxBacklog exports the outbox's backlog and the age of its
// oldest event, read from the database at each scrape.
func registerOutboxBacklog(reg prometheus.Registerer, s *Store) error {
	query := func(q string) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			var v sql.NullFloat64
			if err := s.db.QueryRowContext(ctx, q).Scan(&v); err != nil || !v.Valid {
				return 0
			}
			return v.Float64
		}
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chaoslab_outbox_backlog",
			Help: "Events in the orders outbox not yet acknowledged by the broker.",
		}, query(`SELECT count(*) FROM outbox`)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chaoslab_outbox_oldest_age_seconds",
			Help: "Age of the oldest event in the orders outbox (0 when it is empty).",
		}, query(`SELECT (julianday('now') - julianday(min(created_at))) * 86400.0 FROM outbox`)),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registering outbox metrics: %w", err)
		}
	}
	return nil
}
