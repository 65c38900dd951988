package faultinject

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// The kinds of fault, as counted in chaoslab_faults_injected_total.
const (
	kindLatency = "latency"
	kindError   = "error"
	kindAbort   = "abort"
)

// note records that kind of rule r was applied to a request of method: the
// counter, a span event "fault.injected" on the request's span, a debug log.
func (in *Injector) note(ctx context.Context, method string, r *rule, kind string) {
	in.injected.WithLabelValues(method, kind).Inc()
	trace.SpanFromContext(ctx).AddEvent("fault.injected", trace.WithAttributes(
		attribute.String("fault.id", r.id),
		attribute.String("fault.kind", kind),
	))
	in.logger.DebugContext(ctx, "fault injected", "fault.id", r.id, "fault.kind", kind, "method", method)
}

// delay waits the latency of r, if any, or until ctx is done, and then
// returns ctx's error.
func (in *Injector) delay(ctx context.Context, method string, r *rule) error {
	if r.latency <= 0 {
		return nil
	}
	in.note(ctx, method, r, kindLatency)
	t := time.NewTimer(r.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
