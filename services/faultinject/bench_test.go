package faultinject_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/chaoslab/chaoslab/services/faultinject"
)

// noopHandler is a gRPC handler that does nothing.
func noopHandler(context.Context, any) (any, error) { return nil, nil }

// constRoute names every request "POST /v1/orders".
func constRoute(*http.Request) string { return placeOrder }

// elsewhere returns faults on a method and a route the benchmarks do not
// call.
func elsewhere() []faultinject.Fault {
	return []faultinject.Fault{
		{Method: refund, GRPCCode: "UNAVAILABLE"},
		{Method: "GET /v1/orders", HTTPStatus: 503},
	}
}

// newBenchInjector returns an Injector with faults set.
func newBenchInjector(tb testing.TB, faults ...faultinject.Fault) *faultinject.Injector {
	tb.Helper()
	in := faultinject.NewInjector(nil, nil)
	for _, f := range faults {
		_, err := in.Set(f)
		require.NoError(tb, err)
	}
	return in
}

func benchUnary(b *testing.B, in *faultinject.Injector) {
	icpt := in.UnaryServerInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: charge}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = icpt(ctx, nil, info, noopHandler)
	}
}

func benchHTTP(b *testing.B, in *faultinject.Injector) {
	h := in.HTTPMiddleware(constRoute, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(b.Context(), http.MethodPost, "/v1/orders", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(rec, req)
	}
}

func BenchmarkUnaryInterceptorNoFault(b *testing.B) { benchUnary(b, newBenchInjector(b)) }

func BenchmarkUnaryInterceptorFaultOnOtherMethod(b *testing.B) {
	benchUnary(b, newBenchInjector(b, elsewhere()...))
}

func BenchmarkHTTPMiddlewareNoFault(b *testing.B) { benchHTTP(b, newBenchInjector(b)) }

func BenchmarkHTTPMiddlewareFaultOnOtherRoute(b *testing.B) {
	benchHTTP(b, newBenchInjector(b, elsewhere()...))
}

// TestNoFaultPathDoesNotAllocate keeps the request path free when no fault
// applies.
func TestNoFaultPathDoesNotAllocate(t *testing.T) {
	for name, faults := range map[string][]faultinject.Fault{"no fault": nil, "fault elsewhere": elsewhere()} {
		t.Run(name, func(t *testing.T) {
			in := newBenchInjector(t, faults...)
			icpt := in.UnaryServerInterceptor()
			info := &grpc.UnaryServerInfo{FullMethod: charge}
			ctx := t.Context()
			assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = icpt(ctx, nil, info, noopHandler) }), "gRPC")

			h := in.HTTPMiddleware(constRoute, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			rec := httptest.NewRecorder()
			req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/orders", nil)
			assert.Zero(t, testing.AllocsPerRun(100, func() { h.ServeHTTP(rec, req) }), "HTTP")
		})
	}
}
