package rpcmetrics

import (
	"context"
	"time"

	"github.com/chaoslab/chaoslab/services/internal/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Server records RED metrics of a gRPC server:
//
//	chaoslab_rpc_server_requests_total{method,code}
//	chaoslab_rpc_server_duration_seconds{method}
//	chaoslab_rpc_server_in_flight{method}
//
// where method is the full gRPC method name ("/payments.v1.PaymentsService/Charge")
// and code the canonical status code name ("OK", "UNAVAILABLE").
type Server struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight *prometheus.GaugeVec
}

// NewServer returns a Server whose collectors are registered with reg.
func NewServer(reg prometheus.Registerer) *Server {
	return &Server{
		requests: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_rpc_server_requests_total",
			Help: "gRPC requests handled, by full method and status code.",
		}, []string{"method", "code"})),
		duration: telemetry.Register(reg, prometheus.NewHistogramVec(histogramOpts(
			"chaoslab_rpc_server_duration_seconds",
			"Time to handle a gRPC request, by full method.",
		), []string{"method"})),
		inFlight: telemetry.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "chaoslab_rpc_server_in_flight",
			Help: "gRPC requests being handled, by full method.",
		}, []string{"method"})),
	}
}

// UnaryInterceptor returns a unary server interceptor that records every call.
// Install it outermost so that the duration includes the other interceptors
// (fault injection, load shedding).
func (s *Server) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		inFlight := s.inFlight.WithLabelValues(info.FullMethod)
		inFlight.Inc()
		defer inFlight.Dec()
		start := time.Now()
		resp, err := handler(ctx, req)
		observe(ctx, s.duration.WithLabelValues(info.FullMethod), time.Since(start).Seconds())
		s.requests.WithLabelValues(info.FullMethod, CodeName(status.Code(err))).Inc()
		return resp, err
	}
}
