// Package events is the shop's event contract over NATS JetStream: the
// stream orders' outbox relay publishes to and shipping consumes, the
// OrderConfirmed event, and the carrier that puts W3C trace context into
// NATS message headers.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// Stream is the JetStream stream of the shop's order events.
	Stream = "SHOP_ORDERS"
	// SubjectOrderConfirmed is the subject OrderConfirmed events are published on.
	SubjectOrderConfirmed = "shop.orders.confirmed"
	// TypeOrderConfirmed is the event type stored in the outbox and sent in
	// the Chaoslab-Event-Type header.
	TypeOrderConfirmed = "OrderConfirmed"
	// HeaderEventType names the header that carries the event type.
	HeaderEventType = "Chaoslab-Event-Type"
	// DuplicateWindow is how long JetStream remembers a Nats-Msg-Id: a relay
	// that publishes an event again within it (its ack was lost) is stored once.
	DuplicateWindow = 2 * time.Minute
)

// OrderConfirmed is published once an order is CONFIRMED. EventID is
// unique per event; consumers deduplicate by it.
type OrderConfirmed struct {
	EventID     string    `json:"event_id"`
	OrderID     string    `json:"order_id"`
	CustomerID  string    `json:"customer_id"`
	TotalCents  int64     `json:"total_cents"`
	ConfirmedAt time.Time `json:"confirmed_at"`
}

// Decode parses an OrderConfirmed payload.
func Decode(data []byte) (OrderConfirmed, error) {
	var e OrderConfirmed
	if err := json.Unmarshal(data, &e); err != nil {
		return e, fmt.Errorf("decoding %s event: %w", TypeOrderConfirmed, err)
	}
	if e.EventID == "" || e.OrderID == "" {
		return e, fmt.Errorf("decoding %s event: event_id and order_id are required", TypeOrderConfirmed)
	}
	return e, nil
}

// StreamConfig is the stream's configuration: file storage (it survives a
// broker restart), one subject, a duplicate window for the relay's Nats-Msg-Id.
func StreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:       Stream,
		Subjects:   []string{SubjectOrderConfirmed},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Duplicates: DuplicateWindow,
	}
}

// StreamCreator creates streams; jetstream.JetStream satisfies it.
type StreamCreator interface {
	CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error)
}

// EnsureStream creates the stream or updates it to StreamConfig; both the
// publisher and the consumer call it, whichever starts first.
func EnsureStream(ctx context.Context, js StreamCreator) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, StreamConfig())
	if err != nil {
		return nil, fmt.Errorf("creating stream %s: %w", Stream, err)
	}
	return s, nil
}

// HeaderCarrier adapts nats.Header to propagation.TextMapCarrier, so that
// the W3C traceparent/tracestate (and baggage) travel in message headers.
type HeaderCarrier nats.Header

// Get returns the first value of key.
func (c HeaderCarrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set sets key to value.
func (c HeaderCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the keys.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
