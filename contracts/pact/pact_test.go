package pact

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
)

// confirmed is an answer of orders to PlaceOrder with every field set.
func confirmed() *ordersv1.PlaceOrderResponse {
	at := timestamppb.New(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	return &ordersv1.PlaceOrderResponse{Order: &ordersv1.Order{
		OrderId: "ord-1", IdempotencyKey: "key-1", CustomerId: "c-1",
		Items: []*ordersv1.LineItem{
			{Sku: "sku-1", Quantity: 2, UnitPriceCents: 1999},
			{Sku: "sku-2", Quantity: 1, UnitPriceCents: 1299},
		},
		TotalCents: 5297, Status: ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED,
		FailureReason: "", ChargeId: "ch-1", CreatedAt: at, UpdatedAt: at,
	}}
}

// toyConsumer reads status to decide, failure reason when FAILED, and
// echoes order_id, the items' SKUs and created_at.
func toyConsumer(resp proto.Message) (Outcome, error) {
	o := resp.(*ordersv1.PlaceOrderResponse).GetOrder()
	var decision string
	switch o.GetStatus() {
	case ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED:
		decision = "201"
	case ordersv1.OrderStatus_ORDER_STATUS_FAILED:
		decision = map[string]string{"out_of_stock": "409"}[o.GetFailureReason()]
	default:
		decision = "502"
	}
	var skus []string
	for _, it := range o.GetItems() {
		skus = append(skus, it.GetSku())
	}
	return Outcome{Decision: decision, Output: fmt.Sprint(o.GetOrderId(), skus, o.GetCreatedAt().AsTime())}, nil
}

func TestFieldsFindsWhatTheConsumerReads(t *testing.T) {
	failed := &ordersv1.PlaceOrderResponse{Order: &ordersv1.Order{
		OrderId: "ord-2", CustomerId: "c-1", Status: ordersv1.OrderStatus_ORDER_STATUS_FAILED, FailureReason: "out_of_stock",
	}}
	tests := []struct {
		name string
		resp proto.Message
		want []Field
	}{
		{
			name: "confirmed order",
			resp: confirmed(),
			want: []Field{
				{Path: "order", Number: 1, Type: "message orders.v1.Order", Match: MatchType},
				{Path: "order.order_id", Number: 1, Type: "string", Match: MatchType},
				{Path: "order.items", Number: 4, Type: "repeated message orders.v1.LineItem", Match: MatchType},
				{Path: "order.items[].sku", Number: 1, Type: "string", Match: MatchType},
				{Path: "order.status", Number: 6, Type: "enum orders.v1.OrderStatus", Match: MatchEquals, Value: "ORDER_STATUS_CONFIRMED"},
				{Path: "order.created_at", Number: 9, Type: "message google.protobuf.Timestamp", Match: MatchType},
			},
		},
		{
			name: "failed order: the reason decides",
			resp: failed,
			want: []Field{
				{Path: "order", Number: 1, Type: "message orders.v1.Order", Match: MatchType},
				{Path: "order.order_id", Number: 1, Type: "string", Match: MatchType},
				{Path: "order.status", Number: 6, Type: "enum orders.v1.OrderStatus", Match: MatchEquals, Value: "ORDER_STATUS_FAILED"},
				{Path: "order.failure_reason", Number: 7, Type: "string", Match: MatchEquals, Value: "out_of_stock"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := proto.Clone(tt.resp)
			got, err := Fields(tt.resp, toyConsumer)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.True(t, proto.Equal(before, tt.resp), "probing must not change the recorded answer")
			assert.Empty(t, Check(tt.resp, got), "the recorded answer must satisfy its own expectations")
		})
	}
}

func TestFieldsReportsTheObserversError(t *testing.T) {
	_, err := Fields(confirmed(), func(proto.Message) (Outcome, error) { return Outcome{}, os.ErrDeadlineExceeded })
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
}

func TestCheck(t *testing.T) {
	fields := []Field{
		{Path: "order", Number: 1, Type: "message orders.v1.Order", Match: MatchType},
		{Path: "order.order_id", Number: 1, Type: "string", Match: MatchType},
		{Path: "order.items", Number: 4, Type: "repeated message orders.v1.LineItem", Match: MatchType},
		{Path: "order.items[].quantity", Number: 2, Type: "int32", Match: MatchType},
		{Path: "order.status", Number: 6, Type: "enum orders.v1.OrderStatus", Match: MatchEquals, Value: "ORDER_STATUS_CONFIRMED"},
		{Path: "order.total_cents", Number: 5, Type: "int64", Match: MatchType},
		{Path: "order.created_at", Number: 9, Type: "message google.protobuf.Timestamp", Match: MatchType},
	}
	tests := []struct {
		name   string
		edit   func(o *ordersv1.Order)
		fields func([]Field) []Field
		want   []string // error texts, in field order
	}{
		{name: "every expectation holds", edit: func(*ordersv1.Order) {}},
		{
			name: "a read field is empty",
			edit: func(o *ordersv1.Order) { o.OrderId = "" },
			want: []string{"order.order_id: is not set (zero or empty); the consumer reads it"},
		},
		{
			name: "an element of a list lacks a read field",
			edit: func(o *ordersv1.Order) { o.Items[1].Quantity = 0 },
			want: []string{"order.items[].quantity: is not set (zero or empty); the consumer reads it"},
		},
		{
			name: "an empty list",
			edit: func(o *ordersv1.Order) { o.Items = nil },
			want: []string{"order.items: is not set (zero or empty); the consumer reads it"},
		},
		{
			name: "a value the consumer decides on differs",
			edit: func(o *ordersv1.Order) { o.Status = ordersv1.OrderStatus_ORDER_STATUS_PENDING },
			want: []string{`order.status: is "ORDER_STATUS_PENDING", the consumer expects "ORDER_STATUS_CONFIRMED"`},
		},
		{
			name: "an enum number that the provider does not define",
			edit: func(o *ordersv1.Order) { o.Status = 42 },
			want: []string{"order.status: holds 42, not a value of orders.v1.OrderStatus"},
		},
		{
			name: "a missing message",
			edit: func(o *ordersv1.Order) { o.CreatedAt = nil },
			want: []string{"order.created_at: is not set (zero or empty); the consumer reads it"},
		},
		{
			name:   "the consumer expects another field number",
			edit:   func(*ordersv1.Order) {},
			fields: func(fs []Field) []Field { fs[5].Number = 12; return fs },
			want:   []string{"order.total_cents: field number is 5, the consumer expects 12"},
		},
		{
			name:   "the consumer expects another type",
			edit:   func(*ordersv1.Order) {},
			fields: func(fs []Field) []Field { fs[5].Type = "int32"; return fs },
			want:   []string{"order.total_cents: type is int64, the consumer expects int32"},
		},
		{
			name:   "the provider has no such field",
			edit:   func(*ordersv1.Order) {},
			fields: func(fs []Field) []Field { fs[1].Path = "order.id"; return fs },
			want:   []string{`order.id: the provider's orders.v1.Order has no field "id"; the consumer reads it`},
		},
		{
			name:   "the path treats a list as singular",
			edit:   func(*ordersv1.Order) {},
			fields: func(fs []Field) []Field { fs[3].Path = "order.items.quantity"; return fs },
			want:   []string{`order.items.quantity: the provider's orders.v1.Order has no singular message field "items"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := confirmed()
			tt.edit(resp.Order)
			fs := append([]Field(nil), fields...)
			if tt.fields != nil {
				fs = tt.fields(fs)
			}
			var got []string
			for _, err := range Check(resp, fs) {
				got = append(got, err.Error())
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestReadAndMarshalRoundTrip(t *testing.T) {
	p := &Pact{
		Consumer: "gateway", Provider: "orders", Service: "orders.v1.OrdersService",
		Interactions: []Interaction{
			{
				Description: "getting an order", State: &State{Name: "an order exists", Params: map[string]string{"key": "k"}},
				Method: "GetOrder", Request: json.RawMessage(`{"orderId":"ord-1"}`),
				RequestFromState: map[string]string{"orderId": "order_id"},
				Response:         Response{Code: "OK", Fields: []Field{{Path: "order_id", Number: 1, Type: "string", Match: MatchType}}},
			},
			{
				Description: "placing an order", Method: "PlaceOrder", Request: json.RawMessage(`{}`),
				Response: Response{Code: "ALREADY_EXISTS"},
			},
		},
	}
	b, err := p.Marshal()
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(string(b), "}\n"))
	path := filepath.Join(t.TempDir(), "p.json")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	got, err := Read(path)
	require.NoError(t, err)
	again, err := got.Marshal()
	require.NoError(t, err)
	assert.Equal(t, string(b), string(again))
	assert.Equal(t, []string{"GetOrder", "PlaceOrder"}, got.Methods())
}

func TestReadRejectsBrokenPacts(t *testing.T) {
	valid := func() Pact {
		return Pact{Consumer: "c", Provider: "p", Service: "s", Interactions: []Interaction{{
			Description: "d", Method: "M", Request: json.RawMessage(`{}`),
			Response: Response{Code: "OK", Fields: []Field{{Path: "f", Number: 1, Type: "string", Match: MatchType}}},
		}}}
	}
	tests := []struct {
		name string
		edit func(p *Pact)
		raw  string
		want string
	}{
		{name: "no provider", edit: func(p *Pact) { p.Provider = "" }, want: "consumer, provider and service are required"},
		{name: "no interactions", edit: func(p *Pact) { p.Interactions = nil }, want: "no interactions"},
		{name: "no method", edit: func(p *Pact) { p.Interactions[0].Method = "" }, want: `interaction "d": method is required`},
		{name: "no code", edit: func(p *Pact) { p.Interactions[0].Response.Code = "" }, want: `interaction "d": response code is required`},
		{name: "no request", edit: func(p *Pact) { p.Interactions[0].Request = nil }, want: `interaction "d": request is required`},
		{
			name: "duplicate description",
			edit: func(p *Pact) { p.Interactions = append(p.Interactions, p.Interactions[0]) },
			want: `interaction 1: description "d" is not unique`,
		},
		{
			name: "unknown match",
			edit: func(p *Pact) { p.Interactions[0].Response.Fields[0].Match = "like" },
			want: `field "f": match must be "type" or "equals", got "like"`,
		},
		{name: "field without number", edit: func(p *Pact) { p.Interactions[0].Response.Fields[0].Number = 0 }, want: "path, number and type are required"},
		{name: "unknown key", raw: `{"consumer":"c","extra":1}`, want: `unknown field "extra"`},
		{name: "not JSON", raw: `consumer: c`, want: "decoding pact"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte(tt.raw)
			if tt.edit != nil {
				p := valid()
				tt.edit(&p)
				var err error
				raw, err = p.Marshal()
				require.NoError(t, err)
			}
			path := filepath.Join(t.TempDir(), "p.json")
			require.NoError(t, os.WriteFile(path, raw, 0o644))
			_, err := Read(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := Read(filepath.Join(t.TempDir(), "absent.json"))
	assert.Error(t, err)
}
