package grpcclient_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
	"github.com/chaoslab/chaoslab/services/internal/grpcclient"
	"github.com/chaoslab/chaoslab/services/internal/resilience"
)

// fakePayments fails Charge with the codes of fail in turn, then answers
// OK, and records the traceparent of every call.
type fakePayments struct {
	paymentsv1.UnimplementedPaymentsServiceServer
	block chan struct{} // when set, Charge waits on it or the deadline
	fail  []codes.Code
	calls atomic.Int32

	mu           sync.Mutex
	traceparents []string
}

func (f *fakePayments) Charge(ctx context.Context, _ *paymentsv1.ChargeRequest) (*paymentsv1.ChargeResponse, error) {
	n := int(f.calls.Add(1))
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.traceparents = append(f.traceparents, strings.Join(md.Get("traceparent"), ","))
	f.mu.Unlock()
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if n <= len(f.fail) {
		return nil, status.Error(f.fail[n-1], "fake failure")
	}
	return &paymentsv1.ChargeResponse{}, nil
}

// serve serves fake on 127.0.0.1:0 and returns its address.
func serve(t *testing.T, fake *fakePayments) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	paymentsv1.RegisterPaymentsServiceServer(srv, fake)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// options returns Options for the payments fake at addr with every
// resilience mechanism on, millisecond backoffs and a breaker that opens
// after 2 failures.
func options(addr string, reg prometheus.Registerer, tp trace.TracerProvider) grpcclient.Options {
	rc := resilience.DefaultConfig()
	rc.InitialBackoff, rc.MaxBackoff = time.Millisecond, 2*time.Millisecond
	rc.BreakerFailures, rc.BreakerOpenFor = 2, time.Hour
	return grpcclient.Options{
		Target:         addr,
		Name:           "payments",
		Services:       []string{"payments.v1.PaymentsService"},
		Resilience:     rc,
		Registerer:     reg,
		TracerProvider: tp,
		Propagator:     propagation.TraceContext{},
		Instrument:     true,
	}
}

// dial dials opts and closes the connection at cleanup.
func dial(t *testing.T, opts grpcclient.Options) paymentsv1.PaymentsServiceClient {
	t.Helper()
	cc, err := grpcclient.Dial(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	return paymentsv1.NewPaymentsServiceClient(cc)
}

func TestDialRetriesInstrumentsAndPropagates(t *testing.T) {
	fake := &fakePayments{fail: []codes.Code{codes.Unavailable}}
	reg := prometheus.NewRegistry()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	client := dial(t, options(serve(t, fake), reg, tp))

	ctx, parent := tp.Tracer("test").Start(t.Context(), "caller")
	_, err := client.Charge(ctx, &paymentsv1.ChargeRequest{IdempotencyKey: "k"})
	parent.End()
	require.NoError(t, err)
	require.Equal(t, int32(2), fake.calls.Load(), "the first attempt was retried")

	traceID := parent.SpanContext().TraceID().String()
	fake.mu.Lock()
	got := append([]string(nil), fake.traceparents...)
	fake.mu.Unlock()
	require.Len(t, got, 2)
	for _, header := range got {
		assert.Regexp(t, `^00-`+traceID+`-[0-9a-f]{16}-01$`, header, "W3C traceparent of the caller's trace")
	}
	assert.NotEqual(t, got[0], got[1], "each attempt has its own client span")

	var clientSpans int
	for _, s := range exp.GetSpans() {
		if s.SpanKind == trace.SpanKindClient {
			clientSpans++
			assert.Equal(t, traceID, s.SpanContext.TraceID().String())
			assert.Equal(t, parent.SpanContext().SpanID(), s.Parent.SpanID())
		}
	}
	assert.Equal(t, 2, clientSpans)

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP chaoslab_rpc_client_attempts_total gRPC call attempts sent on the wire, by dependency and full method.
# TYPE chaoslab_rpc_client_attempts_total counter
chaoslab_rpc_client_attempts_total{method="/payments.v1.PaymentsService/Charge",target="payments"} 2
# HELP chaoslab_rpc_client_retries_total gRPC call attempts after the first one made by the retry policy (grpc-go's transparent retries excluded), by dependency and full method.
# TYPE chaoslab_rpc_client_retries_total counter
chaoslab_rpc_client_retries_total{method="/payments.v1.PaymentsService/Charge",target="payments"} 1
# HELP chaoslab_rpc_client_requests_total gRPC calls made, by dependency, full method and status code (retries included in one call).
# TYPE chaoslab_rpc_client_requests_total counter
chaoslab_rpc_client_requests_total{code="OK",method="/payments.v1.PaymentsService/Charge",target="payments"} 1
# HELP chaoslab_breaker_state State of the circuit breaker of a dependency: 0 closed, 1 half-open, 2 open.
# TYPE chaoslab_breaker_state gauge
chaoslab_breaker_state{target="payments"} 0
`), "chaoslab_rpc_client_attempts_total", "chaoslab_rpc_client_retries_total",
		"chaoslab_rpc_client_requests_total", "chaoslab_breaker_state"))
}

func TestDialBreakerSeesCallsAfterRetries(t *testing.T) {
	// Every attempt fails: each call makes 3 attempts, and the breaker,
	// above the retries, counts one failure per call.
	fake := &fakePayments{fail: []codes.Code{
		codes.Unavailable, codes.Unavailable, codes.Unavailable,
		codes.Unavailable, codes.Unavailable, codes.Unavailable,
	}}
	reg := prometheus.NewRegistry()
	opts := options(serve(t, fake), reg, nil)
	opts.Resilience.RetryBudgetTokens = 0 // no budget: always 3 attempts
	client := dial(t, opts)

	for range 2 {
		_, err := client.Charge(t.Context(), &paymentsv1.ChargeRequest{})
		require.Equal(t, codes.Unavailable, status.Code(err))
	}
	require.Equal(t, int32(6), fake.calls.Load())

	_, err := client.Charge(t.Context(), &paymentsv1.ChargeRequest{})
	require.Equal(t, codes.Unavailable, status.Code(err))
	assert.Contains(t, err.Error(), "circuit breaker open for payments")
	assert.Equal(t, int32(6), fake.calls.Load(), "the open breaker did not call")

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP chaoslab_breaker_state State of the circuit breaker of a dependency: 0 closed, 1 half-open, 2 open.
# TYPE chaoslab_breaker_state gauge
chaoslab_breaker_state{target="payments"} 2
# HELP chaoslab_rpc_client_requests_total gRPC calls made, by dependency, full method and status code (retries included in one call).
# TYPE chaoslab_rpc_client_requests_total counter
chaoslab_rpc_client_requests_total{code="UNAVAILABLE",method="/payments.v1.PaymentsService/Charge",target="payments"} 3
`), "chaoslab_breaker_state", "chaoslab_rpc_client_requests_total"))
}

