package inventory

import (
	"bytes"
	"context"
	"fmt"
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

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
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
func startServer(t *testing.T, store *Store) (inventoryv1.InventoryServiceClient, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	srv := grpc.NewServer()
	inventoryv1.RegisterInventoryServiceServer(srv, NewServer(store, slog.New(slog.NewJSONHandler(logs, nil))))
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
	return inventoryv1.NewInventoryServiceClient(conn), logs
}

func reserveReq(id string, items ...*inventoryv1.Item) *inventoryv1.ReserveRequest {
	return &inventoryv1.ReserveRequest{ReservationId: id, Items: items}
}

func item(sku string, quantity int32) *inventoryv1.Item {
	return &inventoryv1.Item{Sku: sku, Quantity: quantity}
}

func TestServerReservationLifecycle(t *testing.T) {
	client, _ := startServer(t, newTestStore(t))
	ctx := t.Context()

	// The client's price is ignored: the server sets it from the catalog.
	resp, err := client.Reserve(ctx, reserveReq("order-1",
		&inventoryv1.Item{Sku: LimitedSKU, Quantity: 2, PriceCents: 1}, item("sku-1", 1)))
	require.NoError(t, err)
	want := &inventoryv1.Reservation{
		ReservationId: "order-1",
		State:         inventoryv1.ReservationState_RESERVATION_STATE_RESERVED,
		Items: []*inventoryv1.Item{
			{Sku: "sku-1", Quantity: 1, PriceCents: 1999},
			{Sku: LimitedSKU, Quantity: 2, PriceCents: 9999},
		},
		TotalCents: 1999 + 2*9999,
	}
	assert.True(t, proto.Equal(want, resp.GetReservation()), "got %v", resp.GetReservation())

	retry, err := client.Reserve(ctx, reserveReq("order-1", item(LimitedSKU, 2), item("sku-1", 1)))
	require.NoError(t, err)
	assert.True(t, proto.Equal(want, retry.GetReservation()), "a retried Reserve returns the same reservation")

	products, err := client.ListProducts(ctx, &inventoryv1.ListProductsRequest{})
	require.NoError(t, err)
	require.Len(t, products.GetProducts(), len(DefaultCatalog()))
	limited := products.GetProducts()[len(products.GetProducts())-1]
	assert.True(t, proto.Equal(&inventoryv1.Product{
		Sku: LimitedSKU, Name: "Limited edition pager", PriceCents: 9999, Available: 3, Reserved: 2,
	}, limited), "got %v", limited)

	committed, err := client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: "order-1"})
	require.NoError(t, err)
	assert.Equal(t, inventoryv1.ReservationState_RESERVATION_STATE_COMMITTED, committed.GetReservation().GetState())

	got, err := client.GetReservation(ctx, &inventoryv1.GetReservationRequest{ReservationId: "order-1"})
	require.NoError(t, err)
	assert.True(t, proto.Equal(committed.GetReservation(), got))

	released, err := client.Release(ctx, &inventoryv1.ReleaseRequest{ReservationId: "order-2"})
	require.NoError(t, err)
	assert.Equal(t, inventoryv1.ReservationState_RESERVATION_STATE_RELEASED, released.GetReservation().GetState())
	assert.Empty(t, released.GetReservation().GetItems())

	list, err := client.ListReservations(ctx, &inventoryv1.ListReservationsRequest{})
	require.NoError(t, err)
	require.Len(t, list.GetReservations(), 2)
	assert.True(t, proto.Equal(got, list.GetReservations()[0]))
	assert.True(t, proto.Equal(released.GetReservation(), list.GetReservations()[1]))
}

