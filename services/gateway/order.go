package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
)

// Limits of a place-order request.
const (
	maxBodyBytes        = 64 << 10
	maxIDChars          = 64
	maxItems            = 20
	minQuantity         = 1
	maxQuantity         = 100
	maxIdempotencyChars = 128
)

// placeOrderBody is the JSON body of POST /v1/orders.
type placeOrderBody struct {
	CustomerID    string         `json:"customer_id"`
	Items         []lineItemBody `json:"items"`
	PaymentMethod string         `json:"payment_method,omitempty"`
}

// lineItemBody is one item of a place-order body. Quantity is wider than the
// proto's int32 so that an out-of-range number is a validation error, not a
// decoding one.
type lineItemBody struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// mediaTypeError is a request body of a media type other than JSON.
type mediaTypeError struct{ got string }

func (e *mediaTypeError) Error() string {
	if e.got == "" {
		return "the request has no Content-Type; send Content-Type: application/json"
	}
	return fmt.Sprintf("Content-Type %q is not supported; send Content-Type: application/json", e.got)
}

// decodeError is a request body that is not a single JSON object of the
// expected shape. field names the offending field when it is known.
type decodeError struct {
	field  string
	detail string
}

func (e *decodeError) Error() string {
	if e.field == "" {
		return e.detail
	}
	return fmt.Sprintf("field %q: %s", e.field, e.detail)
}

// validationError lists every invalid field of a well-formed request.
type validationError struct{ fields []fieldError }

func (e *validationError) Error() string {
	if len(e.fields) == 1 {
		return fmt.Sprintf("1 invalid field: %s %s", e.fields[0].Field, e.fields[0].Detail)
	}
	return fmt.Sprintf("%d invalid fields; see errors", len(e.fields))
}

// checkJSONContentType returns a *mediaTypeError unless contentType is
// application/json (parameters such as charset are allowed).
func checkJSONContentType(contentType string) error {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return &mediaTypeError{got: contentType}
	}
	return nil
}

// decodePlaceOrder reads exactly one JSON object from body, rejecting
// unknown fields and trailing data. It returns a *decodeError for a malformed
// body and the reader's error (such as *http.MaxBytesError) when reading fails.
// It does not validate the values: see placeOrderBody.validate.
func decodePlaceOrder(body io.Reader) (placeOrderBody, error) {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	var b placeOrderBody
	if err := dec.Decode(&b); err != nil {
		return placeOrderBody{}, jsonDecodeError(err)
	}
	switch _, err := dec.Token(); {
	case errors.Is(err, io.EOF):
		return b, nil
	case err != nil && !isJSONError(err):
		return placeOrderBody{}, fmt.Errorf("reading request body: %w", err)
	default:
		return placeOrderBody{}, &decodeError{detail: "the request body must hold a single JSON object; found data after it"}
	}
}

// isJSONError reports whether err is the decoder's complaint about its input
// rather than a failure to read it.
func isJSONError(err error) bool {
	var syntax *json.SyntaxError
	return errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF)
}

// jsonDecodeError turns an error of json.Decoder.Decode into a *decodeError
// that says what is wrong and where, or passes a read error through.
func jsonDecodeError(err error) error {
	var (
		syntax    *json.SyntaxError
		typeError *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return &decodeError{detail: "the request body is empty; send a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &decodeError{detail: "the request body ends in the middle of a JSON value"}
	case errors.As(err, &syntax):
		return &decodeError{detail: fmt.Sprintf("malformed JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))}
	case errors.As(err, &typeError):
		if typeError.Field == "" {
			return &decodeError{detail: fmt.Sprintf("the request body must be a JSON object, not %s", typeError.Value)}
		}
		return &decodeError{field: typeError.Field, detail: fmt.Sprintf("must be %s, not %s", jsonKind(typeError.Type), typeError.Value)}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return &decodeError{field: name, detail: "is not a known field; allowed: customer_id, items[].sku, items[].quantity, payment_method"}
	}
	if strings.HasPrefix(err.Error(), "json: ") {
		return &decodeError{detail: "malformed JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	return fmt.Errorf("reading request body: %w", err)
}

// jsonKind names the JSON kind that decodes into t.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a JSON value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	default:
		return "a " + t.Kind().String()
	}
}

// validate returns a *validationError listing every invalid field of b, or nil.
func (b placeOrderBody) validate() error {
	var fields []fieldError
	add := func(field, detail string) { fields = append(fields, fieldError{Field: field, Detail: detail}) }

	if d := checkText(b.CustomerID, maxIDChars, true); d != "" {
		add("customer_id", d)
	}
	switch n := len(b.Items); {
	case n == 0:
		add("items", fmt.Sprintf("is required: give 1 to %d items", maxItems))
	case n > maxItems:
		add("items", fmt.Sprintf("must hold at most %d items, got %d", maxItems, n))
	}
	for i, it := range b.Items {
		if d := checkText(it.SKU, maxIDChars, true); d != "" {
			add(fmt.Sprintf("items[%d].sku", i), d)
		}
		if it.Quantity < minQuantity || it.Quantity > maxQuantity {
			add(fmt.Sprintf("items[%d].quantity", i), fmt.Sprintf("must be between %d and %d, got %d", minQuantity, maxQuantity, it.Quantity))
		}
	}
	switch b.PaymentMethod {
	case "", "card_ok", "card_declined":
	default:
		// Passing it on would make payments refuse it and the order fail as
		// a dependency problem: a 503 "retry" for the client's own mistake.
		add("payment_method", fmt.Sprintf("must be card_ok or card_declined (or absent), got %q", truncateForDetail(b.PaymentMethod)))
	}
	if len(fields) == 0 {
		return nil
	}
	return &validationError{fields: fields}
}

// checkText returns what is wrong with an identifier-like string s, or "".
func checkText(s string, maxChars int, required bool) string {
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0 && required:
		return "is required"
	case n > maxChars:
		return fmt.Sprintf("must be at most %d characters, got %d", maxChars, n)
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.ContainsFunc(s, unicode.IsControl):
		return "must not contain control characters"
	}
	return ""
}

// checkIdempotencyKey returns what is wrong with an Idempotency-Key header
// value, or "".
func checkIdempotencyKey(key string) string {
	if key == "" {
		return fmt.Sprintf("header is required: send a key of 1 to %d characters [A-Za-z0-9_-], unique per order", maxIdempotencyChars)
	}
	if len(key) > maxIdempotencyChars {
		return fmt.Sprintf("must be at most %d characters, got %d", maxIdempotencyChars, len(key))
	}
	for _, c := range []byte(key) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return "must hold only the characters A-Z a-z 0-9 _ -"
		}
	}
	return ""
}

