package resilience

import (
	"context"

	"google.golang.org/grpc"
)

// TimeoutInterceptor returns a unary client interceptor that, when
// cfg.Deadlines is on, bounds each call (all its retries included) by
// cfg.CallTimeout. An earlier deadline already in the context (propagated
// from the incoming request) still wins. With Deadlines off, calls pass
// through unchanged.
func TimeoutInterceptor(cfg Config) grpc.UnaryClientInterceptor {
	if !cfg.Deadlines || cfg.CallTimeout <= 0 {
		return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
	}
	timeout := cfg.CallTimeout
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}
