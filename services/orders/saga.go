package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
	"github.com/chaoslab/chaoslab/services/internal/resilience"
)

// run drives the saga of a PENDING order to its end, from wherever a previous
// attempt left it: every remote step is idempotent by the order id, so steps
// already done are repeated harmlessly. The caller holds the order's key.
//
// The result is the order as persisted: CONFIRMED, FAILED, or PENDING when a
// compensation could not finish (recovery finishes it later). The error is
// set only when the final state could not be persisted.
//
// fresh is true for an order's first attempt: nothing of it can have reached
// the dependencies before.
func (s *Service) run(ctx context.Context, o *Order, fresh bool) (*Order, error) {
	o = o.clone()
	if o.FailureReason != "" {
		// A previous attempt decided to fail and did not finish compensating.
		return s.fail(ctx, o, o.FailureReason, o.NeedsRefund)
	}

	res, err := s.reserve(ctx, o)
	if err != nil && fresh && errors.Is(err, resilience.ErrBreakerOpen) {
		// The breaker refused the first Reserve of a fresh order: it was
		// never sent, so there is nothing to compensate. Failing at once is
		// what the breaker is for.
		return s.failed(ctx, o, uncertainReason(err))
	}
	if err != nil {
		var reason string
		switch codeOf(err) {
		case codes.FailedPrecondition:
			reason = ReasonOutOfStock
		case codes.NotFound:
			reason = ReasonUnknownProduct
		default:
			reason = uncertainReason(err)
		}
		// Release even after a definite refusal: it leaves a tombstone that
		// makes a late duplicate of this Reserve fail.
		return s.fail(ctx, o, reason, false)
	}
	if err := priceItems(o, res); err != nil {
		s.log.ErrorContext(ctx, "unusable reservation", "order_id", o.ID, "error", err)
		return s.fail(ctx, o, ReasonInternal, false)
	}

	charge, err := s.charge(ctx, o)
	if err != nil {
		if codeOf(err) == codes.FailedPrecondition {
			return s.fail(ctx, o, ReasonPaymentDeclined, false)
		}
		// The charge may have happened: refund it (or leave a tombstone
		// that makes a late Charge fail) as well as releasing.
		return s.fail(ctx, o, uncertainReason(err), true)
	}
	if charge.GetState() != paymentsv1.ChargeState_CHARGE_STATE_CAPTURED || charge.GetChargeId() == "" {
		s.log.ErrorContext(ctx, "charge not captured", "order_id", o.ID,
			"charge_id", charge.GetChargeId(), "charge_state", charge.GetState().String())
		return s.fail(ctx, o, ReasonInternal, true)
	}

	o.ChargeID = charge.GetChargeId()
	o.Status = StatusConfirmed
	o.UpdatedAt = s.now()
	if err := s.persist(ctx, o); err != nil {
		// Charged but not recorded: the order stays PENDING and a resumed
		// saga confirms it again without charging twice.
		return nil, fmt.Errorf("confirming order %s: %w", o.ID, err)
	}
	s.metrics.outcomes.WithLabelValues(outcomeConfirmed, "").Inc()
	s.log.InfoContext(ctx, "order confirmed", "order_id", o.ID, "charge_id", o.ChargeID, "total_cents", o.TotalCents)
	s.commit(ctx, o)
	return o, nil
}

// fail compensates a saga that failed for reason (refunding too when refund
// is set, always releasing) and persists the order FAILED. When compensation
// does not finish, the order stays PENDING with the decision recorded, so that
// a resumed saga completes this compensation rather than re-running steps.
func (s *Service) fail(ctx context.Context, o *Order, reason string, refund bool) (*Order, error) {
	s.log.InfoContext(ctx, "order saga failed, compensating", "order_id", o.ID, "reason", reason, "refund", refund)
	if o.FailureReason != reason || o.NeedsRefund != refund {
		o.FailureReason, o.NeedsRefund, o.UpdatedAt = reason, refund, s.now()
		if err := s.persist(ctx, o); err != nil {
			// Not fatal: compensation is still safe, and a resumed saga that
			// re-runs the steps meets the tombstones compensation leaves.
			s.log.ErrorContext(ctx, "recording compensation decision", "order_id", o.ID, "error", err)
		}
	}

	done := true
	if refund {
		done = s.compensate(ctx, o, stepRefund, func(ctx context.Context) error {
			_, err := s.payments.Refund(ctx, &paymentsv1.RefundRequest{IdempotencyKey: o.ID, OrderId: o.ID})
			return err
		}) && done
	}
	done = s.compensate(ctx, o, stepRelease, func(ctx context.Context) error {
		_, err := s.stock.Release(ctx, &inventoryv1.ReleaseRequest{ReservationId: o.ID})
		return err
	}) && done
	if !done {
		s.log.ErrorContext(ctx, "compensation incomplete, order left pending for recovery", "order_id", o.ID, "reason", reason)
		return o, nil
	}

	return s.failed(ctx, o, reason)
}

