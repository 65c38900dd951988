package invariant

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	calendarv1 "example.com/bookings/api/calendar/v1"
)

// fakeCalendar holds bookings in memory; err fails every call.
type fakeCalendar struct {
	bookings []*calendarv1.Booking
	err      error
}

func (f *fakeCalendar) GetBooking(_ context.Context, in *calendarv1.GetBookingRequest, _ ...grpc.CallOption) (*calendarv1.Booking, error) {
	if f.err != nil {
		return nil, f.err
	}
	for _, b := range f.bookings {
		if b.GetId() == in.GetId() {
			return b, nil
		}
	}
	return nil, status.Error(codes.NotFound, "no such booking")
}

func (f *fakeCalendar) ListBookings(_ context.Context, in *calendarv1.ListBookingsRequest, _ ...grpc.CallOption) (*calendarv1.ListBookingsResponse, error) {
	if f.err != nil {
		return nil, f.err
	}
	out := &calendarv1.ListBookingsResponse{}
	for _, b := range f.bookings {
		if b.GetCreatedUnixMs() >= in.GetSinceUnixMs() && (in.GetUntilUnixMs() == 0 || b.GetCreatedUnixMs() < in.GetUntilUnixMs()) {
			out.Bookings = append(out.Bookings, b)
		}
	}
	return out, nil
}

var t0 = time.UnixMilli(1_000_000)

func booking(id, key string, at time.Duration) *calendarv1.Booking {
	return &calendarv1.Booking{Id: id, IdempotencyKey: key, CreatedUnixMs: t0.Add(at).UnixMilli()}
}

func TestAckedBookingsExist(t *testing.T) {
	cal := &fakeCalendar{bookings: []*calendarv1.Booking{booking("b-1", "k1", 0), booking("b-2", "k2", time.Second)}}
	tests := []struct {
		name       string
		acked      []Write
		examined   int
		violations []string
	}{
		{"none acked", nil, 0, nil},
		{"all there", []Write{{"b-1", "k1"}, {"b-2", "k2"}}, 2, nil},
		{"one lost", []Write{{"b-1", "k1"}, {"b-3", "k3"}}, 2, []string{"b-3"}},
		{"under another key", []Write{{"b-2", "k1"}}, 1, []string{"b-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := AckedBookingsExist(t.Context(), cal, Run{Since: t0, Acked: tt.acked})
			if err != nil {
				t.Fatal(err)
			}
			checkVerdict(t, v, tt.examined, tt.violations)
		})
	}
}

func TestOneBookingPerKey(t *testing.T) {
	tests := []struct {
		name       string
		bookings   []*calendarv1.Booking
		examined   int
		violations []string
	}{
		{"distinct keys", []*calendarv1.Booking{booking("b-1", "k1", 0), booking("b-2", "k2", time.Second)}, 2, nil},
		{"a key booked twice", []*calendarv1.Booking{booking("b-1", "k1", 0), booking("b-2", "k1", time.Second)}, 2, []string{"b-2"}},
		{"before the run is not examined", []*calendarv1.Booking{booking("b-1", "k1", -time.Minute), booking("b-2", "k1", time.Second)}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := OneBookingPerKey(t.Context(), &fakeCalendar{bookings: tt.bookings}, Run{Since: t0, Until: t0.Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			checkVerdict(t, v, tt.examined, tt.violations)
		})
	}
}

func TestChecksFailWhenTheCalendarDoesNotAnswer(t *testing.T) {
	cal := &fakeCalendar{err: status.Error(codes.Unavailable, "down")}
	for name, check := range Checks() {
		t.Run(name, func(t *testing.T) {
			if _, err := check(t.Context(), cal, Run{Since: t0, Acked: []Write{{"b-1", "k1"}}}); err == nil {
				t.Error("no error: a checker that could not read the calendar must not decide")
			}
		})
	}
}

func checkVerdict(t *testing.T, v Verdict, examined int, violations []string) {
	t.Helper()
	if v.Examined != examined {
		t.Errorf("examined %d, want %d", v.Examined, examined)
	}
	if v.Violations == nil {
		t.Error("violations is nil: the contract wants [] when there are none")
	}
	var ids []string
	for _, x := range v.Violations {
		ids = append(ids, x.ID)
	}
	if len(ids) != len(violations) {
		t.Fatalf("violations %v, want %v", ids, violations)
	}
	for i := range ids {
		if ids[i] != violations[i] {
			t.Fatalf("violations %v, want %v", ids, violations)
		}
	}
}
