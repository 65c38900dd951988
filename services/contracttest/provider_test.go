package contracttest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/chaoslab/chaoslab/contracts/pact"
	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
	"github.com/chaoslab/chaoslab/services/internal/shoptest"
)

// provider is the real orders service (with real inventory and payments)
// that the pact is verified against.
type provider struct {
	conn      *grpc.ClientConn
	orders    ordersv1.OrdersServiceClient
	inventory inventoryv1.InventoryServiceClient
}

// stateFunc puts the provider in a state of the pact, or checks that it is
// in it, and returns the values that the state supplies to the request.
type stateFunc func(ctx context.Context, p provider, params map[string]string) (map[string]string, error)

// providerStates implements every state that the gateway's pact names.
func providerStates() map[string]stateFunc {
	return map[string]stateFunc{
		stateInStock: func(ctx context.Context, p provider, params map[string]string) (map[string]string, error) {
			return nil, p.checkStock(ctx, params, func(available, n int64) bool { return available >= n }, "at least")
		},
		stateStockAtMost: func(ctx context.Context, p provider, params map[string]string) (map[string]string, error) {
			return nil, p.checkStock(ctx, params, func(available, n int64) bool { return available <= n }, "at most")
		},
		stateNoProduct: func(ctx context.Context, p provider, params map[string]string) (map[string]string, error) {
			products, err := p.products(ctx)
			if err != nil {
				return nil, err
			}
			if _, ok := products[params["sku"]]; ok {
				return nil, fmt.Errorf("the catalog has %q", params["sku"])
			}
			return nil, nil
		},
		stateOrderPlaced: func(ctx context.Context, p provider, params map[string]string) (map[string]string, error) {
			key := params["idempotency_key"]
			resp, err := p.orders.PlaceOrder(ctx, &ordersv1.PlaceOrderRequest{
				IdempotencyKey: key, CustomerId: "c-state",
				Items: []*ordersv1.LineItem{{Sku: "sku-1", Quantity: 1}},
			})
			if err != nil {
				return nil, fmt.Errorf("placing the order of key %q: %w", key, err)
			}
			if st := resp.GetOrder().GetStatus(); st != ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED {
				return nil, fmt.Errorf("the order of key %q is %v", key, st)
			}
			return map[string]string{"order_id": resp.GetOrder().GetOrderId()}, nil
		},
		stateNoOrderWithID: func(ctx context.Context, p provider, params map[string]string) (map[string]string, error) {
			resp, err := p.orders.ListOrders(ctx, &ordersv1.ListOrdersRequest{})
			if err != nil {
				return nil, fmt.Errorf("listing orders: %w", err)
			}
			for _, o := range resp.GetOrders() {
				if o.GetOrderId() == params["order_id"] {
					return nil, fmt.Errorf("order %q exists", params["order_id"])
				}
			}
			return nil, nil
		},
	}
}

// products returns the available stock by SKU.
func (p provider) products(ctx context.Context) (map[string]int64, error) {
	resp, err := p.inventory.ListProducts(ctx, &inventoryv1.ListProductsRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing products: %w", err)
	}
	out := map[string]int64{}
	for _, pr := range resp.GetProducts() {
		out[pr.GetSku()] = pr.GetAvailable()
	}
	return out, nil
}

// checkStock checks the available stock of every SKU in params (SKU →
// units) with ok.
func (p provider) checkStock(ctx context.Context, params map[string]string, ok func(available, n int64) bool, what string) error {
	products, err := p.products(ctx)
	if err != nil {
		return err
	}
	for sku, units := range params {
		n, err := strconv.ParseInt(units, 10, 64)
		if err != nil {
			return fmt.Errorf("units of %s: %w", sku, err)
		}
		available, found := products[sku]
		if !found || !ok(available, n) {
			return fmt.Errorf("%s has %d units available (found: %t), the state needs %s %d", sku, available, found, what, n)
		}
	}
	return nil
}

