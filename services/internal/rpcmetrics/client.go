package rpcmetrics

import (
	"context"
	"sync"
	"time"

	"github.com/chaoslab/chaoslab/services/internal/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// Client records RED metrics of the gRPC calls made to one dependency, and
// counts the attempts and retries that grpc-go makes below the interceptors:
//
//	chaoslab_rpc_client_requests_total{target,method,code}
//	chaoslab_rpc_client_duration_seconds{target,method}
//	chaoslab_rpc_client_attempts_total{target,method}
//	chaoslab_rpc_client_retries_total{target,method}
//
// A call is what the application asked for (one interceptor pass); an
// attempt is one try on the wire. Install both UnaryInterceptor and
// StatsHandler on the same ClientConn: the stats handler notes the attempts
// of a call, and the interceptor counts its retries when it is over.
type Client struct {
	target   string
	requests *prometheus.CounterVec // curried with target
	duration prometheus.ObserverVec // curried with target
	attempts *prometheus.CounterVec // curried with target
	retries  *prometheus.CounterVec // curried with target
}

// NewClient returns a Client for the dependency named target ("payments"),
// registered with reg. Clients of several targets may share reg.
func NewClient(reg prometheus.Registerer, target string) *Client {
	byTarget := prometheus.Labels{"target": target}
	return &Client{
		target: target,
		requests: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_rpc_client_requests_total",
			Help: "gRPC calls made, by dependency, full method and status code (retries included in one call).",
		}, []string{"target", "method", "code"})).MustCurryWith(byTarget),
		duration: telemetry.Register(reg, prometheus.NewHistogramVec(histogramOpts(
			"chaoslab_rpc_client_duration_seconds",
			"Time of a gRPC call, retries and backoff included, by dependency and full method.",
		), []string{"target", "method"})).MustCurryWith(byTarget),
		attempts: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_rpc_client_attempts_total",
			Help: "gRPC call attempts sent on the wire, by dependency and full method.",
		}, []string{"target", "method"})).MustCurryWith(byTarget),
		retries: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_rpc_client_retries_total",
			Help: "gRPC call attempts after the first one made by the retry policy (grpc-go's transparent retries excluded), by dependency and full method.",
		}, []string{"target", "method"})).MustCurryWith(byTarget),
	}
}

// call is the per-call state the interceptor puts in the context for the
// stats handler.
type call struct {
	span trace.Span // current span when the call began

	mu    sync.Mutex
	tries []time.Time // when each attempt that ran to its end began, transparent retries left out
}

// UnaryInterceptor returns a unary client interceptor that records every call
// and, once the call is over, its retries (counted by StatsHandler). Install
// it outermost.
func (c *Client) UnaryInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		st := &call{span: trace.SpanFromContext(ctx)}
		ctx = context.WithValue(ctx, c, st) // keyed by c: only this client's stats handler finds it
		start := time.Now()
		err := invoker(ctx, method, req, reply, cc, opts...)
		observe(ctx, c.duration.WithLabelValues(method), time.Since(start).Seconds())
		c.requests.WithLabelValues(method, CodeName(status.Code(err))).Inc()
		c.recordRetries(st, method)
		return err
	}
}

// recordRetries counts the attempts of a finished call after its first as
// retries, each with a span event "retry" at the time it began.
func (c *Client) recordRetries(st *call, method string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for i := 1; i < len(st.tries); i++ {
		c.retries.WithLabelValues(method).Inc()
		st.span.AddEvent("retry", trace.WithTimestamp(st.tries[i]), trace.WithAttributes(
			attribute.String("rpc.method", method),
			attribute.Int("rpc.attempt", i+1),
			attribute.String("peer.service", c.target),
		))
	}
}

// StatsHandler returns a gRPC stats handler that counts attempts, and the
// retries of the calls made through UnaryInterceptor. An attempt counts when
// it ends (stats.End): grpc-go also reports the Begin of attempts that never
// run (a retry waiting for a connection can begin twice), and it retries an
// attempt that never reached the server transparently, outside the retry
// policy and its budget; such a transparent retry is an attempt but not a
// retry. Each retry adds a span event "retry" (rpc.method, rpc.attempt,
// peer.service) to the span that was current when the call began, the
// caller's span, since each attempt gets its own client span from otelgrpc.
func (c *Client) StatsHandler() stats.Handler {
	return clientStats{c: c}
}

// clientStats is the stats.Handler of a Client.
type clientStats struct {
	c *Client
}

// attemptKey is the context key of an attempt, per Client: TagRPC puts the
// attempt in the context that grpc-go then passes to HandleRPC.
type attemptKey struct{ c *Client }

// attempt is one attempt of a call; call is nil for a call made without the
// interceptor (a streaming call).
type attempt struct {
	call        *call
	method      string
	begin       time.Time
	transparent bool
}

// TagRPC starts the record of one attempt.
func (h clientStats) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	st, _ := ctx.Value(h.c).(*call)
	return context.WithValue(ctx, attemptKey{h.c}, &attempt{call: st, method: info.FullMethodName})
}

// HandleRPC notes when an attempt begins and whether it is a transparent
// retry, and counts it when it ends.
func (h clientStats) HandleRPC(ctx context.Context, s stats.RPCStats) {
	a, ok := ctx.Value(attemptKey{h.c}).(*attempt)
	if !ok {
		return
	}
	switch s := s.(type) {
	case *stats.Begin:
		a.begin, a.transparent = s.BeginTime, s.IsTransparentRetryAttempt
	case *stats.End:
		h.c.attempts.WithLabelValues(a.method).Inc()
		if a.call == nil || a.transparent {
			return
		}
		a.call.mu.Lock()
		a.call.tries = append(a.call.tries, a.begin)
		a.call.mu.Unlock()
	}
}

// TagConn returns ctx unchanged.
func (clientStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

// HandleConn does nothing.
func (clientStats) HandleConn(context.Context, stats.ConnStats) {}
