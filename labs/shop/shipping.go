package shop

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/chaoslab/chaoslab/labs/shop/invariants"
)

// shippingClient reads shipping's HTTP API (GET /v1/shipments, GET
// /v1/consumer) for the invariants and the settle probe.
type shippingClient struct {
	base string
	hc   *http.Client
}

func (c shippingClient) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: decoding: %w", path, err)
	}
	return nil
}

// ListShipments returns every shipment shipping recorded.
func (c shippingClient) ListShipments(ctx context.Context) ([]invariants.Shipment, error) {
	var body struct {
		Shipments []struct {
			ID      string `json:"shipment_id"`
			OrderID string `json:"order_id"`
			EventID string `json:"event_id"`
		} `json:"shipments"`
	}
	if err := c.get(ctx, "/v1/shipments", &body); err != nil {
		return nil, err
	}
	out := make([]invariants.Shipment, 0, len(body.Shipments))
	for _, s := range body.Shipments {
		out = append(out, invariants.Shipment{ID: s.ID, OrderID: s.OrderID, EventID: s.EventID})
	}
	return out, nil
}

// ConsumerLag returns the messages not yet delivered to shipping's consumer
// and those delivered but not acked.
func (c shippingClient) ConsumerLag(ctx context.Context) (pending, ackPending int64, err error) {
	var body struct {
		Pending    int64 `json:"pending"`
		AckPending int64 `json:"ack_pending"`
	}
	if err := c.get(ctx, "/v1/consumer", &body); err != nil {
		return 0, 0, err
	}
	return body.Pending, body.AckPending, nil
}