// startProvider starts the real shop and returns its orders and inventory.
func startProvider(t *testing.T) provider {
	t.Helper()
	shop := shoptest.Start(t, shoptest.Options{Uninstrumented: true})
	conn := dial(t, shop.Hosts["orders"].Addr())
	return provider{
		conn:      conn,
		orders:    ordersv1.NewOrdersServiceClient(conn),
		inventory: inventoryv1.NewInventoryServiceClient(dial(t, shop.Hosts["inventory"].Addr())),
	}
}

// TestOrdersHonoursTheGatewayPact replays the committed pact against the
// real orders service and checks each answer has the code and every field
// the gateway reads.
func TestOrdersHonoursTheGatewayPact(t *testing.T) {
	p, err := pact.Read(pactFile)
	require.NoError(t, err)
	require.Equal(t, "orders", p.Provider)
	sd := ordersv1.File_orders_v1_orders_proto.Services().ByName("OrdersService")
	require.Equal(t, p.Service, string(sd.FullName()))
	for _, m := range p.Methods() {
		require.NotNil(t, sd.Methods().ByName(protoreflect.Name(m)), "orders has no method %s, which the gateway calls", m)
	}
	prov := startProvider(t)
	for _, in := range p.Interactions {
		t.Run(in.Description, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			assert.NoError(t, prov.verify(ctx, sd, in))
		})
	}
}

