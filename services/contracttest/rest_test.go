package contracttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
	"github.com/chaoslab/chaoslab/services/gateway"
	"github.com/chaoslab/chaoslab/services/internal/host"
	"github.com/chaoslab/chaoslab/services/internal/shoptest"
	"github.com/chaoslab/chaoslab/services/internal/telemetry"
)

// openAPIFile is the gateway's REST contract.
const openAPIFile = "../../docs/openapi.yaml"

// problemTypePrefix starts the type URI of every problem of the gateway.
const problemTypePrefix = "tag:chaoslab.dev,2025:problems/"

// unroutedStatus is the status of a response documented once for every
// path under components.responses.
func unroutedStatus(component string) int {
	return map[string]int{"RouteNotFound": http.StatusNotFound, "MethodNotAllowed": http.StatusMethodNotAllowed}[component]
}

// restAPI is the OpenAPI document, a router over its operations, and the
// documented answers exercised so far.
type restAPI struct {
	doc    *openapi3.T
	router routers.Router
	seen   map[string]bool
}

func loadRESTAPI(t *testing.T) *restAPI {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(openAPIFile)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(loader.Context), "docs/openapi.yaml is not a valid OpenAPI 3.0 document")
	doc.Servers = nil // route by path, whatever the address of the gateway under test
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)
	return &restAPI{doc: doc, router: router, seen: map[string]bool{}}
}

// documented lists every documented answer: "METHOD /path STATUS" per
// operation, and "any path STATUS Component" for the shared ones.
func (a *restAPI) documented() []string {
	var keys []string
	for path, item := range a.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for st := range op.Responses.Map() {
				keys = append(keys, fmt.Sprintf("%s %s %s", method, path, st))
			}
		}
	}
	for _, c := range []string{"RouteNotFound", "MethodNotAllowed"} {
		keys = append(keys, fmt.Sprintf("any path %d %s", unroutedStatus(c), c))
	}
	slices.Sort(keys)
	return keys
}

// restCase is one request to the gateway and the answer it must get.
type restCase struct {
	name         string
	method, path string
	// contentType defaults to application/json when there is a body.
	contentType string
	// authorization overrides the valid bearer token; noAuth sends none.
	authorization string
	noAuth        bool
	// key is the Idempotency-Key header, when not empty.
	key  string
	body string
	// want is the HTTP status; wantType the problem's slug, if a problem.
	want     int
	wantType string
	// docRejects says the document itself rejects the request (an invalid
	// body, a missing header or token); it must agree with the gateway.
	docRejects bool
}

// target is a running gateway.
type target struct {
	baseURL, token string
	hc             *http.Client
}

func (tg target) newRequest(ctx context.Context, c restCase) (*http.Request, error) {
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, tg.baseURL+c.path, body)
	if err != nil {
		return nil, err
	}
	switch {
	case c.contentType != "":
		req.Header.Set("Content-Type", c.contentType)
	case c.body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.authorization != "":
		req.Header.Set("Authorization", c.authorization)
	case !c.noAuth:
		req.Header.Set("Authorization", "Bearer "+tg.token)
	}
	if c.key != "" {
		req.Header.Set("Idempotency-Key", c.key)
	}
	return req, nil
}

// pathDocumented reports whether some operation of the document serves the
// path of req, with any method.
func (a *restAPI) pathDocumented(req *http.Request) bool {
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		r := req.Clone(req.Context())
		r.Method = m
		if _, _, err := a.router.FindRoute(r); err == nil {
			return true
		}
	}
	return false
}