// failed persists a compensated (or never started) order FAILED.
func (s *Service) failed(ctx context.Context, o *Order, reason string) (*Order, error) {
	o.Status, o.FailureReason = StatusFailed, reason
	o.UpdatedAt = s.now()
	if err := s.persist(ctx, o); err != nil {
		return nil, fmt.Errorf("failing order %s: %w", o.ID, err)
	}
	s.metrics.outcomes.WithLabelValues(outcomeFailed, reason).Inc()
	s.log.InfoContext(ctx, "order failed", "order_id", o.ID, "reason", reason)
	return o, nil
}

// reserve is the first forward step: inventory.Reserve with the order id as
// reservation id.
func (s *Service) reserve(ctx context.Context, o *Order) (*inventoryv1.Reservation, error) {
	ctx, span := s.tracer.Start(ctx, "saga.reserve", trace.WithAttributes(orderAttrs(o)...))
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, s.stepTimeout)
	defer cancel()

	req := &inventoryv1.ReserveRequest{ReservationId: o.ID}
	for _, it := range o.Items {
		req.Items = append(req.Items, &inventoryv1.Item{Sku: it.SKU, Quantity: it.Quantity})
	}
	resp, err := s.stock.Reserve(ctx, req)
	if err != nil {
		err = fmt.Errorf("reserving stock: %w", err)
		recordError(span, err)
		s.log.ErrorContext(ctx, "reserve failed", "order_id", o.ID, "code", codeOf(err).String(), "error", err)
		return nil, err
	}
	return resp.GetReservation(), nil
}

// charge is the second forward step: payments.Charge keyed by the order id.
func (s *Service) charge(ctx context.Context, o *Order) (*paymentsv1.Charge, error) {
	ctx, span := s.tracer.Start(ctx, "saga.charge", trace.WithAttributes(
		append(orderAttrs(o), attribute.Int64("order.total_cents", o.TotalCents))...))
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, s.stepTimeout)
	defer cancel()

	resp, err := s.payments.Charge(ctx, &paymentsv1.ChargeRequest{
		IdempotencyKey: o.ID,
		OrderId:        o.ID,
		AmountCents:    o.TotalCents,
		PaymentMethod:  o.PaymentMethod,
	})
	if err != nil {
		err = fmt.Errorf("charging: %w", err)
		recordError(span, err)
		s.log.ErrorContext(ctx, "charge failed", "order_id", o.ID, "code", codeOf(err).String(), "error", err)
		return nil, err
	}
	return resp.GetCharge(), nil
}

// persist writes the order on a detached context: once decided, an outcome
// must be durable even if the caller went away.
func (s *Service) persist(ctx context.Context, o *Order) error {
	ctx, span := s.tracer.Start(context.WithoutCancel(ctx), "saga.persist", trace.WithAttributes(
		append(orderAttrs(o), attribute.String("order.status", string(o.Status)))...))
	defer span.End()
	attempts, err := s.retryDetached(ctx, func(ctx context.Context) error { return s.store.Update(ctx, o) })
	span.SetAttributes(attribute.Int("attempts", attempts))
	if err != nil {
		err = fmt.Errorf("persisting order %s as %s: %w", o.ID, o.Status, err)
		recordError(span, err)
		s.log.ErrorContext(ctx, "persist failed", "order_id", o.ID, "status", string(o.Status), "attempts", attempts, "error", err)
		return err
	}
	return nil
}

