package rpcmetrics_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
	"github.com/chaoslab/chaoslab/services/internal/rpcmetrics"
)

// retryServiceConfig retries every PaymentsService method on UNAVAILABLE, up
// to 3 attempts, with short backoffs.
const retryServiceConfig = `{
  "methodConfig": [{
    "name": [{"service": "payments.v1.PaymentsService"}],
    "retryPolicy": {
      "maxAttempts": 3,
      "initialBackoff": "0.001s",
      "maxBackoff": "0.01s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
}`

// TestClientCountsServiceConfigRetries checks against real grpc-go that the
// stats handler sees every attempt of a call retried by a service-config
// retry policy, and marks each retry on the caller's span.
func TestClientCountsServiceConfigRetries(t *testing.T) {
	var served atomic.Int32
	addr := startPayments(t, &fakePayments{charge: func(context.Context, *paymentsv1.ChargeRequest) (*paymentsv1.ChargeResponse, error) {
		if served.Add(1) <= 2 {
			return nil, status.Error(codes.Unavailable, "not yet")
		}
		return &paymentsv1.ChargeResponse{}, nil
	}})

	reg := prometheus.NewRegistry()
	m := rpcmetrics.NewClient(reg, "payments")
	rpcmetrics.NewClient(reg, "inventory") // shares the registerer
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	cc := dial(t, addr,
		grpc.WithDefaultServiceConfig(retryServiceConfig),
		grpc.WithChainUnaryInterceptor(m.UnaryInterceptor()),
		grpc.WithStatsHandler(m.StatsHandler()),
	)
	ctx, span := tp.Tracer("test").Start(t.Context(), "caller")
	_, err := paymentsv1.NewPaymentsServiceClient(cc).Charge(ctx, &paymentsv1.ChargeRequest{IdempotencyKey: "k"})
	span.End()
	require.NoError(t, err)
	require.Equal(t, int32(3), served.Load(), "the server saw 3 attempts")

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP chaoslab_rpc_client_attempts_total gRPC call attempts sent on the wire, by dependency and full method.
# TYPE chaoslab_rpc_client_attempts_total counter
chaoslab_rpc_client_attempts_total{method="/payments.v1.PaymentsService/Charge",target="payments"} 3
# HELP chaoslab_rpc_client_retries_total gRPC call attempts after the first one made by the retry policy (grpc-go's transparent retries excluded), by dependency and full method.
# TYPE chaoslab_rpc_client_retries_total counter
chaoslab_rpc_client_retries_total{method="/payments.v1.PaymentsService/Charge",target="payments"} 2
# HELP chaoslab_rpc_client_requests_total gRPC calls made, by dependency, full method and status code (retries included in one call).
# TYPE chaoslab_rpc_client_requests_total counter
chaoslab_rpc_client_requests_total{code="OK",method="/payments.v1.PaymentsService/Charge",target="payments"} 1
`), "chaoslab_rpc_client_attempts_total", "chaoslab_rpc_client_retries_total", "chaoslab_rpc_client_requests_total"))
	hist := histogram(t, reg, "chaoslab_rpc_client_duration_seconds", map[string]string{"target": "payments", "method": chargeMethod})
	assert.Equal(t, uint64(1), hist.GetSampleCount())

	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	var attempts []int64
	for _, ev := range spans[0].Events {
		require.Equal(t, "retry", ev.Name)
		attrs := attribute.NewSet(ev.Attributes...)
		method, _ := attrs.Value("rpc.method")
		peer, _ := attrs.Value("peer.service")
		attempt, ok := attrs.Value("rpc.attempt")
		require.True(t, ok)
		assert.Equal(t, attribute.INT64, attempt.Type())
		assert.Equal(t, chargeMethod, method.AsString())
		assert.Equal(t, "payments", peer.AsString())
		attempts = append(attempts, attempt.AsInt64())
	}
	assert.Equal(t, []int64{2, 3}, attempts)
}

func TestClientRecordsFailedCallOnce(t *testing.T) {
	addr := startPayments(t, &fakePayments{charge: func(context.Context, *paymentsv1.ChargeRequest) (*paymentsv1.ChargeResponse, error) {
		return nil, status.Error(codes.FailedPrecondition, "declined")
	}})
	reg := prometheus.NewRegistry()
	m := rpcmetrics.NewClient(reg, "payments")
	cc := dial(t, addr,
		grpc.WithDefaultServiceConfig(retryServiceConfig),
		grpc.WithChainUnaryInterceptor(m.UnaryInterceptor()),
		grpc.WithStatsHandler(m.StatsHandler()),
	)
	_, err := paymentsv1.NewPaymentsServiceClient(cc).Charge(t.Context(), &paymentsv1.ChargeRequest{})
	require.Equal(t, codes.FailedPrecondition, status.Code(err))

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP chaoslab_rpc_client_attempts_total gRPC call attempts sent on the wire, by dependency and full method.
# TYPE chaoslab_rpc_client_attempts_total counter
chaoslab_rpc_client_attempts_total{method="/payments.v1.PaymentsService/Charge",target="payments"} 1
# HELP chaoslab_rpc_client_requests_total gRPC calls made, by dependency, full method and status code (retries included in one call).
# TYPE chaoslab_rpc_client_requests_total counter
chaoslab_rpc_client_requests_total{code="FAILED_PRECONDITION",method="/payments.v1.PaymentsService/Charge",target="payments"} 1
`), "chaoslab_rpc_client_attempts_total", "chaoslab_rpc_client_retries_total", "chaoslab_rpc_client_requests_total"))
}

