package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// GRPCServerMetrics counts and times the requests a gRPC server handles:
// bookings_grpc_server_handled_total{method,code} and
// bookings_grpc_server_handling_seconds{method}.
type GRPCServerMetrics struct {
	handled  *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewGRPCServerMetrics registers the metrics with reg.
func NewGRPCServerMetrics(reg prometheus.Registerer) *GRPCServerMetrics {
	m := &GRPCServerMetrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookings_grpc_server_handled_total",
			Help: "gRPC requests handled, by full method and status code.",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bookings_grpc_server_handling_seconds",
			Help:    "Time to handle a gRPC request, by full method.",
			Buckets: LatencyBuckets,
		}, []string{"method"}),
	}
	reg.MustRegister(m.handled, m.duration)
	return m
}

// UnaryServerInterceptor records every unary request. Install it first, so
// that it also sees the requests a later interceptor (a fault) answers.
func (m *GRPCServerMetrics) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		m.handled.WithLabelValues(info.FullMethod, status.Code(err).String()).Inc()
		m.duration.WithLabelValues(info.FullMethod).Observe(time.Since(start).Seconds())
		return resp, err
	}
}
