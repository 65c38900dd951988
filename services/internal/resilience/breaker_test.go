package resilience_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
	"github.com/chaoslab/chaoslab/services/internal/resilience"
)

// breakerConfig returns a Config with the breaker on, opening after failures
// failures for openFor.
func breakerConfig(failures uint32, openFor time.Duration) resilience.Config {
	cfg := resilience.Off()
	cfg.Breaker, cfg.BreakerFailures, cfg.BreakerOpenFor = true, failures, openFor
	return cfg
}

// tracing returns a tracer provider that keeps the ended spans in memory.
func tracing(t *testing.T) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, exp
}

// stateChanges returns the "breaker.state_change" events of the span named
// name, as "from->to".
func stateChanges(t *testing.T, exp *tracetest.InMemoryExporter, name string) []string {
	t.Helper()
	var got []string
	found := false
	for _, s := range exp.GetSpans() {
		if s.Name != name {
			continue
		}
		found = true
		for _, ev := range s.Events {
			require.Equal(t, "breaker.state_change", ev.Name)
			attrs := attribute.NewSet(ev.Attributes...)
			target, _ := attrs.Value("breaker.target")
			from, _ := attrs.Value("breaker.from")
			to, _ := attrs.Value("breaker.to")
			assert.Equal(t, "payments", target.AsString())
			got = append(got, from.AsString()+"->"+to.AsString())
		}
	}
	require.True(t, found, "no span %q", name)
	return got
}

func TestBreakerOpensFailsFastAndCloses(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	b := resilience.NewBreaker("payments", breakerConfig(3, 50*time.Millisecond), reg,
		slog.New(slog.NewJSONHandler(&logs, nil)))
	fake := &fakePayments{}
	client := dialPayments(t, serve(t, fake), grpc.WithDisableRetry(),
		grpc.WithChainUnaryInterceptor(b.UnaryClientInterceptor()))
	tp, exp := tracing(t)
	call := func(spanName string) error {
		ctx, span := tp.Tracer("test").Start(t.Context(), spanName)
		defer span.End()
		_, err := client.Charge(ctx, &paymentsv1.ChargeRequest{IdempotencyKey: "k"})
		return err
	}
	state := func() float64 {
		return counterValue(t, reg, "chaoslab_breaker_state", map[string]string{"target": "payments"})
	}
	transitions := func(from, to string) float64 {
		return counterValue(t, reg, "chaoslab_breaker_transitions_total",
			map[string]string{"target": "payments", "from": from, "to": to})
	}

	// Three consecutive failures open the breaker.
	fake.code.Store(uint32(codes.Unavailable))
	require.Equal(t, codes.Unavailable, status.Code(call("fail-1")))
	require.Equal(t, codes.Unavailable, status.Code(call("fail-2")))
	assert.Equal(t, "closed", b.State())
	require.Equal(t, codes.Unavailable, status.Code(call("trip")))
	assert.Equal(t, "open", b.State())
	assert.Equal(t, 2.0, state())
	assert.Equal(t, int32(3), fake.calls.Load())

	// While open, calls fail fast without reaching the server.
	fake.code.Store(uint32(codes.OK))
	for range 2 {
		err := call("rejected")
		require.Equal(t, codes.Unavailable, status.Code(err))
		assert.Equal(t, "circuit breaker open for payments", status.Convert(err).Message())
	}
	assert.Equal(t, int32(3), fake.calls.Load(), "the server was not called while open")
	assert.Equal(t, 2.0, counterValue(t, reg, "chaoslab_breaker_rejected_total", map[string]string{"target": "payments"}))

	// After the open period one probe goes through; its success closes.
	require.Eventually(t, func() bool { return b.State() == "half-open" }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 1.0, state())
	require.NoError(t, call("probe"))
	assert.Equal(t, "closed", b.State())
	assert.Equal(t, 0.0, state())
	assert.Equal(t, int32(4), fake.calls.Load())

	assert.Equal(t, 1.0, transitions("closed", "open"))
	assert.Equal(t, 1.0, transitions("open", "half-open"))
	assert.Equal(t, 1.0, transitions("half-open", "closed"))

	assert.Empty(t, stateChanges(t, exp, "fail-1"))
	assert.Empty(t, stateChanges(t, exp, "fail-2"))
	assert.Equal(t, []string{"closed->open"}, stateChanges(t, exp, "trip"))
	assert.Empty(t, stateChanges(t, exp, "rejected"))
	assert.Equal(t, []string{"open->half-open", "half-open->closed"}, stateChanges(t, exp, "probe"))

	var lines []map[string]any
	dec := json.NewDecoder(&logs)
	for dec.More() {
		var line map[string]any
		require.NoError(t, dec.Decode(&line))
		lines = append(lines, line)
	}
	require.Len(t, lines, 3)
	assert.Equal(t, "circuit breaker state change", lines[0]["msg"])
	assert.Equal(t, "WARN", lines[0]["level"])
	assert.Equal(t, "payments", lines[0]["breaker.target"])
	assert.Equal(t, "open", lines[0]["breaker.to"])
	assert.Equal(t, "closed", lines[2]["breaker.to"])
}

