package orders

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
)

// call is one recorded call to a fake.
type call struct {
	method      string
	id          string // reservation id or idempotency key
	ctxErr      error  // the context's error when the call arrived
	hasDeadline bool
}

// failure makes a fake method fail with err, times more times (-1: always).
// With applied, the fake performs the call first and then fails, as when the
// response of a successful call is lost.
type failure struct {
	err     error
	times   int
	applied bool
}

// recorder is the part common to both fakes: calls, failures, a hook.
type recorder struct {
	mu    sync.Mutex
	calls []call
	fails map[string]*failure
	// hook, when set, runs at the start of every call (outside the lock).
	hook func(ctx context.Context, method string)
}

// failOn makes method fail with code, times times (-1: always).
func (r *recorder) failOn(method string, code codes.Code, times int) {
	r.setFail(method, &failure{err: status.Error(code, "injected "+code.String()), times: times})
}

// failAfterApply makes method perform its effect then fail with code.
func (r *recorder) failAfterApply(method string, code codes.Code, times int) {
	r.setFail(method, &failure{err: status.Error(code, "injected "+code.String()+" after apply"), times: times, applied: true})
}

func (r *recorder) setFail(method string, f *failure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fails == nil {
		r.fails = make(map[string]*failure)
	}
	r.fails[method] = f
}

// clearFailures makes every method succeed again.
func (r *recorder) clearFailures() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fails = nil
}

func (r *recorder) setHook(h func(ctx context.Context, method string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hook = h
}

// begin records a call, runs the hook and answers the context's error as a
// gRPC client would. It returns the failure to apply, if any. The caller
// holds no lock; begin returns with r.mu held.
func (r *recorder) begin(ctx context.Context, method, id string) (*failure, error) {
	r.mu.Lock()
	h := r.hook
	r.mu.Unlock()
	if h != nil {
		h(ctx, method)
	}
	r.mu.Lock()
	_, hasDeadline := ctx.Deadline()
	r.calls = append(r.calls, call{method: method, id: id, ctxErr: ctx.Err(), hasDeadline: hasDeadline})
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	f := r.fails[method]
	if f == nil || f.times == 0 {
		return nil, nil
	}
	if f.times > 0 {
		f.times--
	}
	if !f.applied {
		return nil, f.err
	}
	return f, nil
}

// count returns how many times method was called.
func (r *recorder) count(method string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c.method == method {
			n++
		}
	}
	return n
}

// callsOf returns the recorded calls of method.
func (r *recorder) callsOf(method string) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []call
	for _, c := range r.calls {
		if c.method == method {
			out = append(out, c)
		}
	}
	return out
}

// fakeStock is a small inventory: priced products with stock levels and
// reservations, idempotent by reservation id, with release tombstones.
type fakeStock struct {
	recorder
	prices       map[string]int64
	stock        map[string]int64
	reservations map[string]*inventoryv1.Reservation
}

func newFakeStock() *fakeStock {
	return &fakeStock{
		prices:       map[string]int64{"apple": 150, "pear": 275, "plum": 99},
		stock:        map[string]int64{"apple": 1000, "pear": 1000, "plum": 3},
		reservations: make(map[string]*inventoryv1.Reservation),
	}
}

func (f *fakeStock) Reserve(ctx context.Context, in *inventoryv1.ReserveRequest, _ ...grpc.CallOption) (*inventoryv1.ReserveResponse, error) {
	fail, err := f.begin(ctx, "Reserve", in.GetReservationId())
	defer f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	res, err := f.reserveLocked(in)
	if err != nil {
		return nil, err
	}
	if fail != nil {
		return nil, fail.err
	}
	return &inventoryv1.ReserveResponse{Reservation: res}, nil
}

func (f *fakeStock) reserveLocked(in *inventoryv1.ReserveRequest) (*inventoryv1.Reservation, error) {
	if r, ok := f.reservations[in.GetReservationId()]; ok {
		if r.GetState() == inventoryv1.ReservationState_RESERVATION_STATE_RELEASED {
			return nil, status.Error(codes.FailedPrecondition, "reservation already released")
		}
		return r, nil
	}
	need := make(map[string]int64)
	for _, it := range in.GetItems() {
		if _, ok := f.prices[it.GetSku()]; !ok {
			return nil, status.Errorf(codes.NotFound, "unknown sku %q", it.GetSku())
		}
		need[it.GetSku()] += int64(it.GetQuantity())
	}
	for sku, q := range need {
		if f.stock[sku] < q {
			return nil, status.Errorf(codes.FailedPrecondition, "insufficient stock of %q", sku)
		}
	}
	r := &inventoryv1.Reservation{ReservationId: in.GetReservationId(), State: inventoryv1.ReservationState_RESERVATION_STATE_RESERVED}
	for _, it := range in.GetItems() {
		p := f.prices[it.GetSku()]
		r.Items = append(r.Items, &inventoryv1.Item{Sku: it.GetSku(), Quantity: it.GetQuantity(), PriceCents: p})
		r.TotalCents += p * int64(it.GetQuantity())
	}
	for sku, q := range need {
		f.stock[sku] -= q
	}
	f.reservations[r.ReservationId] = r
	return r, nil
}

