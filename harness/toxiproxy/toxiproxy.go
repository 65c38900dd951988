// Package toxiproxy is a small client of the Toxiproxy HTTP API: creating
// the lab's proxies, listing them, and adding and removing toxics.
//
// It is hand-written on net/http rather than wrapping the official Go client
// (github.com/Shopify/toxiproxy/v2/client) because that client takes no
// context: a call could only be abandoned, never cut, so a request kept
// running after its ctx ended and a toxic could be added after the fault had
// been undone. Here every call is one request (two for RemoveToxic of a
// missing toxic) made with http.NewRequestWithContext: when ctx ends the
// request itself is cancelled and nothing is left running. The API used is
// small enough to carry by hand: GET /version, POST /populate, GET /proxies,
// GET and POST /proxies/{proxy}, POST /proxies/{proxy}/toxics,
// DELETE /proxies/{proxy}/toxics/{toxic} and POST /reset.
//
// Cutting a request does not undo it on the server: Toxiproxy does not watch
// a request's context, so a request that reached it before ctx ended may
// still take effect. After an error, Proxies tells what the server holds.
package toxiproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to one Toxiproxy server's HTTP API.
type Client struct {
	url string
	hc  *http.Client
}

// New returns a client of the Toxiproxy API at url (e.g. http://127.0.0.1:8474).
func New(url string) *Client {
	return &Client{url: url, hc: http.DefaultClient}
}

// URL is the API's base URL.
func (c *Client) URL() string { return c.url }

// APIError is an answer of the Toxiproxy API that is not a success: its
// HTTP status and the API's message.
type APIError struct {
	Method, Path string
	// Status is the HTTP status code.
	Status int
	// Message is the API's "error" field, or else the body's text, or else
	// the status text.
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Message)
}

// IsNotFound reports whether err is the API's 404 (an unknown proxy or toxic).
func IsNotFound(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}

// maxErrorBody bounds how much of an error answer is read for its message.
const maxErrorBody = 64 << 10

// do sends one request bounded by ctx with in (if not nil) as its JSON body,
// and decodes a successful answer's JSON body into out (if not nil). An
// answer other than 2xx is an *APIError.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encoding the body: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.url, "/")+path, body)
	if err != nil {
		return err
	}
	// Toxiproxy refuses browsers' user agents; say who calls.
	req.Header.Set("User-Agent", "chaoslab-toxiproxy")
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err // a *url.Error naming method and URL, wrapping ctx's error
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return apiError(method, path, resp)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
		}
	}
	// Read what is left so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	return nil
}

