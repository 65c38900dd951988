package gateway

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Reasons of the rejection counter.
const (
	rejectRateLimited = "rate_limited"
	rejectOverloaded  = "overloaded"
)

// admission decides whether a request may be served at all: a token bucket
// for the whole gateway, a cap on requests in flight, and a deadline for each
// admitted request.
type admission struct {
	limiter  *rate.Limiter // nil: no rate limit
	slots    chan struct{} // nil: no concurrency limit
	timeout  time.Duration // 0: no deadline
	now      func() time.Time
	rejected *prometheus.CounterVec
}

// newAdmission builds the admission control of opts and registers its
// rejection counter with opts.Registerer when there is one.
func newAdmission(opts Options, now func() time.Time) (*admission, error) {
	switch {
	case opts.RateLimit < 0:
		return nil, fmt.Errorf("rate limit must not be negative, got %v", opts.RateLimit)
	case opts.MaxInFlight < 0:
		return nil, fmt.Errorf("max in flight must not be negative, got %d", opts.MaxInFlight)
	case opts.RequestTimeout < 0:
		return nil, fmt.Errorf("request timeout must not be negative, got %v", opts.RequestTimeout)
	}
	a := &admission{
		timeout: opts.RequestTimeout,
		now:     now,
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_gateway_rejected_total",
			Help: "Requests the gateway refused before serving them, by reason (rate_limited, overloaded).",
		}, []string{"reason"}),
	}
	if opts.RateLimit > 0 {
		a.limiter = rate.NewLimiter(opts.RateLimit, max(opts.Burst, 1))
	}
	if opts.MaxInFlight > 0 {
		a.slots = make(chan struct{}, opts.MaxInFlight)
	}
	// Export both series from the start, so that rates work from zero.
	a.rejected.WithLabelValues(rejectRateLimited)
	a.rejected.WithLabelValues(rejectOverloaded)
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(a.rejected); err != nil {
			return nil, fmt.Errorf("registering the gateway rejection counter: %w", err)
		}
	}
	return a, nil
}

// wrap returns next guarded by the admission control.
func (a *admission) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wait, ok := a.takeToken(); !ok {
			a.rejected.WithLabelValues(rejectRateLimited).Inc()
			writeProblem(w, r, rateLimitedProblem(wait))
			return
		}
		if a.slots != nil {
			select {
			case a.slots <- struct{}{}:
				defer func() { <-a.slots }()
			default:
				a.rejected.WithLabelValues(rejectOverloaded).Inc()
				writeProblem(w, r, overloadedProblem())
				return
			}
		}
		if a.timeout > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

// takeToken takes a token from the bucket without waiting. When the bucket is
// empty it reports how long until a token is there.
func (a *admission) takeToken() (time.Duration, bool) {
	if a.limiter == nil {
		return 0, true
	}
	now := a.now()
	res := a.limiter.ReserveN(now, 1)
	if !res.OK() {
		return time.Second, false
	}
	if wait := res.DelayFrom(now); wait > 0 {
		res.CancelAt(now)
		return wait, false
	}
	return 0, true
}