// bearerAuthentication accepts any request that sends a bearer token: the
// document cannot tell a valid signature from an invalid one.
func bearerAuthentication(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// check sends c to the gateway, checks the status and problem type, and
// validates the request and the answer against the document. It returns
// the answer's headers and body.
func (a *restAPI) check(t *testing.T, tg target, c restCase) (http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	req, err := tg.newRequest(ctx, c)
	require.NoError(t, err)

	// The request itself, when it is for a documented operation.
	if route, params, err := a.router.FindRoute(req); err == nil {
		vreq, err := tg.newRequest(ctx, c)
		require.NoError(t, err)
		reqErr := openapi3filter.ValidateRequest(ctx, &openapi3filter.RequestValidationInput{
			Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: bearerAuthentication},
		})
		if c.docRejects {
			assert.Error(t, reqErr, "the gateway answers %d but the document accepts the request", c.want)
		} else {
			assert.NoError(t, reqErr, "the document rejects a request that the gateway serves")
		}
	}

	resp, err := tg.hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	require.NoError(t, err)
	require.Equal(t, c.want, resp.StatusCode, "answer: %s", body)
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	if c.wantType != "" {
		assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
		var p struct {
			Type   string `json:"type"`
			Status int    `json:"status"`
		}
		require.NoError(t, json.Unmarshal(body, &p), "%s", body)
		assert.Equal(t, problemTypePrefix+c.wantType, p.Type)
		assert.Equal(t, c.want, p.Status)
	}

	key, err := a.validateAnswer(ctx, req, resp.StatusCode, resp.Header, body)
	require.NoError(t, err, "the answer breaks docs/openapi.yaml: %d %s %s", resp.StatusCode, resp.Header, body)
	a.seen[key] = true
	return resp.Header, body
}

// validateAnswer validates the answer to req against the document, and
// returns the documented answer it is ("POST /v1/orders 201").
func (a *restAPI) validateAnswer(ctx context.Context, req *http.Request, status int, header http.Header, body []byte) (string, error) {
	route, params, err := a.router.FindRoute(req)
	if err != nil {
		component := "RouteNotFound"
		if a.pathDocumented(req) {
			component = "MethodNotAllowed"
		}
		if want := unroutedStatus(component); status != want {
			return "", fmt.Errorf("%s %s is not a documented operation: the answer must be %d (%s), not %d", req.Method, req.URL.Path, want, component, status)
		}
		if err := a.validateShared(component, header, body); err != nil {
			return "", err
		}
		return fmt.Sprintf("any path %d %s", status, component), nil
	}
	err = openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: bearerAuthentication},
		},
		Status:  status,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %s %d", req.Method, route.Path, status), nil
}

// validateShared validates an answer against a response of
// components.responses.
func (a *restAPI) validateShared(component string, header http.Header, body []byte) error {
	ref := a.doc.Components.Responses[component]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("docs/openapi.yaml has no components.responses.%s", component)
	}
	r := ref.Value
	for name, h := range r.Headers {
		v := header.Get(name)
		if v == "" && h.Value.Required {
			return fmt.Errorf("%s: header %s is required", component, name)
		}
		if v != "" && h.Value.Schema != nil {
			if err := h.Value.Schema.Value.VisitJSON(v); err != nil {
				return fmt.Errorf("%s: header %s: %w", component, name, err)
			}
		}
	}
	mt := r.Content.Get(header.Get("Content-Type"))
	if mt == nil {
		return fmt.Errorf("%s: content type %q is not documented", component, header.Get("Content-Type"))
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%s: body: %w", component, err)
	}
	if err := mt.Schema.Value.VisitJSON(v, openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("%s: body: %w", component, err)
	}
	return nil
}

