package resilience_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
)

// fakePayments answers Charge with the code set in code (OK by default) and
// counts the calls it served.
type fakePayments struct {
	paymentsv1.UnimplementedPaymentsServiceServer
	code   atomic.Uint32 // codes.Code
	calls  atomic.Int32
	charge func(ctx context.Context, n int32) error // overrides code when set
}

func (f *fakePayments) Charge(ctx context.Context, _ *paymentsv1.ChargeRequest) (*paymentsv1.ChargeResponse, error) {
	n := f.calls.Add(1)
	if f.charge != nil {
		if err := f.charge(ctx, n); err != nil {
			return nil, err
		}
		return &paymentsv1.ChargeResponse{}, nil
	}
	if c := codes.Code(f.code.Load()); c != codes.OK {
		return nil, status.Error(c, "fake "+c.String())
	}
	return &paymentsv1.ChargeResponse{}, nil
}

// serve serves fake on 127.0.0.1:0 and returns the address.
func serve(t *testing.T, fake *fakePayments, opts ...grpc.ServerOption) string {
	t.Helper()
	return serveWith(t, fake, func(*grpc.Server) {}, opts...)
}

// serveWith serves fake, and whatever register adds, on 127.0.0.1:0 and
// returns the address.
func serveWith(t *testing.T, fake *fakePayments, register func(*grpc.Server), opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(opts...)
	paymentsv1.RegisterPaymentsServiceServer(srv, fake)
	register(srv)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// dialPayments returns a PaymentsService client of addr.
func dialPayments(t *testing.T, addr string, opts ...grpc.DialOption) paymentsv1.PaymentsServiceClient {
	t.Helper()
	return paymentsv1.NewPaymentsServiceClient(connOf(t, addr, opts...))
}

// connOf returns a client connection to addr, closed at cleanup.
func connOf(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient(addr, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// counterValue returns the value of the counter or gauge family name whose
// labels include want, 0 when there is none.
func counterValue(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) float64 {
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
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}
