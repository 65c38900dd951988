package resilience

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/chaoslab/chaoslab/services/internal/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Breaker is a circuit breaker in front of one gRPC dependency. It opens
// after Config.BreakerFailures consecutive failed calls, then fails every call
// fast with UNAVAILABLE for Config.BreakerOpenFor, then lets one probe call
// through (half-open): the breaker closes if it succeeds and opens again if
// it fails.
//
// A call fails, for the breaker, when the dependency looks unhealthy:
// UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL or UNKNOWN.
// Business answers (NOT_FOUND, FAILED_PRECONDITION, ALREADY_EXISTS,
// INVALID_ARGUMENT, ...) are successes, and a call cancelled by its caller
// does not count either way.
//
// Every state change sets chaoslab_breaker_state{target} (0 closed, 1
// half-open, 2 open), counts chaoslab_breaker_transitions_total{target,from,to},
// is logged, and is added as a span event "breaker.state_change" to the span
// of the call that caused it. Calls rejected while open are counted in
// chaoslab_breaker_rejected_total{target}.
type Breaker struct {
	target      string
	cb          *gobreaker.CircuitBreaker[any]
	logger      *slog.Logger
	state       prometheus.Gauge
	transitions *prometheus.CounterVec // curried with target
	rejected    prometheus.Counter

	// judged is the outcome of the call gobreaker judged last. It is only
	// used under gobreaker's mutex: gobreaker calls IsSuccessful and then,
	// in the same critical section, OnStateChange for every state change a
	// call's result causes, so OnStateChange can attach the change to that
	// call.
	judged *outcome
	// halfOpen is an open → half-open change not yet attached to a call.
	// That change happens when the breaker is next looked at after the open
	// period; the probe call it lets through takes it.
	halfOpen atomic.Pointer[transition]
}

// transition is a change of breaker state.
type transition struct {
	from, to gobreaker.State
}

// outcome wraps the result of a call as it goes through gobreaker, and
// collects the state changes that result caused.
type outcome struct {
	err         error
	transitions []transition
}

// Error makes outcome an error, so that it can travel through Execute.
func (o *outcome) Error() string {
	if o.err == nil {
		return "OK"
	}
	return o.err.Error()
}

// NewBreaker returns the Breaker of the dependency named target ("payments"),
// tuned by cfg.BreakerFailures and cfg.BreakerOpenFor, with its metrics
// registered with reg. Breakers of several targets may share reg. A nil
// logger discards the state change logs.
func NewBreaker(target string, cfg Config, reg prometheus.Registerer, logger *slog.Logger) *Breaker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	byTarget := prometheus.Labels{"target": target}
	b := &Breaker{
		target: target,
		logger: logger.With("breaker.target", target),
		state: telemetry.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "chaoslab_breaker_state",
			Help: "State of the circuit breaker of a dependency: 0 closed, 1 half-open, 2 open.",
		}, []string{"target"})).With(byTarget),
		transitions: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_breaker_transitions_total",
			Help: "State changes of the circuit breaker of a dependency.",
		}, []string{"target", "from", "to"})).MustCurryWith(byTarget),
		rejected: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_breaker_rejected_total",
			Help: "Calls failed fast, without calling the dependency, because its circuit breaker was open.",
		}, []string{"target"})).With(byTarget),
	}
	failures := max(cfg.BreakerFailures, 1)
	b.cb = gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
		Name:        target,
		MaxRequests: 1, // one probe while half-open
		Timeout:     cfg.BreakerOpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= failures
		},
		IsExcluded:    b.isExcluded,
		IsSuccessful:  b.isSuccessful,
		OnStateChange: b.onStateChange,
	})
	b.state.Set(stateValue(gobreaker.StateClosed))
	return b
}

// State returns the current state: "closed", "half-open" or "open".
func (b *Breaker) State() string {
	return b.cb.State().String()
}

// UnaryClientInterceptor returns the unary client interceptor that puts the
// breaker in front of every call. While the breaker is open (or its probe is
// in flight) calls fail at once with UNAVAILABLE "circuit breaker open for
// <target>", without reaching the network.
func (b *Breaker) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		span := trace.SpanFromContext(ctx)
		_, err := b.cb.Execute(func() (any, error) {
			if t := b.halfOpen.Swap(nil); t != nil {
				b.addEvent(span, *t) // this call is the probe
			}
			return nil, &outcome{err: invoker(ctx, method, req, reply, cc, opts...)}
		})
		if o, ok := err.(*outcome); ok {
			for _, t := range o.transitions {
				b.addEvent(span, t)
			}
			return o.err
		}
		// gobreaker.ErrOpenState or gobreaker.ErrTooManyRequests.
		b.rejected.Inc()
		return &openError{target: b.target}
	}
}

// ErrBreakerOpen matches (errors.Is) a call the breaker refused: it was
// never sent, so it had no effect on the dependency.
var ErrBreakerOpen = errors.New("circuit breaker open")

// openError is a refused call: UNAVAILABLE to gRPC (status.FromError reads
// GRPCStatus), and ErrBreakerOpen to errors.Is.
type openError struct{ target string }

func (e *openError) Error() string              { return "circuit breaker open for " + e.target }
func (e *openError) GRPCStatus() *status.Status { return status.New(codes.Unavailable, e.Error()) }
func (e *openError) Is(target error) bool       { return target == ErrBreakerOpen }

// isFailure reports whether code means the dependency is unhealthy.
func isFailure(code codes.Code) bool {
	switch code {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Internal, codes.Unknown:
		return true
	default:
		return false
	}
}

// isExcluded leaves out of the counts the calls cancelled by their caller.
func (b *Breaker) isExcluded(err error) bool {
	o, ok := err.(*outcome)
	return ok && status.Code(o.err) == codes.Canceled
}

// isSuccessful judges the outcome of a call; a panic in the call (err is not
// an outcome) is a failure.
func (b *Breaker) isSuccessful(err error) bool {
	o, _ := err.(*outcome)
	b.judged = o
	return o != nil && !isFailure(status.Code(o.err))
}

// onStateChange records a state change; gobreaker calls it under its mutex.
func (b *Breaker) onStateChange(_ string, from, to gobreaker.State) {
	b.state.Set(stateValue(to))
	b.transitions.WithLabelValues(from.String(), to.String()).Inc()
	level := slog.LevelInfo
	if to == gobreaker.StateOpen {
		level = slog.LevelWarn
	}
	b.logger.Log(context.Background(), level, "circuit breaker state change",
		"breaker.from", from.String(), "breaker.to", to.String())

	t := transition{from: from, to: to}
	switch {
	case to == gobreaker.StateHalfOpen:
		b.halfOpen.Store(&t)
	case b.judged != nil:
		// Leaving closed or half-open only happens right after a call was
		// judged, in the same critical section: judged is that call.
		b.halfOpen.Store(nil)
		b.judged.transitions = append(b.judged.transitions, t)
		b.judged = nil
	}
}

// addEvent adds the span event of state change t to span.
func (b *Breaker) addEvent(span trace.Span, t transition) {
	span.AddEvent("breaker.state_change", trace.WithAttributes(
		attribute.String("breaker.target", b.target),
		attribute.String("breaker.from", t.from.String()),
		attribute.String("breaker.to", t.to.String()),
	))
}

// stateValue is the gauge value of state s.
func stateValue(s gobreaker.State) float64 {
	switch s {
	case gobreaker.StateHalfOpen:
		return 1
	case gobreaker.StateOpen:
		return 2
	default:
		return 0
	}
}