func TestServerErrorCodes(t *testing.T) {
	client, _ := startServer(t, newTestStore(t))
	ctx := t.Context()
	_, err := client.Reserve(ctx, reserveReq("committed", item("sku-1", 1)))
	require.NoError(t, err)
	_, err = client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: "committed"})
	require.NoError(t, err)
	_, err = client.Release(ctx, &inventoryv1.ReleaseRequest{ReservationId: "tombstone"})
	require.NoError(t, err)

	tooMany := make([]*inventoryv1.Item, MaxItems+1)
	for i := range tooMany {
		tooMany[i] = item(fmt.Sprintf("sku-%d", i%8+1), 1)
	}

	tests := []struct {
		name     string
		call     func(context.Context) error
		wantCode codes.Code
		wantMsg  string
	}{
		{"reserve without id", reserve(client, reserveReq("", item("sku-1", 1))), codes.InvalidArgument, "reservation_id"},
		{"reserve without items", reserve(client, reserveReq("r")), codes.InvalidArgument, "at least one item"},
		{"reserve zero quantity", reserve(client, reserveReq("r", item("sku-1", 0))), codes.InvalidArgument, "quantity 0"},
		{"reserve quantity over the limit", reserve(client, reserveReq("r", item("sku-1", MaxQuantity+1))), codes.InvalidArgument, "quantity 1001"},
		{"reserve empty sku", reserve(client, reserveReq("r", item("", 1))), codes.InvalidArgument, "sku is required"},
		{"reserve too many items", reserve(client, reserveReq("r", tooMany...)), codes.InvalidArgument, "51 items"},
		{"reserve unknown sku", reserve(client, reserveReq("r", item("sku-404", 1))), codes.NotFound, `"sku-404"`},
		{"reserve more than in stock", reserve(client, reserveReq("r", item(LimitedSKU, 6))), codes.FailedPrecondition, `"sku-limited"`},
		{"reserve after release", reserve(client, reserveReq("tombstone", item("sku-1", 1))), codes.FailedPrecondition, `"tombstone"`},
		{"release committed", func(ctx context.Context) error {
			_, err := client.Release(ctx, &inventoryv1.ReleaseRequest{ReservationId: "committed"})
			return err
		}, codes.FailedPrecondition, `"committed"`},
		{"release without id", func(ctx context.Context) error {
			_, err := client.Release(ctx, &inventoryv1.ReleaseRequest{})
			return err
		}, codes.InvalidArgument, "reservation_id"},
		{"commit released", func(ctx context.Context) error {
			_, err := client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: "tombstone"})
			return err
		}, codes.FailedPrecondition, `"tombstone"`},
		{"commit unknown", func(ctx context.Context) error {
			_, err := client.Commit(ctx, &inventoryv1.CommitRequest{ReservationId: "ghost"})
			return err
		}, codes.NotFound, `"ghost"`},
		{"commit without id", func(ctx context.Context) error {
			_, err := client.Commit(ctx, &inventoryv1.CommitRequest{})
			return err
		}, codes.InvalidArgument, "reservation_id"},
		{"get unknown", func(ctx context.Context) error {
			_, err := client.GetReservation(ctx, &inventoryv1.GetReservationRequest{ReservationId: "ghost"})
			return err
		}, codes.NotFound, `"ghost"`},
		{"get without id", func(ctx context.Context) error {
			_, err := client.GetReservation(ctx, &inventoryv1.GetReservationRequest{})
			return err
		}, codes.InvalidArgument, "reservation_id"},
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

	// None of the failed calls took stock.
	products, err := client.ListProducts(ctx, &inventoryv1.ListProductsRequest{})
	require.NoError(t, err)
	for _, p := range products.GetProducts() {
		assert.Zero(t, p.GetReserved(), "reserved stock of %s", p.GetSku())
	}
}

func reserve(client inventoryv1.InventoryServiceClient, req *inventoryv1.ReserveRequest) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := client.Reserve(ctx, req)
		return err
	}
}

func TestServerHidesAndLogsInternalErrors(t *testing.T) {
	store, err := OpenStore(t.Context(), filepath.Join(t.TempDir(), "inventory.db"))
	require.NoError(t, err)
	client, logs := startServer(t, store)
	require.NoError(t, store.Close()) // every query now fails with an unexpected error

	_, err = client.ListProducts(t.Context(), &inventoryv1.ListProductsRequest{})
	st := status.Convert(err)
	assert.Equal(t, codes.Internal, st.Code())
	assert.Equal(t, "internal error", st.Message(), "internal details must not leak to callers")
	assert.Contains(t, logs.String(), "database is closed")
	assert.Contains(t, logs.String(), "/inventory.v1.InventoryService/ListProducts")
}
