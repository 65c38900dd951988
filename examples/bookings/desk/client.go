package desk

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	calendarv1 "example.com/bookings/api/calendar/v1"
	pricingv1 "example.com/bookings/api/pricing/v1"
)

// Quote is a priced stay.
type Quote struct {
	ID         string
	TotalCents int64
}

// Booking is a booking as the desk answers it.
type Booking struct {
	ID         string `json:"id"`
	Guest      string `json:"guest"`
	Room       string `json:"room"`
	Nights     int32  `json:"nights"`
	TotalCents int64  `json:"total_cents"`
	QuoteID    string `json:"quote_id"`
	Replayed   bool   `json:"replayed"`
}

// BookInput is what the desk asks the calendar to record.
type BookInput struct {
	Key        string
	Guest      string
	Room       string
	Nights     int32
	TotalCents int64
	QuoteID    string
}

// Quoter prices stays (the pricing service).
type Quoter interface {
	Quote(ctx context.Context, room string, nights int32) (Quote, error)
}

// Calendar records and reads bookings (the calendar service).
type Calendar interface {
	Book(ctx context.Context, in BookInput) (Booking, error)
	Get(ctx context.Context, id string) (Booking, error)
}

// PricingClient is a Quoter over gRPC: each call has a deadline of timeout.
type PricingClient struct {
	api     pricingv1.PricingServiceClient
	timeout time.Duration
}

// NewPricingClient calls api with a deadline of timeout per quote.
func NewPricingClient(api pricingv1.PricingServiceClient, timeout time.Duration) *PricingClient {
	return &PricingClient{api: api, timeout: timeout}
}

// Quote asks pricing for a quote.
func (c *PricingClient) Quote(ctx context.Context, room string, nights int32) (Quote, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.api.Quote(ctx, &pricingv1.QuoteRequest{Room: room, Nights: nights})
	if err != nil {
		return Quote{}, &BackendError{Backend: "pricing", Err: err}
	}
	return Quote{ID: resp.GetQuoteId(), TotalCents: resp.GetTotalCents()}, nil
}

// CalendarClient is a Calendar over gRPC. Book is idempotent by key, so it
// is retried up to retries times when the calendar answers UNAVAILABLE,
// with a doubling backoff from 20 ms; all attempts share one deadline of
// timeout. Each retry adds a span event "retry" (rpc.method, rpc.attempt,
// peer.service) and counts in bookings_desk_retries_total{backend}.
type CalendarClient struct {
	api     calendarv1.CalendarServiceClient
	timeout time.Duration
	retries int
	retried *prometheus.CounterVec
}

// NewCalendarClient calls api; retried counts the retries by backend.
func NewCalendarClient(api calendarv1.CalendarServiceClient, timeout time.Duration, retries int, retried *prometheus.CounterVec) *CalendarClient {
	return &CalendarClient{api: api, timeout: timeout, retries: retries, retried: retried}
}

const bookMethod = "/bookings.calendar.v1.CalendarService/Book"

// Book records a booking, retrying on UNAVAILABLE.
func (c *CalendarClient) Book(ctx context.Context, in BookInput) (Booking, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req := &calendarv1.BookRequest{
		IdempotencyKey: in.Key, Guest: in.Guest, Room: in.Room, Nights: in.Nights,
		TotalCents: in.TotalCents, QuoteId: in.QuoteID,
	}
	backoff := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		resp, err := c.api.Book(ctx, req)
		if err == nil {
			b := fromProto(resp.GetBooking())
			b.Replayed = resp.GetReplayed()
			return b, nil
		}
		if status.Code(err) != codes.Unavailable || attempt > c.retries {
			return Booking{}, &BackendError{Backend: "calendar", Err: err}
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return Booking{}, &BackendError{Backend: "calendar", Err: status.FromContextError(ctx.Err()).Err()}
		case <-t.C:
		}
		backoff *= 2
		c.retried.WithLabelValues("calendar").Inc()
		trace.SpanFromContext(ctx).AddEvent("retry", trace.WithAttributes(
			attribute.String("rpc.method", bookMethod),
			attribute.Int("rpc.attempt", attempt+1),
			attribute.String("peer.service", "calendar"),
		))
	}
}

// Get reads one booking.
func (c *CalendarClient) Get(ctx context.Context, id string) (Booking, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	b, err := c.api.GetBooking(ctx, &calendarv1.GetBookingRequest{Id: id})
	if err != nil {
		return Booking{}, &BackendError{Backend: "calendar", Err: err}
	}
	return fromProto(b), nil
}

func fromProto(b *calendarv1.Booking) Booking {
	return Booking{
		ID: b.GetId(), Guest: b.GetGuest(), Room: b.GetRoom(), Nights: b.GetNights(),
		TotalCents: b.GetTotalCents(), QuoteID: b.GetQuoteId(),
	}
}

// BackendError is a failed call to a backend.
type BackendError struct {
	Backend string
	Err     error
}

func (e *BackendError) Error() string { return fmt.Sprintf("calling %s: %v", e.Backend, e.Err) }
func (e *BackendError) Unwrap() error { return e.Err }