func TestBreakerFailedProbeReopens(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := resilience.NewBreaker("payments", breakerConfig(1, 20*time.Millisecond), reg, nil)
	fake := &fakePayments{}
	fake.code.Store(uint32(codes.DeadlineExceeded))
	client := dialPayments(t, serve(t, fake), grpc.WithDisableRetry(),
		grpc.WithChainUnaryInterceptor(b.UnaryClientInterceptor()))

	_, err := client.Charge(t.Context(), &paymentsv1.ChargeRequest{})
	require.Equal(t, codes.DeadlineExceeded, status.Code(err))
	require.Equal(t, "open", b.State())
	require.Eventually(t, func() bool { return b.State() == "half-open" }, 5*time.Second, time.Millisecond)
	_, err = client.Charge(t.Context(), &paymentsv1.ChargeRequest{})
	require.Equal(t, codes.DeadlineExceeded, status.Code(err), "the probe reached the server")
	assert.Equal(t, "open", b.State())
	assert.Equal(t, int32(2), fake.calls.Load())
	assert.Equal(t, 1.0, counterValue(t, reg, "chaoslab_breaker_transitions_total",
		map[string]string{"from": "half-open", "to": "open"}))
}

// invokerOf returns an invoker that answers with the codes of seq in turn
// and counts its calls.
func invokerOf(calls *int, seq ...codes.Code) grpc.UnaryInvoker {
	return func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		c := seq[*calls%len(seq)]
		*calls++
		if c == codes.OK {
			return nil
		}
		return status.Error(c, c.String())
	}
}

func TestBreakerJudgesCodes(t *testing.T) {
	const u, ok = codes.Unavailable, codes.OK
	tests := []struct {
		name string
		seq  []codes.Code
		want string
	}{
		{"unavailable trips", []codes.Code{u, u, u}, "open"},
		{"deadline exceeded trips", []codes.Code{codes.DeadlineExceeded, codes.DeadlineExceeded, codes.DeadlineExceeded}, "open"},
		{"resource exhausted trips", []codes.Code{codes.ResourceExhausted, codes.ResourceExhausted, codes.ResourceExhausted}, "open"},
		{"internal and unknown trip", []codes.Code{codes.Internal, codes.Unknown, codes.Internal}, "open"},
		{"failed precondition is an answer", []codes.Code{codes.FailedPrecondition, codes.FailedPrecondition, codes.FailedPrecondition}, "closed"},
		{"not found is an answer", []codes.Code{codes.NotFound, codes.NotFound, codes.NotFound}, "closed"},
		{"already exists is an answer", []codes.Code{codes.AlreadyExists, codes.AlreadyExists, codes.AlreadyExists}, "closed"},
		{"invalid argument is an answer", []codes.Code{codes.InvalidArgument, codes.InvalidArgument, codes.InvalidArgument}, "closed"},
		{"an answer resets the count", []codes.Code{u, u, codes.NotFound, u, u}, "closed"},
		{"a success resets the count", []codes.Code{u, u, ok, u, u}, "closed"},
		{"cancelled calls do not count", []codes.Code{u, codes.Canceled, u, codes.Canceled, u}, "open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := resilience.NewBreaker("payments", breakerConfig(3, time.Hour), prometheus.NewRegistry(), nil)
			calls := 0
			icpt := b.UnaryClientInterceptor()
			for range tt.seq {
				_ = icpt(t.Context(), "/payments.v1.PaymentsService/Charge", nil, nil, nil, invokerOf(&calls, tt.seq...))
			}
			assert.Equal(t, len(tt.seq), calls)
			assert.Equal(t, tt.want, b.State())
		})
	}
}

// TestBreakerAttributesStateChangesUnderConcurrency checks that each state
// change lands on exactly one call's span when many calls race.
func TestBreakerAttributesStateChangesUnderConcurrency(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := resilience.NewBreaker("payments", breakerConfig(2, time.Millisecond), reg, nil)
	tp, exp := tracing(t)
	icpt := b.UnaryClientInterceptor()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			calls := g // each goroutine starts elsewhere in the sequence
			for range 100 {
				ctx, span := tp.Tracer("test").Start(t.Context(), "call")
				_ = icpt(ctx, "/payments.v1.PaymentsService/Charge", nil, nil, nil,
					invokerOf(&calls, codes.Unavailable, codes.Unavailable, codes.OK))
				span.End()
			}
		})
	}
	wg.Wait()

	events := map[string]float64{}
	for _, s := range exp.GetSpans() {
		for _, ev := range s.Events {
			attrs := attribute.NewSet(ev.Attributes...)
			from, _ := attrs.Value("breaker.from")
			to, _ := attrs.Value("breaker.to")
			events[from.AsString()+"->"+to.AsString()]++
		}
	}
	transitions := func(from, to string) float64 {
		return counterValue(t, reg, "chaoslab_breaker_transitions_total", map[string]string{"from": from, "to": to})
	}
	require.Positive(t, transitions("closed", "open"), "the breaker never opened: the test proves nothing")
	assert.Equal(t, transitions("closed", "open"), events["closed->open"])
	assert.Equal(t, transitions("half-open", "open"), events["half-open->open"])
	assert.Equal(t, transitions("half-open", "closed"), events["half-open->closed"])
	assert.LessOrEqual(t, events["open->half-open"], transitions("open", "half-open"))
	assert.GreaterOrEqual(t, events["open->half-open"], transitions("open", "half-open")-1)
}