// TestClientCountsAttemptsThatRan: grpc-go reports the Begin of attempts
// that never run (a retry waiting for a connection can begin twice), and
// retries an attempt that never reached the server transparently, outside
// the retry policy and its budget. Attempts count when they end; a
// transparent retry is an attempt but not a retry and leaves no event.
func TestClientCountsAttemptsThatRan(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := rpcmetrics.NewClient(reg, "payments")
	h := m.StatsHandler()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	t0 := time.Now()
	attempts := []struct {
		transparent, ends bool
		begin             time.Time
	}{
		{ends: true, begin: t0}, // the first attempt, never reached the server
		{transparent: true, ends: true, begin: t0.Add(time.Millisecond)}, // grpc-go's transparent retry of it, failed on the wire
		{begin: t0.Add(30 * time.Millisecond)},                           // a retry that begins, waits, never runs
		{ends: true, begin: t0.Add(31 * time.Millisecond)},               // the retry by the policy
	}
	invoker := func(ctx context.Context, method string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		for _, a := range attempts {
			actx := h.TagRPC(ctx, &stats.RPCTagInfo{FullMethodName: method})
			h.HandleRPC(actx, &stats.Begin{Client: true, BeginTime: a.begin, IsTransparentRetryAttempt: a.transparent})
			if a.ends {
				h.HandleRPC(actx, &stats.End{Client: true})
			}
		}
		return nil
	}
	ctx, span := tp.Tracer("test").Start(t.Context(), "caller")
	require.NoError(t, m.UnaryInterceptor()(ctx, chargeMethod, nil, nil, nil, invoker))
	span.End()

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP chaoslab_rpc_client_attempts_total gRPC call attempts sent on the wire, by dependency and full method.
# TYPE chaoslab_rpc_client_attempts_total counter
chaoslab_rpc_client_attempts_total{method="/payments.v1.PaymentsService/Charge",target="payments"} 3
# HELP chaoslab_rpc_client_retries_total gRPC call attempts after the first one made by the retry policy (grpc-go's transparent retries excluded), by dependency and full method.
# TYPE chaoslab_rpc_client_retries_total counter
chaoslab_rpc_client_retries_total{method="/payments.v1.PaymentsService/Charge",target="payments"} 1
`), "chaoslab_rpc_client_attempts_total", "chaoslab_rpc_client_retries_total"))
	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	require.Len(t, spans[0].Events, 1)
	ev := spans[0].Events[0]
	assert.Equal(t, "retry", ev.Name)
	assert.Contains(t, ev.Attributes, attribute.Int("rpc.attempt", 2))
	assert.True(t, ev.Time.Equal(attempts[3].begin), "the event is at the retry's start, %s", ev.Time)
}
