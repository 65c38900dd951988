package calendar

import (
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	calendarv1 "example.com/bookings/api/calendar/v1"
)

// serve starts a calendar over a memory store on a real listener.
func serve(t *testing.T) calendarv1.CalendarServiceClient {
	t.Helper()
	store, _ := Open("", false)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	calendarv1.RegisterCalendarServiceServer(srv, NewServer(prometheus.NewRegistry(), store))
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return calendarv1.NewCalendarServiceClient(conn)
}

func TestServerBook(t *testing.T) {
	cal := serve(t)
	ok := &calendarv1.BookRequest{IdempotencyKey: "k1", Guest: "ann", Room: "double", Nights: 2, TotalCents: 24000, QuoteId: "q-1"}
	tests := []struct {
		name         string
		req          *calendarv1.BookRequest
		code         codes.Code
		wantID       string
		wantReplayed bool
	}{
		{"a booking", ok, codes.OK, "b-1", false},
		{"the same key again", ok, codes.OK, "b-1", true},
		{"no key", &calendarv1.BookRequest{Guest: "ann", Room: "double", Nights: 1}, codes.InvalidArgument, "", false},
		{"no nights", &calendarv1.BookRequest{IdempotencyKey: "k2", Guest: "ann", Room: "double"}, codes.InvalidArgument, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := cal.Book(t.Context(), tt.req)
			if got := status.Code(err); got != tt.code {
				t.Fatalf("Book: code %v (%v), want %v", got, err, tt.code)
			}
			if err != nil {
				return
			}
			if resp.GetBooking().GetId() != tt.wantID || resp.GetReplayed() != tt.wantReplayed {
				t.Errorf("Book = %s replayed %v, want %s replayed %v", resp.GetBooking().GetId(), resp.GetReplayed(), tt.wantID, tt.wantReplayed)
			}
		})
	}
}

func TestServerGetAndList(t *testing.T) {
	cal := serve(t)
	if _, err := cal.Book(t.Context(), &calendarv1.BookRequest{IdempotencyKey: "k1", Guest: "ann", Room: "suite", Nights: 3}); err != nil {
		t.Fatal(err)
	}
	b, err := cal.GetBooking(t.Context(), &calendarv1.GetBookingRequest{Id: "b-1"})
	if err != nil || b.GetIdempotencyKey() != "k1" || b.GetNights() != 3 {
		t.Fatalf("GetBooking(b-1) = %v, %v", b, err)
	}
	if _, err := cal.GetBooking(t.Context(), &calendarv1.GetBookingRequest{Id: "b-2"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetBooking(b-2): %v, want NotFound", err)
	}
	list, err := cal.ListBookings(t.Context(), &calendarv1.ListBookingsRequest{})
	if err != nil || len(list.GetBookings()) != 1 {
		t.Errorf("ListBookings = %v, %v; want one booking", list, err)
	}
}
