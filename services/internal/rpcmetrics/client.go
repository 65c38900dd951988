package rpcmetrics

import (
	"context"
	"sync/atomic"
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
// StatsHandler on the same ClientConn: the interceptor starts a per-call
// attempt counter that the stats handler increments.
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
			Help: "gRPC call attempts after the first one (retries), by dependency and full method.",
		}, []string{"target", "method"})).MustCurryWith(byTarget),
	}
}

// call is the per-call state the interceptor puts in the context for the
// stats handler.
type call struct {
	attempts atomic.Int32
	span     trace.Span // current span when the call began
}

// UnaryInterceptor returns a unary client interceptor that records every call
// and prepares the attempt counting of StatsHandler. Install it outermost.
func (c *Client) UnaryInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		st := &call{span: trace.SpanFromContext(ctx)}
		ctx = context.WithValue(ctx, c, st) // keyed by c: only this client's stats handler finds it
		start := time.Now()
		err := invoker(ctx, method, req, reply, cc, opts...)
		observe(ctx, c.duration.WithLabelValues(method), time.Since(start).Seconds())
		c.requests.WithLabelValues(method, CodeName(status.Code(err))).Inc()
		return err
	}
}

// StatsHandler returns a gRPC stats handler that counts attempts and retries.
// grpc-go calls TagRPC once per attempt, including the retries made by a
// service-config retry policy and transparent retries. On each retry it adds
// a span event "retry" (rpc.method, rpc.attempt, peer.service) to the span
// that was current when the call began, the caller's span, since each
// attempt gets its own client span from otelgrpc.
func (c *Client) StatsHandler() stats.Handler {
	return clientStats{c: c}
}

// clientStats is the stats.Handler of a Client.
type clientStats struct {
	c *Client
}

// TagRPC counts one attempt of an RPC.
func (h clientStats) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	method := info.FullMethodName
	h.c.attempts.WithLabelValues(method).Inc()
	st, ok := ctx.Value(h.c).(*call)
	if !ok {
		return ctx // no interceptor (streaming call): attempts only
	}
	n := st.attempts.Add(1)
	if n > 1 {
		h.c.retries.WithLabelValues(method).Inc()
		st.span.AddEvent("retry", trace.WithAttributes(
			attribute.String("rpc.method", method),
			attribute.Int("rpc.attempt", int(n)),
			attribute.String("peer.service", h.c.target),
		))
	}
	return ctx
}

// HandleRPC does nothing.
func (clientStats) HandleRPC(context.Context, stats.RPCStats) {}

// TagConn returns ctx unchanged.
func (clientStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

// HandleConn does nothing.
func (clientStats) HandleConn(context.Context, stats.ConnStats) {}
