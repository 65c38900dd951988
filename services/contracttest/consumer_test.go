package contracttest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chaoslab/chaoslab/contracts/pact"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
	"github.com/chaoslab/chaoslab/services/gateway"
)

var update = flag.Bool("update", false, "rewrite contracts/testdata/gateway-orders.pact.json from the consumer test")

// pactFile is the committed contract of the gateway on orders.
const pactFile = "../../contracts/testdata/gateway-orders.pact.json"

// Provider states of the pact; provider_test.go implements each of them.
const (
	stateInStock       = "products have stock"
	stateStockAtMost   = "products have at most some stock"
	stateNoProduct     = "no product has the SKU"
	stateOrderPlaced   = "an order was placed with the idempotency key"
	stateNoOrderWithID = "no order has the id"
)

// consumerCase is one thing the gateway does with orders: the HTTP request
// that makes it call orders, and the answer the gateway is written against.
type consumerCase struct {
	description string
	state       *pact.State
	fromState   map[string]string
	method      string
	// request builds the HTTP request to the gateway at baseURL.
	request func(baseURL, token string) (*http.Request, error)
	// answer is what orders answers (nil with err).
	answer proto.Message
	err    error
	// wantStatus is the gateway's HTTP status with that answer.
	wantStatus int
}

func placeOrderRequest(key, body string) func(string, string) (*http.Request, error) {
	return func(baseURL, token string) (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, baseURL+"/v1/orders", strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", key)
		return req, nil
	}
}

func getOrderRequest(id string) func(string, string) (*http.Request, error) {
	return func(baseURL, _ string) (*http.Request, error) {
		return http.NewRequest(http.MethodGet, baseURL+"/v1/orders/"+id, nil)
	}
}

// order is an order as orders answers it, with every field a real one has.
func order(id, key string, st ordersv1.OrderStatus, reason string, items ...*ordersv1.LineItem) *ordersv1.Order {
	at := timestamppb.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	o := &ordersv1.Order{
		OrderId: id, IdempotencyKey: key, CustomerId: "c-1", Items: items,
		Status: st, FailureReason: reason, CreatedAt: at, UpdatedAt: at,
	}
	for _, it := range items {
		o.TotalCents += int64(it.GetQuantity()) * it.GetUnitPriceCents()
	}
	if st == ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED {
		o.ChargeId = "ch-" + id
	}
	return o
}