// TestPactVerificationCatchesADriftingProvider checks that the verification
// fails when orders no longer answers what the gateway reads, by tampering
// with the expectations instead of the provider.
func TestPactVerificationCatchesADriftingProvider(t *testing.T) {
	p, err := pact.Read(pactFile)
	require.NoError(t, err)
	byDescription := map[string]pact.Interaction{}
	for _, in := range p.Interactions {
		byDescription[in.Description] = in
	}
	tamper := func(description string, edit func(in *pact.Interaction)) pact.Interaction {
		in := byDescription[description]
		require.NotEmpty(t, in.Method, "the pact has no interaction %q", description)
		in.Response.Fields = append([]pact.Field(nil), in.Response.Fields...)
		edit(&in)
		return in
	}
	setField := func(in *pact.Interaction, path string, edit func(f *pact.Field)) {
		for i := range in.Response.Fields {
			if in.Response.Fields[i].Path == path {
				edit(&in.Response.Fields[i])
				return
			}
		}
		t.Fatalf("interaction %q reads no %s", in.Description, path)
	}
	tests := []struct {
		name string
		in   pact.Interaction
		want string
	}{
		{
			name: "another failure reason",
			in: tamper("placing an order paid with a declined card", func(in *pact.Interaction) {
				setField(in, "order.failure_reason", func(f *pact.Field) { f.Value = "card_declined" })
			}),
			want: `order.failure_reason: is "payment_declined", the consumer expects "card_declined"`,
		},
		{
			name: "a renumbered field",
			in: tamper("getting an order", func(in *pact.Interaction) {
				setField(in, "total_cents", func(f *pact.Field) { f.Number = 11 })
			}),
			want: "total_cents: field number is 5, the consumer expects 11",
		},
		{
			name: "a field the provider does not have",
			in: tamper("placing an order of products in stock", func(in *pact.Interaction) {
				in.Response.Fields = append(in.Response.Fields, pact.Field{Path: "order.currency", Number: 11, Type: "string", Match: pact.MatchType})
			}),
			want: `order.currency: the provider's orders.v1.Order has no field "currency"`,
		},
		{
			name: "a field the provider leaves empty",
			in: tamper("placing an order of an unknown product", func(in *pact.Interaction) {
				in.Response.Fields = append(in.Response.Fields, pact.Field{Path: "order.charge_id", Number: 8, Type: "string", Match: pact.MatchType})
			}),
			want: "order.charge_id: is not set",
		},
		{
			name: "another code",
			in: tamper("getting an unknown order", func(in *pact.Interaction) {
				in.Response.Code = "INVALID_ARGUMENT"
			}),
			want: "the gateway expects INVALID_ARGUMENT",
		},
		{
			name: "an unimplemented provider state",
			in: tamper("getting an order", func(in *pact.Interaction) {
				in.State = &pact.State{Name: "an order was shipped"}
			}),
			want: `provider state "an order was shipped" is not implemented`,
		},
	}
	sd := ordersv1.File_orders_v1_orders_proto.Services().ByName("OrdersService")
	prov := startProvider(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err := prov.verify(ctx, sd, tt.in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// verify replays one interaction: it sets up its provider state, sends its
// request and checks the answer.
func (p provider) verify(ctx context.Context, sd protoreflect.ServiceDescriptor, in pact.Interaction) error {
	var supplied map[string]string
	if in.State != nil {
		setup, ok := providerStates()[in.State.Name]
		if !ok {
			return fmt.Errorf("provider state %q is not implemented by this test; implement it in providerStates", in.State.Name)
		}
		var err error
		if supplied, err = setup(ctx, p, in.State.Params); err != nil {
			return fmt.Errorf("provider state %q: %w", in.State.Name, err)
		}
	}
	md := sd.Methods().ByName(protoreflect.Name(in.Method))
	if md == nil {
		return fmt.Errorf("%s has no method %s", sd.FullName(), in.Method)
	}
	req, err := newRequest(md.Input(), in, supplied)
	if err != nil {
		return err
	}
	resp, err := newMessage(md.Output())
	if err != nil {
		return err
	}
	wantCode, err := parseCode(in.Response.Code)
	if err != nil {
		return err
	}
	callErr := p.invoke(ctx, sd, md, req, resp)
	if got := status.Code(callErr); got != wantCode {
		return fmt.Errorf("%s answered %s (%v); the gateway expects %s", in.Method, codeName(got), callErr, in.Response.Code)
	}
	if callErr != nil {
		return nil
	}
	if errs := pact.Check(resp, in.Response.Fields); len(errs) > 0 {
		return fmt.Errorf("%s answer %v: %w", in.Method, resp, errors.Join(errs...))
	}
	return nil
}

// invoke calls the method by its full gRPC name, as a client generated from
// the pact's service would.
func (p provider) invoke(ctx context.Context, sd protoreflect.ServiceDescriptor, md protoreflect.MethodDescriptor, req, resp proto.Message) error {
	return p.conn.Invoke(ctx, fmt.Sprintf("/%s/%s", sd.FullName(), md.Name()), req, resp)
}

// newRequest builds the request of an interaction: its recorded JSON, with
// the fields that the provider state supplies.
func newRequest(md protoreflect.MessageDescriptor, in pact.Interaction, supplied map[string]string) (proto.Message, error) {
	req, err := newMessage(md)
	if err != nil {
		return nil, err
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(in.Request, req); err != nil {
		return nil, fmt.Errorf("decoding the request of %q: %w", in.Description, err)
	}
	for field, param := range in.RequestFromState {
		fd := md.Fields().ByName(protoreflect.Name(field))
		if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() {
			return nil, fmt.Errorf("request field %q of %q is not a string field of %s", field, in.Description, md.FullName())
		}
		v, ok := supplied[param]
		if !ok {
			return nil, fmt.Errorf("provider state %q supplies no %q for request field %q", in.State.Name, param, field)
		}
		req.ProtoReflect().Set(fd, protoreflect.ValueOfString(v))
	}
	return req, nil
}

// newMessage returns an empty message of the generated type of md.
func newMessage(md protoreflect.MessageDescriptor) (proto.Message, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		return nil, fmt.Errorf("message type %s: %w", md.FullName(), err)
	}
	return mt.New().Interface(), nil
}

// dial returns a client connection to a gRPC server on 127.0.0.1.
func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}