// apiError reads an error answer: Toxiproxy sends {"error": msg, "status": n}.
func apiError(method, path string, resp *http.Response) error {
	e := &APIError{Method: method, Path: path, Status: resp.StatusCode}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var msg struct {
		Error string `json:"error"`
	}
	switch {
	case json.Unmarshal(b, &msg) == nil && msg.Error != "":
		e.Message = msg.Error
	case len(bytes.TrimSpace(b)) > 0:
		e.Message = string(bytes.TrimSpace(b))
	case err != nil:
		e.Message = "reading the answer: " + err.Error()
	default:
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

func proxyPath(proxy string) string { return "/proxies/" + url.PathEscape(proxy) }

// Ready reports whether the API answers.
func (c *Client) Ready(ctx context.Context) error {
	if err := c.do(ctx, http.MethodGet, "/version", nil, nil); err != nil {
		return fmt.Errorf("toxiproxy at %s: %w", c.url, err)
	}
	return nil
}

// ProxySpec is a proxy to create.
type ProxySpec struct {
	Name, Listen, Upstream string
}

// proxyJSON is a proxy as the API has it.
type proxyJSON struct {
	Name     string      `json:"name"`
	Listen   string      `json:"listen"`
	Upstream string      `json:"upstream"`
	Enabled  bool        `json:"enabled"`
	Toxics   []toxicJSON `json:"toxics,omitempty"`
}

// toxicJSON is a toxic as the API has it.
type toxicJSON struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream,omitempty"`
	Toxicity   float32        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

// Populate creates (or replaces) the proxies, enabled and without toxics.
func (c *Client) Populate(ctx context.Context, specs []ProxySpec) error {
	cfg := make([]proxyJSON, 0, len(specs))
	for _, s := range specs {
		cfg = append(cfg, proxyJSON{Name: s.Name, Listen: s.Listen, Upstream: s.Upstream, Enabled: true})
	}
	if err := c.do(ctx, http.MethodPost, "/populate", cfg, nil); err != nil {
		return fmt.Errorf("creating Toxiproxy proxies at %s: %w", c.url, err)
	}
	return nil
}

// Proxy is a proxy's state.
type Proxy struct {
	Name, Listen, Upstream string
	Enabled                bool
	Toxics                 []Toxic
}

// Toxic is a toxic on a proxy.
type Toxic struct {
	Name       string
	Type       string
	Stream     string
	Toxicity   float32
	Attributes map[string]any
}

// Proxies lists the proxies with their toxics.
func (c *Client) Proxies(ctx context.Context) (map[string]Proxy, error) {
	var ps map[string]proxyJSON
	if err := c.do(ctx, http.MethodGet, "/proxies", nil, &ps); err != nil {
		return nil, fmt.Errorf("listing Toxiproxy proxies at %s: %w", c.url, err)
	}
	out := make(map[string]Proxy, len(ps))
	for name, p := range ps {
		pr := Proxy{Name: p.Name, Listen: p.Listen, Upstream: p.Upstream, Enabled: p.Enabled}
		for _, t := range p.Toxics {
			pr.Toxics = append(pr.Toxics, Toxic(t))
		}
		out[name] = pr
	}
	return out, nil
}

// AddToxic adds a toxic named t.Name to the proxy.
func (c *Client) AddToxic(ctx context.Context, proxy string, t Toxic) error {
	if err := c.do(ctx, http.MethodPost, proxyPath(proxy)+"/toxics", toxicJSON(t), nil); err != nil {
		return fmt.Errorf("adding %s toxic %q to proxy %s: %w", t.Type, t.Name, proxy, err)
	}
	return nil
}

// RemoveToxic removes a toxic; removing one that is not there is not an
// error, while an unknown proxy is.
func (c *Client) RemoveToxic(ctx context.Context, proxy, name string) error {
	err := c.do(ctx, http.MethodDelete, proxyPath(proxy)+"/toxics/"+url.PathEscape(name), nil, nil)
	if IsNotFound(err) {
		// The API answers 404 for an unknown proxy and for a missing toxic
		// alike: ask for the proxy to tell which.
		switch perr := c.do(ctx, http.MethodGet, proxyPath(proxy), nil, nil); {
		case perr == nil:
			return nil
		case !IsNotFound(perr):
			err = errors.Join(err, perr)
		}
	}
	if err != nil {
		return fmt.Errorf("removing toxic %q from proxy %s: %w", name, proxy, err)
	}
	return nil
}

// SetEnabled enables or disables (cuts) a proxy.
func (c *Client) SetEnabled(ctx context.Context, proxy string, enabled bool) error {
	// POST, not PATCH: every Toxiproxy 2.x takes POST (2.12 also PATCH).
	body := struct {
		Enabled bool `json:"enabled"`
	}{enabled}
	if err := c.do(ctx, http.MethodPost, proxyPath(proxy), body, nil); err != nil {
		return fmt.Errorf("setting proxy %s enabled=%t: %w", proxy, enabled, err)
	}
	return nil
}

// Reset enables every proxy and removes every toxic.
func (c *Client) Reset(ctx context.Context) error {
	if err := c.do(ctx, http.MethodPost, "/reset", nil, nil); err != nil {
		return fmt.Errorf("resetting Toxiproxy at %s: %w", c.url, err)
	}
	return nil
}

// pollInterval is how often WaitReady polls.
const pollInterval = 20 * time.Millisecond

// WaitReady polls Ready until it succeeds or ctx ends.
func (c *Client) WaitReady(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("toxiproxy at %s not ready: %w", c.url, ctx.Err())
		case <-t.C:
		}
		if err := c.Ready(ctx); err == nil {
			return nil
		}
		t.Reset(pollInterval)
	}
}