// validatePlaceOrder checks the idempotency key and the body together, so
// that one answer lists every invalid field.
func validatePlaceOrder(key string, b placeOrderBody) error {
	var fields []fieldError
	if d := checkIdempotencyKey(key); d != "" {
		fields = append(fields, fieldError{Field: "Idempotency-Key", Detail: d})
	}
	var ve *validationError
	if err := b.validate(); errors.As(err, &ve) {
		fields = append(fields, ve.fields...)
	}
	if len(fields) == 0 {
		return nil
	}
	return &validationError{fields: fields}
}

// toProto builds the PlaceOrder request of a validated body.
func (b placeOrderBody) toProto(key string) *ordersv1.PlaceOrderRequest {
	items := make([]*ordersv1.LineItem, 0, len(b.Items))
	for _, it := range b.Items {
		items = append(items, &ordersv1.LineItem{Sku: it.SKU, Quantity: int32(it.Quantity)})
	}
	return &ordersv1.PlaceOrderRequest{
		IdempotencyKey: key,
		CustomerId:     b.CustomerID,
		Items:          items,
		PaymentMethod:  b.PaymentMethod,
	}
}

// Order is an order as the API returns it (JSON).
type Order struct {
	OrderID        string     `json:"order_id"`
	IdempotencyKey string     `json:"idempotency_key"`
	CustomerID     string     `json:"customer_id"`
	Items          []LineItem `json:"items"`
	TotalCents     int64      `json:"total_cents"`
	Status         string     `json:"status"`
	FailureReason  string     `json:"failure_reason"`
	ChargeID       string     `json:"charge_id"`
	CreatedAt      string     `json:"created_at,omitempty"`
	UpdatedAt      string     `json:"updated_at,omitempty"`
}

// LineItem is one item of an order.
type LineItem struct {
	SKU            string `json:"sku"`
	Quantity       int32  `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

// newOrder converts an order to its JSON form.
func newOrder(o *ordersv1.Order) Order {
	items := make([]LineItem, 0, len(o.GetItems()))
	for _, it := range o.GetItems() {
		items = append(items, LineItem{SKU: it.GetSku(), Quantity: it.GetQuantity(), UnitPriceCents: it.GetUnitPriceCents()})
	}
	j := Order{
		OrderID:        o.GetOrderId(),
		IdempotencyKey: o.GetIdempotencyKey(),
		CustomerID:     o.GetCustomerId(),
		Items:          items,
		TotalCents:     o.GetTotalCents(),
		Status:         strings.TrimPrefix(o.GetStatus().String(), "ORDER_STATUS_"),
		FailureReason:  o.GetFailureReason(),
		ChargeID:       o.GetChargeId(),
	}
	if o.GetCreatedAt() != nil {
		j.CreatedAt = o.GetCreatedAt().AsTime().UTC().Format(time.RFC3339Nano)
	}
	if o.GetUpdatedAt() != nil {
		j.UpdatedAt = o.GetUpdatedAt().AsTime().UTC().Format(time.RFC3339Nano)
	}
	return j
}

// orderLocation is the URL path of an order.
func orderLocation(id string) string {
	return "/v1/orders/" + url.PathEscape(id)
}

// productsJSON is the JSON form of the catalog.
type productsJSON struct {
	Products []productJSON `json:"products"`
}

// productJSON is the JSON form of one product.
type productJSON struct {
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Available  int64  `json:"available"`
}

// newProductsJSON converts the catalog to its JSON form.
func newProductsJSON(resp *inventoryv1.ListProductsResponse) productsJSON {
	out := productsJSON{Products: make([]productJSON, 0, len(resp.GetProducts()))}
	for _, p := range resp.GetProducts() {
		out.Products = append(out.Products, productJSON{SKU: p.GetSku(), Name: p.GetName(), PriceCents: p.GetPriceCents(), Available: p.GetAvailable()})
	}
	return out
}

// truncateForDetail keeps an echoed value short in a problem detail.
func truncateForDetail(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