// consumerCases are the interactions of the gateway with orders that the
// provider can be put in deterministically. (A PENDING order and ABORTED
// for a key in flight depend on timing; the gateway's own tests cover them.)
func consumerCases() []consumerCase {
	confirmed, failed := ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED, ordersv1.OrderStatus_ORDER_STATUS_FAILED
	return []consumerCase{
		{
			description: "placing an order of products in stock",
			state:       &pact.State{Name: stateInStock, Params: map[string]string{"sku-1": "2", "sku-2": "1"}},
			method:      "PlaceOrder",
			request: placeOrderRequest("pact-confirmed",
				`{"customer_id":"c-1","items":[{"sku":"sku-1","quantity":2},{"sku":"sku-2","quantity":1}],"payment_method":"card_ok"}`),
			answer: &ordersv1.PlaceOrderResponse{Order: order("ord-1", "pact-confirmed", confirmed, "",
				&ordersv1.LineItem{Sku: "sku-1", Quantity: 2, UnitPriceCents: 1999},
				&ordersv1.LineItem{Sku: "sku-2", Quantity: 1, UnitPriceCents: 1299})},
			wantStatus: http.StatusCreated,
		},
		{
			description: "placing an order paid with a declined card",
			state:       &pact.State{Name: stateInStock, Params: map[string]string{"sku-1": "1"}},
			method:      "PlaceOrder",
			request: placeOrderRequest("pact-declined",
				`{"customer_id":"c-1","items":[{"sku":"sku-1","quantity":1}],"payment_method":"card_declined"}`),
			answer: &ordersv1.PlaceOrderResponse{Order: order("ord-2", "pact-declined", failed, "payment_declined",
				&ordersv1.LineItem{Sku: "sku-1", Quantity: 1, UnitPriceCents: 1999})},
			wantStatus: http.StatusPaymentRequired,
		},
		{
			description: "placing an order of more than the stock",
			state:       &pact.State{Name: stateStockAtMost, Params: map[string]string{"sku-limited": "5"}},
			method:      "PlaceOrder",
			request: placeOrderRequest("pact-out-of-stock",
				`{"customer_id":"c-1","items":[{"sku":"sku-limited","quantity":6}]}`),
			answer: &ordersv1.PlaceOrderResponse{Order: order("ord-3", "pact-out-of-stock", failed, "out_of_stock",
				&ordersv1.LineItem{Sku: "sku-limited", Quantity: 6})},
			wantStatus: http.StatusConflict,
		},
		{
			description: "placing an order of an unknown product",
			state:       &pact.State{Name: stateNoProduct, Params: map[string]string{"sku": "sku-unknown"}},
			method:      "PlaceOrder",
			request: placeOrderRequest("pact-unknown-product",
				`{"customer_id":"c-1","items":[{"sku":"sku-unknown","quantity":1}]}`),
			answer: &ordersv1.PlaceOrderResponse{Order: order("ord-4", "pact-unknown-product", failed, "unknown_product",
				&ordersv1.LineItem{Sku: "sku-unknown", Quantity: 1})},
			wantStatus: http.StatusUnprocessableEntity,
		},
		{
			description: "reusing an idempotency key for a different order",
			state:       &pact.State{Name: stateOrderPlaced, Params: map[string]string{"idempotency_key": "pact-reused"}},
			method:      "PlaceOrder",
			request: placeOrderRequest("pact-reused",
				`{"customer_id":"c-other","items":[{"sku":"sku-2","quantity":3}]}`),
			err:        status.Error(codes.AlreadyExists, "idempotency key pact-reused was used for a different order"),
			wantStatus: http.StatusConflict,
		},
		{
			description: "getting an order",
			state:       &pact.State{Name: stateOrderPlaced, Params: map[string]string{"idempotency_key": "pact-existing"}},
			fromState:   map[string]string{"order_id": "order_id"},
			method:      "GetOrder",
			request:     getOrderRequest("ord-5"),
			answer: order("ord-5", "pact-existing", confirmed, "",
				&ordersv1.LineItem{Sku: "sku-1", Quantity: 1, UnitPriceCents: 1999}),
			wantStatus: http.StatusOK,
		},
		{
			description: "getting an unknown order",
			state:       &pact.State{Name: stateNoOrderWithID, Params: map[string]string{"order_id": "ord-unknown"}},
			method:      "GetOrder",
			request:     getOrderRequest("ord-unknown"),
			err:         status.Error(codes.NotFound, "order ord-unknown not found"),
			wantStatus:  http.StatusNotFound,
		},
	}
}

