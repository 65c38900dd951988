package contracttest

import (
	"context"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
	"github.com/chaoslab/chaoslab/services/gateway"
)

// testJWTKey signs the bearer tokens of the gateways started by these tests.
const testJWTKey = "contract-test-key"

// call is one RPC that the fake orders service received.
type call struct {
	method string
	req    proto.Message
}

// fakeOrders is an orders gRPC server that answers with whatever answer
// returns and records every call.
type fakeOrders struct {
	ordersv1.UnimplementedOrdersServiceServer

	mu     sync.Mutex
	answer func(ctx context.Context, method string, req proto.Message) (proto.Message, error)
	calls  []call
}

func (f *fakeOrders) PlaceOrder(ctx context.Context, req *ordersv1.PlaceOrderRequest) (*ordersv1.PlaceOrderResponse, error) {
	resp, err := f.serve(ctx, "PlaceOrder", req)
	if err != nil {
		return nil, err
	}
	return resp.(*ordersv1.PlaceOrderResponse), nil
}

func (f *fakeOrders) GetOrder(ctx context.Context, req *ordersv1.GetOrderRequest) (*ordersv1.Order, error) {
	resp, err := f.serve(ctx, "GetOrder", req)
	if err != nil {
		return nil, err
	}
	return resp.(*ordersv1.Order), nil
}

func (f *fakeOrders) serve(ctx context.Context, method string, req proto.Message) (proto.Message, error) {
	f.mu.Lock()
	f.calls = append(f.calls, call{method: method, req: proto.Clone(req)})
	answer := f.answer
	f.mu.Unlock()
	return answer(ctx, method, req)
}

// setAnswer makes the fake answer every call with answer, and forgets the
// calls so far.
func (f *fakeOrders) setAnswer(answer func(ctx context.Context, method string, req proto.Message) (proto.Message, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer, f.calls = answer, nil
}

// recorded returns the calls since the last setAnswer.
func (f *fakeOrders) recorded() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// fakeCatalog is the gateway's inventory dependency: it answers a fixed
// catalog, or err when set (the pact is about orders only).
type fakeCatalog struct {
	mu  sync.Mutex
	err error
}

func (c *fakeCatalog) setErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

func (c *fakeCatalog) ListProducts(context.Context, *inventoryv1.ListProductsRequest, ...grpc.CallOption) (*inventoryv1.ListProductsResponse, error) {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &inventoryv1.ListProductsResponse{Products: []*inventoryv1.Product{
		{Sku: "sku-1", Name: "Chaos Monkey plush", PriceCents: 1999, Available: 10},
	}}, nil
}

// startFakeOrders serves f over gRPC on 127.0.0.1:0 and returns a client
// connection to it.
func startFakeOrders(t *testing.T, f *fakeOrders) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	ordersv1.RegisterOrdersServiceServer(srv, f)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		require.NoError(t, <-served)
	})
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// startGateway serves the real gateway handler over orders and catalog on
// 127.0.0.1:0 and returns its base URL and a valid bearer token (issued at
// opts.Now when set).
func startGateway(t *testing.T, orders ordersv1.OrdersServiceClient, catalog *fakeCatalog, opts gateway.Options) (baseURL, token string) {
	t.Helper()
	opts.JWTKey = []byte(testJWTKey)
	srv, err := gateway.NewServer(orders, catalog, opts)
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	token, err = gateway.MintToken(opts.JWTKey, "contract-test", time.Hour, now)
	require.NoError(t, err)
	return hs.URL, token
}