func (f *fakeStock) Release(ctx context.Context, in *inventoryv1.ReleaseRequest, _ ...grpc.CallOption) (*inventoryv1.ReleaseResponse, error) {
	fail, err := f.begin(ctx, "Release", in.GetReservationId())
	defer f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	r, ok := f.reservations[in.GetReservationId()]
	switch {
	case !ok:
		r = &inventoryv1.Reservation{ReservationId: in.GetReservationId(), State: inventoryv1.ReservationState_RESERVATION_STATE_RELEASED}
		f.reservations[r.ReservationId] = r
	case r.GetState() == inventoryv1.ReservationState_RESERVATION_STATE_RESERVED:
		for _, it := range r.GetItems() {
			f.stock[it.GetSku()] += int64(it.GetQuantity())
		}
		r.State = inventoryv1.ReservationState_RESERVATION_STATE_RELEASED
	case r.GetState() == inventoryv1.ReservationState_RESERVATION_STATE_COMMITTED:
		return nil, status.Error(codes.FailedPrecondition, "reservation already committed")
	}
	if fail != nil {
		return nil, fail.err
	}
	return &inventoryv1.ReleaseResponse{Reservation: r}, nil
}

func (f *fakeStock) Commit(ctx context.Context, in *inventoryv1.CommitRequest, _ ...grpc.CallOption) (*inventoryv1.CommitResponse, error) {
	fail, err := f.begin(ctx, "Commit", in.GetReservationId())
	defer f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	r, ok := f.reservations[in.GetReservationId()]
	if !ok {
		return nil, status.Error(codes.NotFound, "no such reservation")
	}
	if r.GetState() == inventoryv1.ReservationState_RESERVATION_STATE_RELEASED {
		return nil, status.Error(codes.FailedPrecondition, "reservation released")
	}
	r.State = inventoryv1.ReservationState_RESERVATION_STATE_COMMITTED
	if fail != nil {
		return nil, fail.err
	}
	return &inventoryv1.CommitResponse{Reservation: r}, nil
}

// reservation returns a copy of the state of reservation id.
func (f *fakeStock) reservation(id string) (inventoryv1.ReservationState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.reservations[id]
	return r.GetState(), ok
}

func (f *fakeStock) level(sku string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stock[sku]
}

// fakePayments is a small payments service: charges idempotent by key,
// declines "card_declined", refunds with tombstones for never-charged keys.
type fakePayments struct {
	recorder
	charges map[string]*paymentsv1.Charge
	next    int
}

func newFakePayments() *fakePayments {
	return &fakePayments{charges: make(map[string]*paymentsv1.Charge)}
}

func (f *fakePayments) Charge(ctx context.Context, in *paymentsv1.ChargeRequest, _ ...grpc.CallOption) (*paymentsv1.ChargeResponse, error) {
	fail, err := f.begin(ctx, "Charge", in.GetIdempotencyKey())
	defer f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	c, ok := f.charges[in.GetIdempotencyKey()]
	switch {
	case ok && c.GetState() == paymentsv1.ChargeState_CHARGE_STATE_VOIDED:
		return nil, status.Error(codes.FailedPrecondition, "key already refunded")
	case ok && c.GetAmountCents() != in.GetAmountCents():
		return nil, status.Error(codes.AlreadyExists, "key used with another amount")
	case ok:
	case in.GetPaymentMethod() == "card_declined":
		return nil, status.Error(codes.FailedPrecondition, "card declined")
	default:
		f.next++
		c = &paymentsv1.Charge{
			ChargeId:       fmt.Sprintf("ch_%d", f.next),
			IdempotencyKey: in.GetIdempotencyKey(),
			OrderId:        in.GetOrderId(),
			AmountCents:    in.GetAmountCents(),
			State:          paymentsv1.ChargeState_CHARGE_STATE_CAPTURED,
		}
		f.charges[c.IdempotencyKey] = c
	}
	if fail != nil {
		return nil, fail.err
	}
	return &paymentsv1.ChargeResponse{Charge: c}, nil
}

func (f *fakePayments) Refund(ctx context.Context, in *paymentsv1.RefundRequest, _ ...grpc.CallOption) (*paymentsv1.RefundResponse, error) {
	fail, err := f.begin(ctx, "Refund", in.GetIdempotencyKey())
	defer f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	c, ok := f.charges[in.GetIdempotencyKey()]
	switch {
	case !ok:
		c = &paymentsv1.Charge{IdempotencyKey: in.GetIdempotencyKey(), OrderId: in.GetOrderId(), State: paymentsv1.ChargeState_CHARGE_STATE_VOIDED}
		f.charges[c.IdempotencyKey] = c
	case c.GetState() == paymentsv1.ChargeState_CHARGE_STATE_CAPTURED:
		c.State = paymentsv1.ChargeState_CHARGE_STATE_REFUNDED
	}
	if fail != nil {
		return nil, fail.err
	}
	return &paymentsv1.RefundResponse{Charge: c}, nil
}

// chargeState returns the state of the charge made with key.
func (f *fakePayments) chargeState(key string) (paymentsv1.ChargeState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.charges[key]
	return c.GetState(), ok
}

// captured counts the charges currently holding money.
func (f *fakePayments) captured() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.charges {
		if c.GetState() == paymentsv1.ChargeState_CHARGE_STATE_CAPTURED {
			n++
		}
	}
	return n
}
