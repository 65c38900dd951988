package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Client calls the gateway's REST API, for tests, e2e checks and tools.
type Client struct {
	baseURL string
	token   string
	http    *http.Client
}

// NewClient returns a client of the gateway at baseURL (e.g.
// http://127.0.0.1:8080) sending token as its bearer token. A nil hc uses a
// client with a 30 s timeout.
func NewClient(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	}
	return &Client{baseURL: baseURL, token: token, http: hc}
}

// OrderRequest is the body of POST /v1/orders.
type OrderRequest struct {
	CustomerID    string      `json:"customer_id"`
	Items         []OrderItem `json:"items"`
	PaymentMethod string      `json:"payment_method,omitempty"`
}

// OrderItem is one item of an OrderRequest.
type OrderItem struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// Problem is an RFC 9457 problem the gateway answered with.
type Problem struct {
	Status  int    `json:"status"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Detail  string `json:"detail"`
	OrderID string `json:"order_id"`
	Reason  string `json:"reason"`
}

func (p *Problem) Error() string {
	msg := fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
	if p.Reason != "" {
		msg += " (reason " + p.Reason + ")"
	}
	return msg
}

// PlaceOrder posts an order with the idempotency key. A non-2xx answer is
// a *Problem error.
func (c *Client) PlaceOrder(ctx context.Context, key string, req OrderRequest) (Order, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return Order{}, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/v1/orders", bytes.NewReader(body))
	if err != nil {
		return Order{}, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Authorization", "Bearer "+c.token)
	hreq.Header.Set("Idempotency-Key", key)
	var o Order
	return o, c.do(hreq, &o)
}

// GetOrder reads an order back.
func (c *Client) GetOrder(ctx context.Context, id string) (Order, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+orderLocation(id), nil)
	if err != nil {
		return Order{}, err
	}
	var o Order
	return o, c.do(hreq, &o)
}

func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		p := &Problem{Status: resp.StatusCode}
		if jerr := json.Unmarshal(raw, p); jerr != nil || p.Title == "" {
			p.Title, p.Detail = http.StatusText(resp.StatusCode), string(raw)
		}
		p.Status = resp.StatusCode
		return p
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decoding %q: %w", req.Method, url.PathEscape(req.URL.Path), raw, err)
	}
	return nil
}
