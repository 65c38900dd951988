package faultinject_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
	"github.com/chaoslab/chaoslab/services/faultinject"
)

// okPayments answers every Charge.
type okPayments struct {
	paymentsv1.UnimplementedPaymentsServiceServer
	calls atomic.Int32
}

func (p *okPayments) Charge(context.Context, *paymentsv1.ChargeRequest) (*paymentsv1.ChargeResponse, error) {
	p.calls.Add(1)
	return &paymentsv1.ChargeResponse{}, nil
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

func TestAbortClosesTheConnection(t *testing.T) {
	in := faultinject.NewInjector(nil, nil)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	counting := &countingListener{Listener: lis}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(in.UnaryServerInterceptor()))
	fake := &okPayments{}
	paymentsv1.RegisterPaymentsServiceServer(srv, fake)
	go func() { _ = srv.Serve(in.Listener(counting)) }()
	t.Cleanup(srv.Stop)

	cc, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDisableRetry())
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	client := paymentsv1.NewPaymentsServiceClient(cc)

	_, err = client.Charge(t.Context(), &paymentsv1.ChargeRequest{})
	require.NoError(t, err)
	require.Equal(t, int32(1), counting.accepted.Load())

	_, err = in.Set(faultinject.Fault{ID: "cut", Method: charge, Abort: true})
	require.NoError(t, err)
	_, err = client.Charge(t.Context(), &paymentsv1.ChargeRequest{})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	assert.NotEqual(t, "aborted", status.Convert(err).Message(),
		"the client saw the connection close, not an answer")
	assert.Equal(t, int32(1), fake.calls.Load(), "the handler did not run")

	require.True(t, in.Delete("cut"))
	_, err = client.Charge(t.Context(), &paymentsv1.ChargeRequest{})
	require.NoError(t, err)
	assert.Equal(t, int32(2), counting.accepted.Load(), "the client had to reconnect")
}
