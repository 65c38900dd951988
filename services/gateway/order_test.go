package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// itemsJSON is n items with the given quantity.
func itemsJSON(n, quantity int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"sku":"sku-%d","quantity":%d}`, i, quantity)
	}
	return "[" + strings.Join(items, ",") + "]"
}

func TestPlaceOrderRejectsBadRequests(t *testing.T) {
	tests := []struct {
		name         string
		body         string
		edit         func(*http.Request)
		wantStatus   int
		wantFields   []string // nil: the problem lists no fields
		wantInDetail string
	}{
		{name: "empty body", body: ``, wantStatus: 400, wantInDetail: "empty"},
		{name: "truncated JSON", body: `{"customer_id":`, wantStatus: 400, wantInDetail: "middle"},
		{name: "malformed JSON", body: `{"customer_id" "c-1"}`, wantStatus: 400, wantInDetail: "malformed JSON"},
		{name: "not an object", body: `[1,2]`, wantStatus: 400, wantInDetail: "JSON object"},
		{name: "unknown field", body: `{"customer_id":"c-1","items":[{"sku":"a","quantity":1}],"coupon":"FREE"}`,
			wantStatus: 400, wantFields: []string{"coupon"}, wantInDetail: `"coupon"`},
		{name: "unknown nested field", body: `{"customer_id":"c-1","items":[{"sku":"a","quantity":1,"color":"red"}]}`,
			wantStatus: 400, wantFields: []string{"color"}, wantInDetail: `"color"`},
		{name: "trailing object", body: validBody + validBody, wantStatus: 400, wantInDetail: "data after"},
		{name: "trailing garbage", body: validBody + " x", wantStatus: 400, wantInDetail: "data after"},
		{name: "quantity as string", body: `{"customer_id":"c-1","items":[{"sku":"a","quantity":"2"}]}`,
			wantStatus: 400, wantFields: []string{"items.quantity"}, wantInDetail: "integer"},
		{name: "fractional quantity", body: `{"customer_id":"c-1","items":[{"sku":"a","quantity":1.5}]}`,
			wantStatus: 400, wantFields: []string{"items.quantity"}},
		{name: "huge quantity", body: `{"customer_id":"c-1","items":[{"sku":"a","quantity":1e30}]}`,
			wantStatus: 400, wantFields: []string{"items.quantity"}},
		{name: "items not an array", body: `{"customer_id":"c-1","items":{}}`,
			wantStatus: 400, wantFields: []string{"items"}},
		{name: "zero quantity", body: `{"customer_id":"c-1","items":[{"sku":"a","quantity":0}]}`,
			wantStatus: 400, wantFields: []string{"items[0].quantity"}},
		{name: "negative quantity", body: `{"customer_id":"c-1","items":[{"sku":"a","quantity":-3}]}`,
			wantStatus: 400, wantFields: []string{"items[0].quantity"}},
		{name: "quantity over 100", body: `{"customer_id":"c-1","items":[{"sku":"a","quantity":1},{"sku":"b","quantity":101}]}`,
			wantStatus: 400, wantFields: []string{"items[1].quantity"}},
		{name: "quantity beyond int32", body: `{"customer_id":"c-1","items":[{"sku":"a","quantity":4294967298}]}`,
			wantStatus: 400, wantFields: []string{"items[0].quantity"}},
		{name: "no items", body: `{"customer_id":"c-1"}`, wantStatus: 400, wantFields: []string{"items"}},
		{name: "empty items", body: `{"customer_id":"c-1","items":[]}`, wantStatus: 400, wantFields: []string{"items"}},
		{name: "too many items", body: `{"customer_id":"c-1","items":` + itemsJSON(21, 1) + `}`,
			wantStatus: 400, wantFields: []string{"items"}, wantInDetail: "items"},
		{name: "missing customer", body: `{"items":[{"sku":"a","quantity":1}]}`, wantStatus: 400, wantFields: []string{"customer_id"}},
		{name: "customer too long", body: `{"customer_id":"` + strings.Repeat("c", 65) + `","items":[{"sku":"a","quantity":1}]}`,
			wantStatus: 400, wantFields: []string{"customer_id"}},
		{name: "control character in customer", body: `{"customer_id":"c\u0000","items":[{"sku":"a","quantity":1}]}`,
			wantStatus: 400, wantFields: []string{"customer_id"}},
		{name: "empty sku", body: `{"customer_id":"c-1","items":[{"sku":"","quantity":1}]}`, wantStatus: 400, wantFields: []string{"items[0].sku"}},
		{name: "sku too long", body: `{"customer_id":"c-1","items":[{"sku":"` + strings.Repeat("s", 65) + `","quantity":1}]}`,
			wantStatus: 400, wantFields: []string{"items[0].sku"}},
		{name: "payment method too long", body: `{"customer_id":"c-1","items":[{"sku":"a","quantity":1}],"payment_method":"` + strings.Repeat("p", 65) + `"}`,
			wantStatus: 400, wantFields: []string{"payment_method"}},
		{name: "unknown payment method", body: `{"customer_id":"c-1","items":[{"sku":"a","quantity":1}],"payment_method":"card_gold"}`,
			wantStatus: 400, wantFields: []string{"payment_method"}},
		{name: "every invalid field is listed",
			body:       `{"items":[{"sku":"a","quantity":0},{"sku":"","quantity":5}]}`,
			edit:       func(r *http.Request) { r.Header.Del("Idempotency-Key") },
			wantStatus: 400, wantFields: []string{"Idempotency-Key", "customer_id", "items[0].quantity", "items[1].sku"}},
		{name: "missing idempotency key", body: validBody, edit: func(r *http.Request) { r.Header.Del("Idempotency-Key") },
			wantStatus: 400, wantFields: []string{"Idempotency-Key"}},
		{name: "idempotency key with a space", body: validBody, edit: func(r *http.Request) { r.Header.Set("Idempotency-Key", "key 1") },
			wantStatus: 400, wantFields: []string{"Idempotency-Key"}},
		{name: "idempotency key with a slash", body: validBody, edit: func(r *http.Request) { r.Header.Set("Idempotency-Key", "a/b") },
			wantStatus: 400, wantFields: []string{"Idempotency-Key"}},
		{name: "idempotency key too long", body: validBody, edit: func(r *http.Request) { r.Header.Set("Idempotency-Key", strings.Repeat("k", 129)) },
			wantStatus: 400, wantFields: []string{"Idempotency-Key"}},
		{name: "text content type", body: validBody, edit: func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") },
			wantStatus: 415},
		{name: "form content type", body: validBody, edit: func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") },
			wantStatus: 415},
		{name: "no content type", body: validBody, edit: func(r *http.Request) { r.Header.Del("Content-Type") },
			wantStatus: 415},
		{name: "body too large", body: `{"customer_id":"` + strings.Repeat("c", maxBodyBytes) + `"}`, wantStatus: 413},
		{name: "body too large after the object", body: validBody + strings.Repeat(" ", maxBodyBytes), wantStatus: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orders := &fakeOrders{}
			s := newTestServer(t, orders, &fakeCatalog{}, nil)
			r := placeRequest(t, tt.body)
			if tt.edit != nil {
				tt.edit(r)
			}
			p := requireProblem(t, serve(s, r), tt.wantStatus)
			assert.Equal(t, tt.wantFields, p.fields())
			for _, e := range p.Errors {
				assert.NotEmpty(t, e.Detail, "field %s", e.Field)
			}
			assert.Contains(t, p.Detail, tt.wantInDetail)
			assert.Zero(t, orders.placedCount(), "an invalid request must not reach orders")
		})
	}
}

func TestPlaceOrderAcceptsEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		body string
		edit func(*http.Request)
	}{
		{name: "charset parameter", body: validBody, edit: func(r *http.Request) { r.Header.Set("Content-Type", "application/json; charset=utf-8") }},
		{name: "no payment method", body: `{"customer_id":"c-1","items":[{"sku":"a","quantity":1}]}`},
		{name: "limits", body: `{"customer_id":"` + strings.Repeat("c", 64) + `","items":` + itemsJSON(20, 100) + `}`,
			edit: func(r *http.Request) { r.Header.Set("Idempotency-Key", strings.Repeat("K_-9", 32)) }},
		{name: "trailing whitespace", body: validBody + "\n\t "},
		{name: "multibyte customer of 64 characters", body: `{"customer_id":"` + strings.Repeat("é", 64) + `","items":[{"sku":"a","quantity":1}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orders := &fakeOrders{}
			r := placeRequest(t, tt.body)
			if tt.edit != nil {
				tt.edit(r)
			}
			rec := serve(newTestServer(t, orders, &fakeCatalog{}, nil), r)
			assert.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
			require.Equal(t, 1, orders.placedCount())
		})
	}
}
