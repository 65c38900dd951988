// Package calendar holds the bookings: the only durable state of the
// system. Book is idempotent by key, so its callers may retry it.
package calendar

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	calendarv1 "example.com/bookings/api/calendar/v1"
)

// Server implements calendarv1.CalendarServiceServer over a Store.
type Server struct {
	calendarv1.UnimplementedCalendarServiceServer
	store    *Store
	now      func() time.Time
	bookings *prometheus.CounterVec
}

// NewServer serves store and registers bookings_calendar_writes_total
// {outcome} (created, replayed, failed) and bookings_calendar_bookings (the
// bookings held).
func NewServer(reg prometheus.Registerer, store *Store) *Server {
	s := &Server{
		store: store,
		now:   time.Now,
		bookings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookings_calendar_writes_total",
			Help: "Book calls, by outcome: created, replayed (the key was booked before), failed.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(s.bookings, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bookings_calendar_bookings",
		Help: "Bookings held by the calendar.",
	}, func() float64 { return float64(store.Len()) }))
	return s
}

// Book records a booking once per idempotency key.
func (s *Server) Book(_ context.Context, req *calendarv1.BookRequest) (*calendarv1.BookResponse, error) {
	switch {
	case req.GetIdempotencyKey() == "":
		return nil, status.Error(codes.InvalidArgument, "idempotency_key is empty: every booking needs one")
	case req.GetGuest() == "" || req.GetRoom() == "" || req.GetNights() < 1:
		return nil, status.Error(codes.InvalidArgument, "guest, room and nights (≥ 1) are required")
	}
	b, replayed, err := s.store.Book(Booking{
		IdempotencyKey: req.GetIdempotencyKey(),
		Guest:          req.GetGuest(),
		Room:           req.GetRoom(),
		Nights:         req.GetNights(),
		TotalCents:     req.GetTotalCents(),
		QuoteID:        req.GetQuoteId(),
	}, s.now())
	if err != nil {
		s.bookings.WithLabelValues("failed").Inc()
		return nil, status.Errorf(codes.Internal, "recording the booking: %v", err)
	}
	outcome := "created"
	if replayed {
		outcome = "replayed"
	}
	s.bookings.WithLabelValues(outcome).Inc()
	return &calendarv1.BookResponse{Booking: toProto(b), Replayed: replayed}, nil
}

// GetBooking returns one booking.
func (s *Server) GetBooking(_ context.Context, req *calendarv1.GetBookingRequest) (*calendarv1.Booking, error) {
	b, ok := s.store.Get(req.GetId())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no booking %q", req.GetId())
	}
	return toProto(b), nil
}

// ListBookings returns the bookings created in a time range.
func (s *Server) ListBookings(_ context.Context, req *calendarv1.ListBookingsRequest) (*calendarv1.ListBookingsResponse, error) {
	var since, until time.Time
	if ms := req.GetSinceUnixMs(); ms > 0 {
		since = time.UnixMilli(ms)
	}
	if ms := req.GetUntilUnixMs(); ms > 0 {
		until = time.UnixMilli(ms)
	}
	list := s.store.List(since, until)
	out := &calendarv1.ListBookingsResponse{Bookings: make([]*calendarv1.Booking, len(list))}
	for i, b := range list {
		out.Bookings[i] = toProto(b)
	}
	return out, nil
}

func toProto(b Booking) *calendarv1.Booking {
	return &calendarv1.Booking{
		Id:             b.ID,
		IdempotencyKey: b.IdempotencyKey,
		Guest:          b.Guest,
		Room:           b.Room,
		Nights:         b.Nights,
		TotalCents:     b.TotalCents,
		QuoteId:        b.QuoteID,
		CreatedUnixMs:  b.CreatedUnixMS,
	}
}