func TestDialDeadline(t *testing.T) {
	fake := &fakePayments{block: make(chan struct{})}
	opts := options(serve(t, fake), nil, nil)
	opts.Resilience.CallTimeout = 50 * time.Millisecond
	client := dial(t, opts)
	start := time.Now()
	_, err := client.Charge(t.Context(), &paymentsv1.ChargeRequest{})
	require.Equal(t, codes.DeadlineExceeded, status.Code(err))
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestDialEverythingOff(t *testing.T) {
	fake := &fakePayments{fail: []codes.Code{codes.Unavailable, codes.Unavailable, codes.Unavailable}}
	client := dial(t, grpcclient.Options{Target: serve(t, fake), Name: "payments", Resilience: resilience.Off()})
	for range 3 {
		_, err := client.Charge(t.Context(), &paymentsv1.ChargeRequest{})
		require.Equal(t, codes.Unavailable, status.Code(err))
	}
	assert.Equal(t, int32(3), fake.calls.Load(), "no retries, no breaker")
	_, err := client.Charge(t.Context(), &paymentsv1.ChargeRequest{})
	require.NoError(t, err)
}

func TestDialRejectsBadOptions(t *testing.T) {
	bad := resilience.DefaultConfig()
	bad.MaxAttempts = 9
	tests := []struct {
		name string
		opts grpcclient.Options
		want string
	}{
		{"no target", grpcclient.Options{Name: "payments"}, "no target address"},
		{"no name", grpcclient.Options{Target: "127.0.0.1:1"}, "no dependency name"},
		{"retries without services", grpcclient.Options{Target: "127.0.0.1:1", Name: "payments", Resilience: resilience.DefaultConfig()}, "no service names"},
		{"invalid resilience", grpcclient.Options{Target: "127.0.0.1:1", Name: "payments", Services: []string{"s"}, Resilience: bad}, "-retry-max-attempts"},
		{"registry target without a registry", grpcclient.Options{Target: "etcd:///chaoslab/orders_to_payments", Name: "payments"}, "needs a registry (-registry)"},
		{"malformed registry target", grpcclient.Options{Target: "etcd:///payments", Name: "payments"}, "want etcd:///chaoslab/<key>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := grpcclient.Dial(tt.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestDialRetryBudgetUnderConnectionResets calls a dependency whose every
// connection is reset before it is ready, as a proxy that resets
// connections or a crashing server would: the retries counted are exactly
// those the retry policy and the retry budget allow. (grpc-go begins some
// of these attempts twice and may retry one transparently; neither is a
// retry of the policy.)
func TestDialRetryBudgetUnderConnectionResets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*net.TCPConn).SetLinger(0) // close with RST
			_ = c.Close()
		}
	}()

	reg := prometheus.NewRegistry()
	opts := options(ln.Addr().String(), reg, nil)
	opts.Resilience = resilience.DefaultConfig()
	opts.Resilience.CallTimeout = 2 * time.Second
	opts.Resilience.BreakerFailures = 1000 // every call goes to the wire
	client := dial(t, opts)
	const calls = 10
	for range calls {
		_, err := client.Charge(t.Context(), &paymentsv1.ChargeRequest{IdempotencyKey: "k"})
		require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	}

	// gRPC's retry throttling: each failed attempt takes a token (the last
	// one of a call too); a call is retried while it has attempts left and
	// more than half the tokens are left.
	rc := opts.Resilience
	tokens, want := rc.RetryBudgetTokens, 0
	for range calls {
		for attempt := 1; ; attempt++ {
			tokens--
			if tokens <= rc.RetryBudgetTokens/2 || attempt == rc.MaxAttempts {
				break
			}
			want++
		}
	}
	require.Less(t, want, calls*(rc.MaxAttempts-1), "the budget, not the policy, must bound the retries here")
	assert.Equal(t, float64(want), counterSum(t, reg, "chaoslab_rpc_client_retries_total"))
}

// counterSum is the sum of the counter name over all its series in reg.
func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
