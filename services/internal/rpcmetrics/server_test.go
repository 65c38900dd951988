package rpcmetrics_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
	"github.com/chaoslab/chaoslab/services/internal/rpcmetrics"
)

// fakePayments answers Charge with charge.
type fakePayments struct {
	paymentsv1.UnimplementedPaymentsServiceServer
	charge func(context.Context, *paymentsv1.ChargeRequest) (*paymentsv1.ChargeResponse, error)
}

func (f *fakePayments) Charge(ctx context.Context, req *paymentsv1.ChargeRequest) (*paymentsv1.ChargeResponse, error) {
	return f.charge(ctx, req)
}

// startPayments serves fake on 127.0.0.1:0 and returns its address.
func startPayments(t *testing.T, fake *fakePayments, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(opts...)
	paymentsv1.RegisterPaymentsServiceServer(srv, fake)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// dial returns a client connection to addr with opts.
func dial(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient(addr, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// histogram returns the histogram of family name whose labels include want.
func histogram(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) *dto.Histogram {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := want[lp.GetName()]; ok && v != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetHistogram()
		}
	}
	t.Fatalf("no histogram %s%v", name, want)
	return nil
}

const chargeMethod = "/payments.v1.PaymentsService/Charge"

func TestServerUnaryInterceptor(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := rpcmetrics.NewServer(reg)
	release := make(chan struct{})
	fake := &fakePayments{charge: func(ctx context.Context, req *paymentsv1.ChargeRequest) (*paymentsv1.ChargeResponse, error) {
		switch req.GetPaymentMethod() {
		case "block":
			<-release
		case "card_declined":
			return nil, status.Error(codes.FailedPrecondition, "declined")
		}
		return &paymentsv1.ChargeResponse{}, nil
	}}
	addr := startPayments(t, fake, grpc.ChainUnaryInterceptor(m.UnaryInterceptor()))
	client := paymentsv1.NewPaymentsServiceClient(dial(t, addr))

	_, err := client.Charge(t.Context(), &paymentsv1.ChargeRequest{PaymentMethod: "card_ok"})
	require.NoError(t, err)
	_, err = client.Charge(t.Context(), &paymentsv1.ChargeRequest{PaymentMethod: "card_declined"})
	require.Equal(t, codes.FailedPrecondition, status.Code(err))

	// A call in flight shows in the gauge until it returns.
	done := make(chan error, 1)
	go func() {
		_, err := client.Charge(t.Context(), &paymentsv1.ChargeRequest{PaymentMethod: "block"})
		done <- err
	}()
	require.Eventually(t, func() bool {
		return gaugeValue(t, reg, "chaoslab_rpc_server_in_flight") == 1
	}, 5*time.Second, 5*time.Millisecond)
	close(release)
	require.NoError(t, <-done)

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP chaoslab_rpc_server_requests_total gRPC requests handled, by full method and status code.
# TYPE chaoslab_rpc_server_requests_total counter
chaoslab_rpc_server_requests_total{code="FAILED_PRECONDITION",method="/payments.v1.PaymentsService/Charge"} 1
chaoslab_rpc_server_requests_total{code="OK",method="/payments.v1.PaymentsService/Charge"} 2
# HELP chaoslab_rpc_server_in_flight gRPC requests being handled, by full method.
# TYPE chaoslab_rpc_server_in_flight gauge
chaoslab_rpc_server_in_flight{method="/payments.v1.PaymentsService/Charge"} 0
`), "chaoslab_rpc_server_requests_total", "chaoslab_rpc_server_in_flight"))

	h := histogram(t, reg, "chaoslab_rpc_server_duration_seconds", map[string]string{"method": chargeMethod})
	assert.Equal(t, uint64(3), h.GetSampleCount())
	assert.Len(t, h.GetBucket(), len(rpcmetrics.Buckets()), "classic buckets")
	assert.NotNil(t, h.Schema, "native histogram")
}

// gaugeValue sums the gauge family name.
func gaugeValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func TestServerExemplarCarriesTraceID(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := rpcmetrics.NewServer(reg)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(t.Context(), "handler")
	defer span.End()

	_, err := m.UnaryInterceptor()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: chargeMethod},
		func(context.Context, any) (any, error) { return nil, nil })
	require.NoError(t, err)

	h := histogram(t, reg, "chaoslab_rpc_server_duration_seconds", map[string]string{"method": chargeMethod})
	var traceIDs []string
	for _, b := range h.GetBucket() {
		for _, lp := range b.GetExemplar().GetLabel() {
			traceIDs = append(traceIDs, lp.GetName()+"="+lp.GetValue())
		}
	}
	for _, e := range h.GetExemplars() { // native histograms keep exemplars here
		for _, lp := range e.GetLabel() {
			traceIDs = append(traceIDs, lp.GetName()+"="+lp.GetValue())
		}
	}
	require.Contains(t, traceIDs, "trace_id="+span.SpanContext().TraceID().String())
}

func TestSharedRegistererAcrossInstances(t *testing.T) {
	reg := prometheus.NewRegistry()
	require.NotPanics(t, func() {
		rpcmetrics.NewServer(reg)
		rpcmetrics.NewServer(reg)
		rpcmetrics.NewHTTP(reg)
		rpcmetrics.NewHTTP(reg)
		rpcmetrics.NewClient(reg, "payments")
		rpcmetrics.NewClient(reg, "inventory")
	})
}
