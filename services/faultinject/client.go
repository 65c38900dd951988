package faultinject

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client drives the admin API (AdminHandler) of a service's Injector.
type Client struct {
	base  string
	hc    *http.Client
	token string
}

// defaultClientTimeout bounds a call when the caller's context has no
// deadline and no http.Client was given.
const defaultClientTimeout = 10 * time.Second

// NewClient returns a Client of the admin API at baseURL
// ("http://127.0.0.1:9102"; the paths /faults... are added), using hc (nil:
// a client with a 10s timeout).
func NewClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: defaultClientTimeout}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc}
}

// WithBearerToken returns a copy of c that sends token as a bearer token
// (an admin API behind WithBearerToken); empty: none.
func (c *Client) WithBearerToken(token string) *Client {
	cc := *c
	cc.token = token
	return &cc
}

// Set sets f (replacing the fault with the same ID) and returns the fault as
// stored, with its ID.
func (c *Client) Set(ctx context.Context, f Fault) (Fault, error) {
	var stored Fault
	method, path := http.MethodPost, "/faults"
	if f.ID != "" {
		method, path = http.MethodPut, "/faults/"+url.PathEscape(f.ID)
	}
	if err := c.do(ctx, method, path, f, &stored); err != nil {
		return Fault{}, err
	}
	return stored, nil
}

// Delete removes the fault id; it fails if there is none.
func (c *Client) Delete(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/faults/"+url.PathEscape(id), nil, nil)
}

// Clear removes every fault.
func (c *Client) Clear(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/faults", nil, nil)
}

// List returns the faults set.
func (c *Client) List(ctx context.Context) ([]Fault, error) {
	var faults []Fault
	if err := c.do(ctx, http.MethodGet, "/faults", nil, &faults); err != nil {
		return nil, err
	}
	return faults, nil
}

// do sends in (when not nil) as JSON with method to path and decodes the
// answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	u := c.base + path
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encoding the request: %w", method, u, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s%s", method, u, resp.Status, problemDetail(resp.Body))
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyBytes))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBodyBytes)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, u, err)
	}
	return nil
}

// problemDetail returns ": <detail>" from a problem+json body, or "".
func problemDetail(r io.Reader) string {
	var p problem
	if err := json.NewDecoder(io.LimitReader(r, maxBodyBytes)).Decode(&p); err != nil {
		return ""
	}
	switch {
	case p.Detail != "":
		return ": " + p.Detail
	case p.Title != "":
		return ": " + p.Title
	}
	return ""
}
