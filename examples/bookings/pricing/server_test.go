package pricing

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pricingv1 "example.com/bookings/api/pricing/v1"
)

func serve(t *testing.T, s *Server) pricingv1.PricingServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pricingv1.RegisterPricingServiceServer(srv, s)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pricingv1.NewPricingServiceClient(conn)
}

func TestQuote(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := NewServer(reg, 0)
	api := serve(t, srv)
	tests := []struct {
		name   string
		room   string
		nights int32
		code   codes.Code
		cents  int64
	}{
		{"one single night", "single", 1, codes.OK, 8000},
		{"a week in a double", "double", 7, codes.OK, 84000},
		{"the longest suite stay", "suite", 30, codes.OK, 750000},
		{"unknown room", "palace", 1, codes.InvalidArgument, 0},
		{"no nights", "single", 0, codes.InvalidArgument, 0},
		{"too many nights", "single", 31, codes.InvalidArgument, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := api.Quote(t.Context(), &pricingv1.QuoteRequest{Room: tt.room, Nights: tt.nights})
			if got := status.Code(err); got != tt.code {
				t.Fatalf("Quote: code %v (%v), want %v", got, err, tt.code)
			}
			if err == nil && (resp.GetTotalCents() != tt.cents || resp.GetQuoteId() == "") {
				t.Errorf("Quote = %d cents, id %q; want %d cents and an id", resp.GetTotalCents(), resp.GetQuoteId(), tt.cents)
			}
		})
	}
	if got := testutil.ToFloat64(srv.quotes.WithLabelValues("single", "invalid")); got != 2 {
		t.Errorf("bookings_quotes_total{room=single,outcome=invalid} = %v, want 2", got)
	}
}

func TestQuoteDelayHonoursTheDeadline(t *testing.T) {
	api := serve(t, NewServer(prometheus.NewRegistry(), time.Second))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := api.Quote(ctx, &pricingv1.QuoteRequest{Room: "single", Nights: 1})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("Quote with a 1s delay and a 50ms deadline: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Quote took %s: the delay ignored the deadline", d)
	}
}
