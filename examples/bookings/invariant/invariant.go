// Package invariant checks the bookings the calendar holds after a chaoslab
// run, following chaoslab's invariant contract (docs/lab.md, "Invariants"):
// the run as JSON in (Run), a verdict as JSON out (Verdict).
package invariant

import (
	"context"
	"fmt"
	"sort"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	calendarv1 "example.com/bookings/api/calendar/v1"
)

// Run is what chaoslab gives an invariant on its standard input.
type Run struct {
	RunID    string    `json:"run_id"`
	Scenario string    `json:"scenario"`
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	Acked    []Write   `json:"acked"`
	Accepted []Write   `json:"accepted"`
}

// Write is one write the load saw acknowledged: the booking's id and the
// idempotency key it was sent with.
type Write struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// Verdict is what an invariant answers on its standard output.
type Verdict struct {
	Examined   int         `json:"examined"`
	Violations []Violation `json:"violations"`
	Detail     string      `json:"detail,omitempty"`
}

// Violation is one booking that breaks the invariant.
type Violation struct {
	ID     string `json:"id"`
	Detail string `json:"detail"`
}

// Reader is the part of the calendar's API the checks read.
type Reader interface {
	GetBooking(ctx context.Context, in *calendarv1.GetBookingRequest, opts ...grpc.CallOption) (*calendarv1.Booking, error)
	ListBookings(ctx context.Context, in *calendarv1.ListBookingsRequest, opts ...grpc.CallOption) (*calendarv1.ListBookingsResponse, error)
}

// Check is one invariant.
type Check func(ctx context.Context, cal Reader, run Run) (Verdict, error)

// Checks are the invariants by the name lab.yaml gives them.
func Checks() map[string]Check {
	return map[string]Check{
		"acked_bookings_exist": AckedBookingsExist,
		"one_booking_per_key":  OneBookingPerKey,
	}
}

// AckedBookingsExist holds when every booking the desk acknowledged (201 or
// 200) is in the calendar, under the idempotency key it was sent with.
func AckedBookingsExist(ctx context.Context, cal Reader, run Run) (Verdict, error) {
	v := Verdict{Violations: []Violation{}}
	for _, w := range run.Acked {
		v.Examined++
		b, err := cal.GetBooking(ctx, &calendarv1.GetBookingRequest{Id: w.ID})
		switch {
		case status.Code(err) == codes.NotFound:
			v.Violations = append(v.Violations, Violation{ID: w.ID, Detail: fmt.Sprintf("acknowledged (key %s) but not in the calendar", w.Key)})
		case err != nil:
			return Verdict{}, fmt.Errorf("reading booking %s: %w", w.ID, err)
		case b.GetIdempotencyKey() != w.Key:
			v.Violations = append(v.Violations, Violation{ID: w.ID,
				Detail: fmt.Sprintf("acknowledged with key %s, but the calendar holds it under key %s", w.Key, b.GetIdempotencyKey())})
		}
	}
	v.Detail = fmt.Sprintf("%d acknowledged bookings looked up in the calendar, %d missing or wrong", v.Examined, len(v.Violations))
	return v, nil
}

// OneBookingPerKey holds when no idempotency key was booked twice among the
// bookings created during the run: the desk's retries must not double-book.
func OneBookingPerKey(ctx context.Context, cal Reader, run Run) (Verdict, error) {
	req := &calendarv1.ListBookingsRequest{SinceUnixMs: run.Since.UnixMilli()}
	if !run.Until.IsZero() {
		req.UntilUnixMs = run.Until.Add(time.Second).UnixMilli() // the last write may land just after "until"
	}
	resp, err := cal.ListBookings(ctx, req)
	if err != nil {
		return Verdict{}, fmt.Errorf("listing the run's bookings: %w", err)
	}
	byKey := map[string][]string{}
	for _, b := range resp.GetBookings() {
		byKey[b.GetIdempotencyKey()] = append(byKey[b.GetIdempotencyKey()], b.GetId())
	}
	v := Verdict{Examined: len(resp.GetBookings()), Violations: []Violation{}}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if ids := byKey[k]; len(ids) > 1 {
			for _, id := range ids[1:] {
				v.Violations = append(v.Violations, Violation{ID: id, Detail: fmt.Sprintf("key %s is also booked as %s", k, ids[0])})
			}
		}
	}
	v.Detail = fmt.Sprintf("%d bookings since the run's start, %d keys booked more than once", v.Examined, len(v.Violations))
	return v, nil
}