// TestGatewayConsumerPact runs the real gateway against a fake orders
// service that answers as the gateway's authors expect, records the calls
// it makes and probes which answer fields it reads, and compares the
// resulting pact with the committed one (-update rewrites it).
func TestGatewayConsumerPact(t *testing.T) {
	fake := &fakeOrders{}
	baseURL, token := startGateway(t, ordersv1.NewOrdersServiceClient(startFakeOrders(t, fake)), &fakeCatalog{}, gateway.Options{})
	hc := &http.Client{Timeout: 10 * time.Second}

	got := &pact.Pact{Consumer: "gateway", Provider: "orders", Service: string(ordersv1.File_orders_v1_orders_proto.Services().Get(0).FullName())}
	for _, tc := range consumerCases() {
		t.Run(tc.description, func(t *testing.T) {
			observe := func(resp proto.Message) (pact.Outcome, error) {
				fake.setAnswer(func(context.Context, string, proto.Message) (proto.Message, error) {
					if tc.err != nil {
						return nil, tc.err
					}
					return proto.Clone(resp), nil
				})
				return observeGateway(t.Context(), hc, tc, baseURL, token)
			}
			first, err := observe(tc.answer)
			require.NoError(t, err)
			require.Equal(t, strconv.Itoa(tc.wantStatus), first.Decision, "the gateway's answer: %s", first.Output)

			calls := fake.recorded()
			require.Len(t, calls, 1, "one request, one call to orders")
			require.Equal(t, tc.method, calls[0].method)
			request, err := canonicalJSON(calls[0].req)
			require.NoError(t, err)

			in := pact.Interaction{
				Description: tc.description, State: tc.state, Method: tc.method,
				Request: request, RequestFromState: tc.fromState,
				Response: pact.Response{Code: codeName(status.Code(tc.err))},
			}
			if tc.err == nil {
				in.Response.Fields, err = pact.Fields(tc.answer, observe)
				require.NoError(t, err)
				require.NotEmpty(t, in.Response.Fields)
			}
			got.Interactions = append(got.Interactions, in)
		})
	}
	require.NoError(t, got.Validate())
	b, err := got.Marshal()
	require.NoError(t, err)
	if *update {
		require.NoError(t, os.WriteFile(pactFile, b, 0o644))
	}
	committed, err := os.ReadFile(pactFile)
	require.NoError(t, err)
	assert.Equal(t, string(committed), string(b),
		"the gateway now needs something else of orders than the committed pact says; review the diff, "+
			"then rewrite the pact with `go test ./services/contracttest -run ConsumerPact -update` "+
			"and check the provider still honours it (TestOrdersHonoursTheGatewayPact)")
}

// observeGateway sends the case's request and reports the gateway's status
// (the decision) and its headers and body (the output).
func observeGateway(ctx context.Context, hc *http.Client, tc consumerCase, baseURL, token string) (pact.Outcome, error) {
	req, err := tc.request(baseURL, token)
	if err != nil {
		return pact.Outcome{}, err
	}
	resp, err := hc.Do(req.WithContext(ctx))
	if err != nil {
		return pact.Outcome{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return pact.Outcome{}, err
	}
	var out bytes.Buffer
	for _, h := range []string{"Content-Type", "Location", "Retry-After"} {
		fmt.Fprintf(&out, "%s: %s\n", h, resp.Header.Get(h))
	}
	out.Write(body)
	return pact.Outcome{Decision: strconv.Itoa(resp.StatusCode), Output: out.String()}, nil
}

// canonicalJSON renders m as protojson with proto field names, compacted
// (protojson's own spacing is deliberately unstable).
func canonicalJSON(m proto.Message) (json.RawMessage, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// codeName is the canonical name of a gRPC code, e.g. "ALREADY_EXISTS",
// which parseCode reads back.
func codeName(c codes.Code) string {
	names := [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
		"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
		"OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}
	if int(c) < len(names) {
		return names[c]
	}
	return strconv.Itoa(int(c))
}

// parseCode reads a code name written by codeName.
func parseCode(name string) (codes.Code, error) {
	var c codes.Code
	if err := c.UnmarshalJSON([]byte(strconv.Quote(name))); err != nil {
		return 0, fmt.Errorf("gRPC code %q: %w", name, err)
	}
	return c, nil
}

func TestCodeNamesRoundTrip(t *testing.T) {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		got, err := parseCode(codeName(c))
		require.NoError(t, err, codeName(c))
		assert.Equal(t, c, got)
	}
	assert.Equal(t, "ALREADY_EXISTS", codeName(codes.AlreadyExists))
	assert.Equal(t, "OK", codeName(codes.OK))
	_, err := parseCode("Nope")
	assert.Error(t, err)
}
