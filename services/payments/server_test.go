package payments

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines to log into.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer serves store over gRPC on 127.0.0.1 and returns a client and the server's log.
func startServer(t *testing.T, store *Store) (paymentsv1.PaymentsServiceClient, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	srv := grpc.NewServer()
	paymentsv1.RegisterPaymentsServiceServer(srv, NewServer(store, slog.New(slog.NewJSONHandler(logs, nil))))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		require.NoError(t, <-served)
	})

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return paymentsv1.NewPaymentsServiceClient(conn), logs
}

func TestServerChargeAndRefund(t *testing.T) {
	client, _ := startServer(t, newTestStore(t))
	ctx := t.Context()

	req := &paymentsv1.ChargeRequest{IdempotencyKey: "k1", OrderId: "o1", AmountCents: 4200, PaymentMethod: MethodOK}
	charged, err := client.Charge(ctx, req)
	require.NoError(t, err)
	c := charged.GetCharge()
	assert.Regexp(t, `^ch_[0-9a-f]{16}$`, c.GetChargeId())
	assert.Equal(t, "k1", c.GetIdempotencyKey())
	assert.Equal(t, "o1", c.GetOrderId())
	assert.Equal(t, int64(4200), c.GetAmountCents())
	assert.Equal(t, paymentsv1.ChargeState_CHARGE_STATE_CAPTURED, c.GetState())
	require.NoError(t, c.GetCreatedAt().CheckValid())
	assert.Equal(t, c.GetCreatedAt().AsTime(), c.GetUpdatedAt().AsTime())

	retry, err := client.Charge(ctx, req)
	require.NoError(t, err)
	assert.True(t, proto.Equal(c, retry.GetCharge()), "a retried charge returns the same charge")

	// An empty payment method means card_ok.
	_, err = client.Charge(ctx, &paymentsv1.ChargeRequest{IdempotencyKey: "k2", OrderId: "o2", AmountCents: 100})
	require.NoError(t, err)

	refunded, err := client.Refund(ctx, &paymentsv1.RefundRequest{IdempotencyKey: "k1", OrderId: "o1"})
	require.NoError(t, err)
	assert.Equal(t, paymentsv1.ChargeState_CHARGE_STATE_REFUNDED, refunded.GetCharge().GetState())
	assert.Equal(t, c.GetChargeId(), refunded.GetCharge().GetChargeId())

	voided, err := client.Refund(ctx, &paymentsv1.RefundRequest{IdempotencyKey: "k3", OrderId: "o1"})
	require.NoError(t, err)
	assert.Equal(t, paymentsv1.ChargeState_CHARGE_STATE_VOIDED, voided.GetCharge().GetState())
	assert.Zero(t, voided.GetCharge().GetAmountCents())

	all, err := client.ListCharges(ctx, &paymentsv1.ListChargesRequest{})
	require.NoError(t, err)
	assert.Len(t, all.GetCharges(), 3)
	o1, err := client.ListCharges(ctx, &paymentsv1.ListChargesRequest{OrderId: "o1"})
	require.NoError(t, err)
	require.Len(t, o1.GetCharges(), 2)
	assert.True(t, proto.Equal(refunded.GetCharge(), o1.GetCharges()[0]))
	assert.True(t, proto.Equal(voided.GetCharge(), o1.GetCharges()[1]))
}

func TestServerErrorCodes(t *testing.T) {
	client, _ := startServer(t, newTestStore(t))
	ctx := t.Context()
	_, err := client.Charge(ctx, &paymentsv1.ChargeRequest{IdempotencyKey: "used", OrderId: "o1", AmountCents: 500})
	require.NoError(t, err)
	_, err = client.Refund(ctx, &paymentsv1.RefundRequest{IdempotencyKey: "tombstone", OrderId: "o2"})
	require.NoError(t, err)

	charge := func(key, order string, amount int64, method string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := client.Charge(ctx, &paymentsv1.ChargeRequest{
				IdempotencyKey: key, OrderId: order, AmountCents: amount, PaymentMethod: method,
			})
			return err
		}
	}
	refund := func(key, order string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := client.Refund(ctx, &paymentsv1.RefundRequest{IdempotencyKey: key, OrderId: order})
			return err
		}
	}
	tests := []struct {
		name     string
		call     func(context.Context) error
		wantCode codes.Code
		wantMsg  string
	}{
		{"charge without key", charge("", "o9", 100, ""), codes.InvalidArgument, "idempotency_key"},
		{"charge without order", charge("k9", "", 100, ""), codes.InvalidArgument, "order_id"},
		{"charge zero amount", charge("k9", "o9", 0, ""), codes.InvalidArgument, "amount_cents 0"},
		{"charge negative amount", charge("k9", "o9", -1, ""), codes.InvalidArgument, "amount_cents -1"},
		{"charge unknown method", charge("k9", "o9", 100, "bitcoin"), codes.InvalidArgument, `"bitcoin"`},
		{"charge declined", charge("k9", "o9", 100, MethodDeclined), codes.FailedPrecondition, "declined"},
		{"charge reused key other amount", charge("used", "o1", 501, ""), codes.AlreadyExists, `"used"`},
		{"charge reused key other order", charge("used", "o3", 500, ""), codes.AlreadyExists, `"used"`},
		{"charge after refund tombstone", charge("tombstone", "o2", 100, ""), codes.FailedPrecondition, `"tombstone"`},
		{"refund without key", refund("", "o1"), codes.InvalidArgument, "idempotency_key"},
		{"refund without order", refund("used", ""), codes.InvalidArgument, "order_id"},
		{"refund other order's key", refund("used", "o3"), codes.AlreadyExists, `"used"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(t.Context())
			require.Error(t, err)
			st := status.Convert(err)
			assert.Equal(t, tt.wantCode, st.Code(), "message: %s", st.Message())
			assert.Contains(t, st.Message(), tt.wantMsg)
		})
	}

	// None of the failed calls stored anything: only the two set-up rows exist.
	list, err := client.ListCharges(ctx, &paymentsv1.ListChargesRequest{})
	require.NoError(t, err)
	assert.Len(t, list.GetCharges(), 2)
}

func TestServerHidesAndLogsInternalErrors(t *testing.T) {
	store, err := OpenStore(t.Context(), filepath.Join(t.TempDir(), "payments.db"))
	require.NoError(t, err)
	client, logs := startServer(t, store)
	require.NoError(t, store.Close()) // every query now fails with an unexpected error

	_, err = client.Charge(t.Context(), &paymentsv1.ChargeRequest{IdempotencyKey: "k", OrderId: "o", AmountCents: 1})
	st := status.Convert(err)
	assert.Equal(t, codes.Internal, st.Code())
	assert.Equal(t, "internal error", st.Message(), "internal details must not leak to callers")
	assert.Contains(t, logs.String(), "database is closed")
	assert.Contains(t, logs.String(), "/payments.v1.PaymentsService/Charge")
}