// compensate runs one compensating step detached from the caller's
// cancellation, retried while it fails, and reports whether it succeeded.
func (s *Service) compensate(ctx context.Context, o *Order, step string, fn func(context.Context) error) bool {
	ctx, span := s.tracer.Start(context.WithoutCancel(ctx), "saga.compensate."+step, trace.WithAttributes(orderAttrs(o)...))
	defer span.End()
	attempts, err := s.retryDetached(ctx, fn)
	span.SetAttributes(attribute.Int("attempts", attempts))
	if err != nil {
		err = fmt.Errorf("compensating %s of order %s: %w", step, o.ID, err)
		recordError(span, err)
		s.metrics.compensations.WithLabelValues(step, resultError).Inc()
		s.log.ErrorContext(ctx, "compensation failed", "order_id", o.ID, "step", step, "attempts", attempts,
			"code", codeOf(err).String(), "error", err)
		return false
	}
	s.metrics.compensations.WithLabelValues(step, resultOK).Inc()
	s.log.InfoContext(ctx, "compensated", "order_id", o.ID, "step", step, "attempts", attempts)
	return true
}

// commit makes the reservation of a confirmed order final. Best effort: the
// order is CONFIRMED whatever happens here, so a failure is logged and counted.
func (s *Service) commit(ctx context.Context, o *Order) {
	ctx, span := s.tracer.Start(context.WithoutCancel(ctx), "saga.commit", trace.WithAttributes(orderAttrs(o)...))
	defer span.End()
	attempts, err := s.retryDetached(ctx, func(ctx context.Context) error {
		_, err := s.stock.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: o.ID})
		return err
	})
	span.SetAttributes(attribute.Int("attempts", attempts))
	if err != nil {
		err = fmt.Errorf("committing reservation of order %s: %w", o.ID, err)
		recordError(span, err)
		s.metrics.commits.WithLabelValues(resultError).Inc()
		s.log.ErrorContext(ctx, "commit failed, order stays confirmed", "order_id", o.ID, "attempts", attempts, "error", err)
		return
	}
	s.metrics.commits.WithLabelValues(resultOK).Inc()
}

// retryDetached calls fn until it succeeds or the attempts are spent, each
// attempt on a context that keeps ctx's values (the trace) but not its
// cancellation, bounded by the compensation timeout. It waits a doubling
// backoff between attempts and returns the number of attempts made.
func (s *Service) retryDetached(ctx context.Context, fn func(context.Context) error) (int, error) {
	base := context.WithoutCancel(ctx)
	wait := s.compBackoff
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(base, s.compTimeout)
		err := fn(actx)
		cancel()
		if err == nil || attempt >= s.compTries {
			return attempt, err
		}
		t := time.NewTimer(wait)
		<-t.C
		wait *= 2
	}
}

// priceItems copies the reservation's unit prices onto the order's lines and
// sets the total the customer is charged.
func priceItems(o *Order, res *inventoryv1.Reservation) error {
	prices := make(map[string]int64, len(res.GetItems()))
	for _, it := range res.GetItems() {
		prices[it.GetSku()] = it.GetPriceCents()
	}
	var total int64
	for i, it := range o.Items {
		p, ok := prices[it.SKU]
		if !ok {
			return fmt.Errorf("reservation %s has no price for sku %q", o.ID, it.SKU)
		}
		if p < 0 {
			return fmt.Errorf("reservation %s has a negative price for sku %q", o.ID, it.SKU)
		}
		o.Items[i].UnitPriceCents = p
		total += p * int64(it.Quantity)
	}
	o.TotalCents = total
	return nil
}

// codeOf is the gRPC code of a dependency error, wrapped or not; context
// errors count as the codes gRPC would give them.
func codeOf(err error) codes.Code {
	switch {
	case err == nil:
		return codes.OK
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	}
	if st, ok := status.FromError(err); ok {
		return st.Code()
	}
	return codes.Unknown
}

// uncertainReason is the failure reason of a step whose outcome is unknown.
// A cancelled call counts as a deadline: the caller ran out of patience.
func uncertainReason(err error) string {
	switch codeOf(err) {
	case codes.DeadlineExceeded, codes.Canceled:
		return ReasonDeadlineExceeded
	default:
		return ReasonDependencyUnavailable
	}
}

func orderAttrs(o *Order) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("order.id", o.ID)}
}

func recordError(span trace.Span, err error) {
	span.RecordError(err)
	span.SetStatus(otelcodes.Error, err.Error())
}