// placeBody is a place-order body of n items of sku, quantity q each.
func placeBody(customer, sku string, n, q int, paymentMethod string) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"sku":%s,"quantity":%d}`, jsonString(sku), q)
	}
	pm := ""
	if paymentMethod != "" {
		pm = `,"payment_method":` + jsonString(paymentMethod)
	}
	return fmt.Sprintf(`{"customer_id":%s,"items":[%s]%s}`, jsonString(customer), strings.Join(items, ","), pm)
}

// jsonString is s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}

// startRealGateway starts the whole shop and, in front of its orders and
// inventory, the gateway as its binary wires it (gateway.New, hosted),
// without a rate limit, signing tokens with testJWTKey.
func startRealGateway(t *testing.T) target {
	t.Helper()
	shop := shoptest.Start(t, shoptest.Options{Uninstrumented: true})
	ctx := t.Context()
	cfg := gateway.DefaultConfig()
	cfg.Host = host.Config{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", ShutdownTimeout: 10 * time.Second}
	cfg.OrdersAddr, cfg.InventoryAddr = shop.Hosts["orders"].Addr(), shop.Hosts["inventory"].Addr()
	cfg.RateLimit = 0
	getenv := func(k string) string {
		if k == gateway.JWTKeyEnv {
			return testJWTKey
		}
		return ""
	}
	tel, err := telemetry.New(ctx, telemetry.Config{Service: "gateway"}, io.Discard)
	require.NoError(t, err)
	svc, err := gateway.New(ctx, cfg, getenv, tel)
	require.NoError(t, err)
	h, err := host.Start(ctx, cfg.Host, tel, svc)
	if err != nil {
		svc.Close()
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		assert.NoError(t, h.Shutdown(ctx))
	})
	token, err := gateway.MintToken([]byte(testJWTKey), "contract-test", time.Hour, time.Now())
	require.NoError(t, err)
	return target{baseURL: "http://" + h.Addr(), token: token, hc: &http.Client{Timeout: 15 * time.Second}}
}

// TestGatewayAnswersMatchOpenAPI drives the real gateway through every
// answer documented in docs/openapi.yaml, validates each request and answer
// against the document, and fails when a documented answer was not
// exercised.
func TestGatewayAnswersMatchOpenAPI(t *testing.T) {
	api := loadRESTAPI(t)

	t.Run("real shop", func(t *testing.T) {
		tg := startRealGateway(t)
		expired, err := gateway.MintToken([]byte(testJWTKey), "contract-test", time.Minute, time.Now().Add(-time.Hour))
		require.NoError(t, err)
		forged, err := gateway.MintToken([]byte("another-key"), "contract-test", time.Hour, time.Now())
		require.NoError(t, err)
		valid := placeBody("c-1", "sku-1", 1, 2, "")
		longText := strings.Repeat("é", 64) // 64 characters, 128 bytes

		// The happy path first: the order it places is read back below.
		h, body := api.check(t, tg, restCase{name: "place an order", method: "POST", path: "/v1/orders", key: "rest-happy", body: valid, want: http.StatusCreated})
		var placed gateway.Order
		require.NoError(t, json.Unmarshal(body, &placed))
		require.Equal(t, "CONFIRMED", placed.Status)
		require.Equal(t, "/v1/orders/"+placed.OrderID, h.Get("Location"))

		cases := []restCase{
			{name: "liveness", method: "GET", path: "/healthz", want: http.StatusOK},
			{name: "readiness", method: "GET", path: "/readyz", want: http.StatusOK},
			{name: "catalog", method: "GET", path: "/v1/products", want: http.StatusOK},
			{name: "read the order back", method: "GET", path: "/v1/orders/" + placed.OrderID, want: http.StatusOK},
			{name: "the same order again", method: "POST", path: "/v1/orders", key: "rest-happy", body: valid, want: http.StatusCreated},
			{name: "every limit at its maximum", method: "POST", path: "/v1/orders", key: strings.Repeat("k", 128),
				body: placeBody(longText, "sku-1", 20, 100, "card_ok"), want: http.StatusCreated},
			{name: "unknown order", method: "GET", path: "/v1/orders/ord-nope", want: http.StatusNotFound, wantType: "not-found"},

			{name: "quantity 0", method: "POST", path: "/v1/orders", key: "rest-q0", body: placeBody("c-1", "sku-1", 1, 0, ""),
				want: http.StatusBadRequest, wantType: "invalid-request", docRejects: true},
			{name: "quantity 101", method: "POST", path: "/v1/orders", key: "rest-q101", body: placeBody("c-1", "sku-1", 1, 101, ""),
				want: http.StatusBadRequest, wantType: "invalid-request", docRejects: true},
			{name: "21 items", method: "POST", path: "/v1/orders", key: "rest-21", body: placeBody("c-1", "sku-1", 21, 1, ""),
				want: http.StatusBadRequest, wantType: "invalid-request", docRejects: true},
			{name: "no items", method: "POST", path: "/v1/orders", key: "rest-0", body: `{"customer_id":"c-1","items":[]}`,
				want: http.StatusBadRequest, wantType: "invalid-request", docRejects: true},
			{name: "no customer", method: "POST", path: "/v1/orders", key: "rest-nocust", body: `{"items":[{"sku":"sku-1","quantity":1}]}`,
				want: http.StatusBadRequest, wantType: "invalid-request", docRejects: true},
			{name: "customer of 65 characters", method: "POST", path: "/v1/orders", key: "rest-65", body: placeBody(longText+"x", "sku-1", 1, 1, ""),
				want: http.StatusBadRequest, wantType: "invalid-request", docRejects: true},
			{name: "control character in a SKU", method: "POST", path: "/v1/orders", key: "rest-ctl", body: placeBody("c-1", "sku\u00071", 1, 1, ""),
				want: http.StatusBadRequest, wantType: "invalid-request", docRejects: true},
			{name: "payment method of 65 characters", method: "POST", path: "/v1/orders", key: "rest-pm", body: placeBody("c-1", "sku-1", 1, 1, strings.Repeat("p", 65)),
				want: http.StatusBadRequest, wantType: "invalid-request", docRejects: true},
			// The document allows only card_ok and card_declined (the payments
			// contract); the gateway rejects anything else itself.
			{name: "unknown payment method", method: "POST", path: "/v1/orders", key: "rest-pm-unknown", body: placeBody("c-1", "sku-1", 1, 1, "card_gold"),
				want: http.StatusBadRequest, wantType: "invalid-request", docRejects: true},
			{name: "no idempotency key", method: "POST", path: "/v1/orders", body: valid,
				want: http.StatusBadRequest, wantType: "invalid-request", docRejects: true},
			{name: "idempotency key with a space", method: "POST", path: "/v1/orders", key: "rest key", body: valid,
				want: http.StatusBadRequest, wantType: "invalid-request", docRejects: true},
			{name: "idempotency key of 129 characters", method: "POST", path: "/v1/orders", key: strings.Repeat("k", 129), body: valid,
				want: http.StatusBadRequest, wantType: "invalid-request", docRejects: true},
			{name: "unknown field", method: "POST", path: "/v1/orders", key: "rest-unknown-field", body: `{"customer_id":"c-1","items":[{"sku":"sku-1","quantity":1}],"coupon":"X"}`,
				want: http.StatusBadRequest, wantType: "malformed-body", docRejects: true},
			{name: "quantity as a string", method: "POST", path: "/v1/orders", key: "rest-qstr", body: `{"customer_id":"c-1","items":[{"sku":"sku-1","quantity":"1"}]}`,
				want: http.StatusBadRequest, wantType: "malformed-body", docRejects: true},
			{name: "truncated JSON", method: "POST", path: "/v1/orders", key: "rest-trunc", body: `{"customer_id":"c-1",`,
				want: http.StatusBadRequest, wantType: "malformed-body", docRejects: true},

			{name: "no token", method: "POST", path: "/v1/orders", key: "rest-noauth", body: valid, noAuth: true,
				want: http.StatusUnauthorized, wantType: "unauthorized", docRejects: true},
			{name: "not a bearer token", method: "POST", path: "/v1/orders", key: "rest-basic", body: valid, authorization: "Basic dXNlcjpwYXNz",
				want: http.StatusUnauthorized, wantType: "unauthorized", docRejects: true},
			{name: "malformed token", method: "POST", path: "/v1/orders", key: "rest-badtok", body: valid, authorization: "Bearer not-a-jwt",
				want: http.StatusUnauthorized, wantType: "unauthorized"},
			{name: "expired token", method: "POST", path: "/v1/orders", key: "rest-expired", body: valid, authorization: "Bearer " + expired,
				want: http.StatusUnauthorized, wantType: "unauthorized"},
			{name: "token signed with another key", method: "POST", path: "/v1/orders", key: "rest-forged", body: valid, authorization: "Bearer " + forged,
				want: http.StatusUnauthorized, wantType: "unauthorized"},

			{name: "body over 64 KiB", method: "POST", path: "/v1/orders", key: "rest-big", body: placeBody(strings.Repeat("c", 70_000), "sku-1", 1, 1, ""),
				want: http.StatusRequestEntityTooLarge, wantType: "body-too-large", docRejects: true},
			{name: "text body", method: "POST", path: "/v1/orders", key: "rest-text", body: valid, contentType: "text/plain",
				want: http.StatusUnsupportedMediaType, wantType: "unsupported-media-type", docRejects: true},

			{name: "declined card", method: "POST", path: "/v1/orders", key: "rest-declined", body: placeBody("c-1", "sku-1", 1, 1, "card_declined"),
				want: http.StatusPaymentRequired, wantType: "payment-declined"},
			{name: "more than the stock of sku-limited", method: "POST", path: "/v1/orders", key: "rest-oos", body: placeBody("c-1", "sku-limited", 1, 6, ""),
				want: http.StatusConflict, wantType: "out-of-stock"},
			{name: "key reused for another order", method: "POST", path: "/v1/orders", key: "rest-happy", body: placeBody("c-2", "sku-2", 1, 1, ""),
				want: http.StatusConflict, wantType: "idempotency-key-reused"},
			{name: "unknown product", method: "POST", path: "/v1/orders", key: "rest-unknown-sku", body: placeBody("c-1", "sku-nope", 1, 1, ""),
				want: http.StatusUnprocessableEntity, wantType: "unknown-product"},

			{name: "no such route", method: "GET", path: "/v2/orders", want: http.StatusNotFound, wantType: "not-found"},
			{name: "DELETE an order", method: "DELETE", path: "/v1/orders/" + placed.OrderID, want: http.StatusMethodNotAllowed, wantType: "method-not-allowed"},
			{name: "GET the order collection", method: "PUT", path: "/v1/orders", want: http.StatusMethodNotAllowed, wantType: "method-not-allowed"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) { api.check(t, tg, c) })
		}
	})

	t.Run("gateway over fake dependencies", func(t *testing.T) {
		fake := &fakeOrders{}
		catalog := &fakeCatalog{}
		var notReady atomic.Bool
		baseURL, token := startGateway(t, ordersv1.NewOrdersServiceClient(startFakeOrders(t, fake)), catalog, gateway.Options{
			Ready: func(context.Context) error {
				if notReady.Load() {
					return errors.New("orders is not reachable")
				}
				return nil
			},
		})
		tg := target{baseURL: baseURL, token: token, hc: &http.Client{Timeout: 15 * time.Second}}
		valid := placeBody("c-1", "sku-1", 1, 1, "")
		failed := func(reason string) func(context.Context, string, proto.Message) (proto.Message, error) {
			return answerOrder(ordersv1.OrderStatus_ORDER_STATUS_FAILED, reason)
		}
		fails := func(c codes.Code) func(context.Context, string, proto.Message) (proto.Message, error) {
			return func(context.Context, string, proto.Message) (proto.Message, error) {
				return nil, status.Error(c, "injected by the test")
			}
		}
		cases := []struct {
			restCase
			orders     func(context.Context, string, proto.Message) (proto.Message, error)
			catalogErr error
			notReady   bool
		}{
			{restCase: restCase{name: "pending order", method: "POST", path: "/v1/orders", key: "k", body: valid, want: http.StatusAccepted},
				orders: answerOrder(ordersv1.OrderStatus_ORDER_STATUS_PENDING, "")},
			{restCase: restCase{name: "order in progress", method: "POST", path: "/v1/orders", key: "k", body: valid, want: http.StatusConflict, wantType: "order-in-progress"},
				orders: fails(codes.Aborted)},
			{restCase: restCase{name: "order failed, dependency unavailable", method: "POST", path: "/v1/orders", key: "k", body: valid, want: http.StatusServiceUnavailable, wantType: "dependency-unavailable"},
				orders: failed("dependency_unavailable")},
			{restCase: restCase{name: "order failed, deadline exceeded", method: "POST", path: "/v1/orders", key: "k", body: valid, want: http.StatusGatewayTimeout, wantType: "deadline-exceeded"},
				orders: failed("deadline_exceeded")},
			{restCase: restCase{name: "order failed, internal", method: "POST", path: "/v1/orders", key: "k", body: valid, want: http.StatusInternalServerError, wantType: "order-failed"},
				orders: failed("internal")},
			{restCase: restCase{name: "orders unavailable", method: "POST", path: "/v1/orders", key: "k", body: valid, want: http.StatusServiceUnavailable, wantType: "dependency-unavailable"},
				orders: fails(codes.Unavailable)},
			{restCase: restCase{name: "orders overloaded", method: "POST", path: "/v1/orders", key: "k", body: valid, want: http.StatusServiceUnavailable, wantType: "dependency-overloaded"},
				orders: fails(codes.ResourceExhausted)},
			{restCase: restCase{name: "orders deadline", method: "POST", path: "/v1/orders", key: "k", body: valid, want: http.StatusGatewayTimeout, wantType: "deadline-exceeded"},
				orders: fails(codes.DeadlineExceeded)},
			{restCase: restCase{name: "orders internal error", method: "POST", path: "/v1/orders", key: "k", body: valid, want: http.StatusBadGateway, wantType: "bad-gateway"},
				orders: fails(codes.Internal)},
			{restCase: restCase{name: "orders misused", method: "POST", path: "/v1/orders", key: "k", body: valid, want: http.StatusInternalServerError, wantType: "internal"},
				orders: fails(codes.PermissionDenied)},
			{restCase: restCase{name: "get: orders unavailable", method: "GET", path: "/v1/orders/o-1", want: http.StatusServiceUnavailable, wantType: "dependency-unavailable"},
				orders: fails(codes.Unavailable)},
			{restCase: restCase{name: "get: orders deadline", method: "GET", path: "/v1/orders/o-1", want: http.StatusGatewayTimeout, wantType: "deadline-exceeded"},
				orders: fails(codes.DeadlineExceeded)},
			{restCase: restCase{name: "get: orders internal error", method: "GET", path: "/v1/orders/o-1", want: http.StatusBadGateway, wantType: "bad-gateway"},
				orders: fails(codes.DataLoss)},
			{restCase: restCase{name: "get: orders misused", method: "GET", path: "/v1/orders/o-1", want: http.StatusInternalServerError, wantType: "internal"},
				orders: fails(codes.FailedPrecondition)},
			{restCase: restCase{name: "get: pending order", method: "GET", path: "/v1/orders/o-1", want: http.StatusOK},
				orders: answerOrder(ordersv1.OrderStatus_ORDER_STATUS_PENDING, "")},
			{restCase: restCase{name: "products: inventory unavailable", method: "GET", path: "/v1/products", want: http.StatusServiceUnavailable, wantType: "dependency-unavailable"},
				catalogErr: status.Error(codes.Unavailable, "injected")},
			{restCase: restCase{name: "products: inventory deadline", method: "GET", path: "/v1/products", want: http.StatusGatewayTimeout, wantType: "deadline-exceeded"},
				catalogErr: status.Error(codes.DeadlineExceeded, "injected")},
			{restCase: restCase{name: "products: inventory internal error", method: "GET", path: "/v1/products", want: http.StatusBadGateway, wantType: "bad-gateway"},
				catalogErr: status.Error(codes.Unknown, "injected")},
			{restCase: restCase{name: "products: the gateway failed", method: "GET", path: "/v1/products", want: http.StatusInternalServerError, wantType: "internal"},
				catalogErr: errors.New("not a gRPC status")},
			{restCase: restCase{name: "not ready", method: "GET", path: "/readyz", want: http.StatusServiceUnavailable, wantType: "not-ready"},
				notReady: true},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				fake.setAnswer(c.orders)
				catalog.setErr(c.catalogErr)
				notReady.Store(c.notReady)
				api.check(t, tg, c.restCase)
			})
		}
	})

	t.Run("rate limit", func(t *testing.T) {
		fake := &fakeOrders{}
		fake.setAnswer(answerOrder(ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED, ""))
		frozen := time.Now()
		baseURL, token := startGateway(t, ordersv1.NewOrdersServiceClient(startFakeOrders(t, fake)), &fakeCatalog{}, gateway.Options{
			RateLimit: 1, Burst: 1, Now: func() time.Time { return frozen }, // the bucket never refills
		})
		tg := target{baseURL: baseURL, token: token, hc: &http.Client{Timeout: 15 * time.Second}}
		api.check(t, tg, restCase{name: "the one token", method: "GET", path: "/v1/products", want: http.StatusOK})
		for _, c := range []restCase{
			{method: "GET", path: "/v1/products"},
			{method: "GET", path: "/v1/orders/o-1"},
			{method: "POST", path: "/v1/orders", key: "k", body: placeBody("c-1", "sku-1", 1, 1, "")},
		} {
			c.name, c.want, c.wantType = c.method+" "+c.path, http.StatusTooManyRequests, "rate-limited"
			t.Run(c.name, func(t *testing.T) { api.check(t, tg, c) })
		}
	})

	t.Run("concurrency limit", func(t *testing.T) {
		fake := &fakeOrders{}
		entered, release := make(chan struct{}), make(chan struct{})
		fake.setAnswer(func(ctx context.Context, _ string, _ proto.Message) (proto.Message, error) {
			close(entered)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return &ordersv1.PlaceOrderResponse{Order: testOrder(ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED, "")}, nil
		})
		baseURL, token := startGateway(t, ordersv1.NewOrdersServiceClient(startFakeOrders(t, fake)), &fakeCatalog{}, gateway.Options{MaxInFlight: 1})
		tg := target{baseURL: baseURL, token: token, hc: &http.Client{Timeout: 15 * time.Second}}

		// One order holds the only slot until released.
		held := restCase{method: "POST", path: "/v1/orders", key: "held", body: placeBody("c-1", "sku-1", 1, 1, "")}
		req, err := tg.newRequest(t.Context(), held)
		require.NoError(t, err)
		heldStatus := make(chan int, 1)
		go func() {
			resp, err := tg.hc.Do(req)
			if err != nil {
				heldStatus <- 0
				return
			}
			resp.Body.Close()
			heldStatus <- resp.StatusCode
		}()
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the held order never reached orders")
		}
		for _, c := range []restCase{
			{method: "GET", path: "/v1/products"},
			{method: "GET", path: "/v1/orders/o-1"},
			{method: "POST", path: "/v1/orders", key: "k", body: placeBody("c-1", "sku-1", 1, 1, "")},
		} {
			c.name, c.want, c.wantType = c.method+" "+c.path, http.StatusServiceUnavailable, "overloaded"
			t.Run(c.name, func(t *testing.T) { api.check(t, tg, c) })
		}
		close(release)
		assert.Equal(t, http.StatusCreated, <-heldStatus)
	})

	var missing []string
	for _, k := range api.documented() {
		if !api.seen[k] {
			missing = append(missing, k)
		}
	}
	assert.Empty(t, missing, "documented answers that no case exercised: add a case, or drop the answer from docs/openapi.yaml")
}

// testOrder is an order as orders answers it.
func testOrder(st ordersv1.OrderStatus, reason string) *ordersv1.Order {
	at := timestamppb.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	o := &ordersv1.Order{
		OrderId: "o-1", IdempotencyKey: "k", CustomerId: "c-1",
		Items:      []*ordersv1.LineItem{{Sku: "sku-1", Quantity: 1, UnitPriceCents: 1999}},
		TotalCents: 1999, Status: st, FailureReason: reason, CreatedAt: at, UpdatedAt: at,
	}
	if st == ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED {
		o.ChargeId = "ch-1"
	}
	return o
}

// answerOrder answers PlaceOrder and GetOrder with an order of status st.
func answerOrder(st ordersv1.OrderStatus, reason string) func(context.Context, string, proto.Message) (proto.Message, error) {
	return func(_ context.Context, method string, _ proto.Message) (proto.Message, error) {
		if method == "GetOrder" {
			return testOrder(st, reason), nil
		}
		return &ordersv1.PlaceOrderResponse{Order: testOrder(st, reason)}, nil
	}
}

// TestOpenAPIDocumentsEveryRouteAndMethod checks both ways that the
// document's operations are the gateway's routes: every documented
// operation is routed, and on every documented path the methods the
// gateway allows (its Allow header) are the documented ones.
func TestOpenAPIDocumentsEveryRouteAndMethod(t *testing.T) {
	api := loadRESTAPI(t)
	srv, err := gateway.NewServer(ordersv1.NewOrdersServiceClient(startFakeOrders(t, &fakeOrders{})), &fakeCatalog{}, gateway.Options{JWTKey: []byte(testJWTKey)})
	require.NoError(t, err)
	for path, item := range api.doc.Paths.Map() {
		concrete := strings.ReplaceAll(path, "{id}", "o-1")
		var documented []string
		for method := range item.Operations() {
			documented = append(documented, method)
			assert.Equal(t, method+" "+path, srv.Route(httptest.NewRequest(method, concrete, nil)), "documented operation %s %s", method, path)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("PATCH", concrete, nil))
		require.Equal(t, http.StatusMethodNotAllowed, rec.Code, "PATCH %s", concrete)
		var allowed []string
		for m := range strings.SplitSeq(rec.Header().Get("Allow"), ",") {
			if m = strings.TrimSpace(m); m != "HEAD" {
				allowed = append(allowed, m)
			}
		}
		assert.ElementsMatch(t, documented, allowed, "methods of %s: the gateway allows %v", path, allowed)
	}
}

// TestOpenAPIValidationRejectsDriftingAnswers feeds hand-made answers that
// break the document to the validation the gateway's answers go through, so
// that TestGatewayAnswersMatchOpenAPI can fail.
func TestOpenAPIValidationRejectsDriftingAnswers(t *testing.T) {
	api := loadRESTAPI(t)
	const order = `{"order_id":"o-1","idempotency_key":"k","customer_id":"c-1","items":[{"sku":"sku-1","quantity":1,"unit_price_cents":1999}],` +
		`"total_cents":1999,"status":"CONFIRMED","failure_reason":"","charge_id":"ch-1","created_at":"2025-06-01T12:00:00Z","updated_at":"2025-06-01T12:00:00Z"}`
	problem := func(slug string, status int, extra string) string {
		return fmt.Sprintf(`{"type":"%s%s","title":"t","status":%d%s}`, problemTypePrefix, slug, status, extra)
	}
	jsonHeader := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	problemHeader := func(kv ...string) http.Header {
		h := jsonHeader(kv...)
		h.Set("Content-Type", "application/problem+json")
		return h
	}
	tests := []struct {
		name         string
		method, path string
		status       int
		header       http.Header
		body         string
		wantErr      string // "" for a valid answer
	}{
		{name: "a valid 201", method: "POST", path: "/v1/orders", status: 201, header: jsonHeader("Location", "/v1/orders/o-1"), body: order},
		{name: "201 without Location", method: "POST", path: "/v1/orders", status: 201, header: jsonHeader(), body: order,
			wantErr: `response header "Location" missing`},
		{name: "201 with an undocumented field", method: "POST", path: "/v1/orders", status: 201, header: jsonHeader("Location", "/v1/orders/o-1"),
			body: strings.Replace(order, `"order_id"`, `"currency":"EUR","order_id"`, 1), wantErr: "currency"},
		{name: "201 of a FAILED order", method: "POST", path: "/v1/orders", status: 201, header: jsonHeader("Location", "/v1/orders/o-1"),
			body: strings.Replace(order, `"CONFIRMED"`, `"FAILED"`, 1), wantErr: "status"},
		{name: "order with a status outside the enum", method: "GET", path: "/v1/orders/o-1", status: 200, header: jsonHeader(),
			body: strings.Replace(order, `"CONFIRMED"`, `"SHIPPED"`, 1), wantErr: "SHIPPED"},
		{name: "order without items", method: "GET", path: "/v1/orders/o-1", status: 200, header: jsonHeader(),
			body: strings.Replace(order, `"items":[{"sku":"sku-1","quantity":1,"unit_price_cents":1999}],`, "", 1), wantErr: "items"},
		{name: "an undocumented status", method: "GET", path: "/v1/products", status: 404, header: problemHeader(), body: problem("not-found", 404, ""),
			wantErr: "status is not supported"},
		{name: "a problem as application/json", method: "POST", path: "/v1/orders", status: 402, header: jsonHeader(),
			body: problem("payment-declined", 402, `,"order_id":"o-1","reason":"payment_declined","instance":"/v1/orders/o-1"`), wantErr: "Content-Type"},
		{name: "402 of another problem type", method: "POST", path: "/v1/orders", status: 402, header: problemHeader(),
			body: problem("out-of-stock", 402, `,"order_id":"o-1","reason":"payment_declined","instance":"/v1/orders/o-1"`), wantErr: "out-of-stock"},
		{name: "402 without the failed order", method: "POST", path: "/v1/orders", status: 402, header: problemHeader(),
			body: problem("payment-declined", 402, ""), wantErr: "order_id"},
		{name: "401 without a challenge", method: "POST", path: "/v1/orders", status: 401, header: problemHeader(),
			body: problem("unauthorized", 401, ""), wantErr: `"WWW-Authenticate" missing`},
		{name: "429 without Retry-After", method: "GET", path: "/v1/products", status: 429, header: problemHeader(),
			body: problem("rate-limited", 429, ""), wantErr: `"Retry-After" missing`},
		{name: "405 without Allow", method: "DELETE", path: "/v1/orders", status: 405, header: problemHeader(),
			body: problem("method-not-allowed", 405, ""), wantErr: "header Allow is required"},
		{name: "an unknown path answered 200", method: "GET", path: "/v2/x", status: 200, header: jsonHeader(), body: `{}`,
			wantErr: "must be 404 (RouteNotFound)"},
		{name: "a valid 404 of an unknown path", method: "GET", path: "/v2/x", status: 404, header: problemHeader(), body: problem("not-found", 404, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequestWithContext(t.Context(), tt.method, "http://127.0.0.1:8080"+tt.path, nil)
			_, err := api.validateAnswer(t.Context(), req, tt.status, tt.header, []byte(tt.body))
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
