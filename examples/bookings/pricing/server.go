// Package pricing quotes stays: a room type for a number of nights, from a
// fixed rate card. It is stateless and has no fault admin API: a team's
// service that knows nothing of chaoslab.
package pricing

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pricingv1 "example.com/bookings/api/pricing/v1"
)

// NightlyRateCents is the rate card: the price of one night in a room
// type, and whether there is such a room type.
func NightlyRateCents(room string) (int64, bool) {
	switch room {
	case "single":
		return 8000, true
	case "double":
		return 12000, true
	case "suite":
		return 25000, true
	}
	return 0, false
}

// MaxNights is the longest stay quoted.
const MaxNights = 30

// Server implements pricingv1.PricingServiceServer.
type Server struct {
	pricingv1.UnimplementedPricingServiceServer
	delay  time.Duration
	next   atomic.Int64
	prefix string
	quotes *prometheus.CounterVec
}

// NewServer returns a pricing server that takes delay to compute each quote
// (its -delay knob) and registers bookings_quotes_total{room,outcome}.
func NewServer(reg prometheus.Registerer, delay time.Duration) *Server {
	s := &Server{
		delay:  delay,
		prefix: fmt.Sprintf("q%x", time.Now().UnixNano()&0xffffff),
		quotes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookings_quotes_total",
			Help: "Quotes asked for, by room type and outcome (quoted, invalid).",
		}, []string{"room", "outcome"}),
	}
	reg.MustRegister(s.quotes)
	return s
}

// Quote prices a stay.
func (s *Server) Quote(ctx context.Context, req *pricingv1.QuoteRequest) (*pricingv1.QuoteResponse, error) {
	rate, ok := NightlyRateCents(req.GetRoom())
	if !ok {
		s.quotes.WithLabelValues("unknown", "invalid").Inc()
		return nil, status.Errorf(codes.InvalidArgument, "room %q is not a room type: want single, double or suite", req.GetRoom())
	}
	if n := req.GetNights(); n < 1 || n > MaxNights {
		s.quotes.WithLabelValues(req.GetRoom(), "invalid").Inc()
		return nil, status.Errorf(codes.InvalidArgument, "nights is %d: want 1 to %d", n, MaxNights)
	}
	if s.delay > 0 {
		t := time.NewTimer(s.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	s.quotes.WithLabelValues(req.GetRoom(), "quoted").Inc()
	return &pricingv1.QuoteResponse{
		TotalCents: rate * int64(req.GetNights()),
		QuoteId:    fmt.Sprintf("%s-%d", s.prefix, s.next.Add(1)),
	}, nil
}
