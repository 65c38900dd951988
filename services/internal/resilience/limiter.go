package resilience

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/chaoslab/chaoslab/services/internal/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// healthPrefix is the prefix of the gRPC health service methods, which are
// never shed: an overloaded server is still alive.
const healthPrefix = "/grpc.health.v1.Health/"

// Limiter sheds load on a gRPC server: beyond a number of requests in
// flight it rejects new ones at once with RESOURCE_EXHAUSTED instead of
// queueing them, so that the requests it accepts still meet their deadlines.
// Rejections are counted in chaoslab_shed_total.
type Limiter struct {
	max      int64
	inFlight atomic.Int64
	shed     prometheus.Counter
}

// NewLimiter returns a Limiter of max requests in flight, registered with
// reg. max <= 0 means unlimited: the interceptor then costs nothing.
func NewLimiter(max int, reg prometheus.Registerer) *Limiter {
	return &Limiter{
		max: int64(max),
		shed: telemetry.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chaoslab_shed_total",
			Help: "gRPC requests rejected with RESOURCE_EXHAUSTED because too many were in flight.",
		})),
	}
}

// UnaryServerInterceptor returns the load-shedding unary server interceptor.
// Health checks bypass it.
func (l *Limiter) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	if l.max <= 0 {
		return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			return handler(ctx, req)
		}
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if strings.HasPrefix(info.FullMethod, healthPrefix) {
			return handler(ctx, req)
		}
		if l.inFlight.Add(1) > l.max {
			l.inFlight.Add(-1)
			l.shed.Inc()
			return nil, status.Error(codes.ResourceExhausted, "server overloaded")
		}
		defer l.inFlight.Add(-1)
		return handler(ctx, req)
	}
}
