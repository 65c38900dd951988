package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// FuzzDecodePlaceOrder feeds arbitrary bodies to the place-order decoding and
// validation. Neither may panic; every refusal is a 400 (413 only beyond the
// size limit); and a body accepted as valid must survive re-encoding: it
// decodes again to the same value, which is valid again.
func FuzzDecodePlaceOrder(f *testing.F) {
	f.Add([]byte(validBody))
	f.Add([]byte(`{"customer_id":"c","items":[{"sku":"s","quantity":100}]}`))
	f.Add([]byte(`{"customer_id":"c","items":[{"sku":"s","quantity":1}],"x":1}`))
	f.Add([]byte(`{"customer_id":"c","items":[{"sku":"s","quantity":99999999999999999999}]}`))
	f.Add([]byte(`[[[{"items":[[{}]]}]]]`))
	f.Add([]byte(`{"customer_id":"\u00e9\ud800","items":[{"sku":"\u2028","quantity":7}]} `))

	f.Fuzz(func(t *testing.T, data []byte) {
		body, err := decodePlaceOrder(http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(data)), maxBodyBytes))
		if err != nil {
			p := problemFromError(err)
			switch {
			case p.Status == http.StatusRequestEntityTooLarge && len(data) > maxBodyBytes:
			case p.Status == http.StatusBadRequest:
			default:
				t.Fatalf("decoding %q: got status %d (%v), want 400 or 413 beyond the limit", data, p.Status, err)
			}
			return
		}
		if err := body.validate(); err != nil {
			p := problemFromError(err)
			if p.Status != http.StatusBadRequest || len(p.Errors) == 0 {
				t.Fatalf("validating %+v: got status %d with %d field errors, want 400 listing fields", body, p.Status, len(p.Errors))
			}
			return
		}

		encoded, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", body, err)
		}
		again, err := decodePlaceOrder(bytes.NewReader(encoded))
		if err != nil {
			t.Fatalf("decoding re-encoded %s: %v", encoded, err)
		}
		if err := again.validate(); err != nil {
			t.Fatalf("re-encoded %s is invalid: %v", encoded, err)
		}
		if !equalBodies(body, again) {
			t.Fatalf("round trip changed the request: %+v became %+v", body, again)
		}
		req := again.toProto("k")
		for i, it := range req.GetItems() {
			if int64(it.GetQuantity()) != body.Items[i].Quantity {
				t.Fatalf("item %d: quantity %d became %d in the RPC", i, body.Items[i].Quantity, it.GetQuantity())
			}
		}
	})
}

// equalBodies reports whether a and b are the same request.
func equalBodies(a, b placeOrderBody) bool {
	if a.CustomerID != b.CustomerID || a.PaymentMethod != b.PaymentMethod || len(a.Items) != len(b.Items) {
		return false
	}
	for i := range a.Items {
		if a.Items[i] != b.Items[i] {
			return false
		}
	}
	return true
}
