// Package toxiproxy wraps the Toxiproxy Go client (which takes no context)
// so that every call is bounded by a ctx, and adds the few operations the
// lab needs: creating its proxies, and adding and removing toxics.
package toxiproxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	toxi "github.com/Shopify/toxiproxy/v2/client"
)

// Client talks to one Toxiproxy server's HTTP API.
type Client struct {
	url string
	c   *toxi.Client
}

// New returns a client of the Toxiproxy API at url (e.g. http://127.0.0.1:8474).
func New(url string) *Client {
	return &Client{url: url, c: toxi.NewClient(url)}
}

// URL is the API's base URL.
func (c *Client) URL() string { return c.url }

// call runs fn, returning early with ctx's error when ctx ends first (the
// underlying request then finishes in the background, bounded by the
// client's own 30 s timeout).
func call[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// Ready reports whether the API answers.
func (c *Client) Ready(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/version", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("toxiproxy at %s: GET /version: %s", c.url, resp.Status)
	}
	return nil
}

// ProxySpec is a proxy to create.
type ProxySpec struct {
	Name, Listen, Upstream string
}

// Populate creates (or replaces) the proxies, enabled and without toxics.
func (c *Client) Populate(ctx context.Context, specs []ProxySpec) error {
	cfg := make([]toxi.Proxy, 0, len(specs))
	for _, s := range specs {
		cfg = append(cfg, toxi.Proxy{Name: s.Name, Listen: s.Listen, Upstream: s.Upstream, Enabled: true})
	}
	_, err := call(ctx, func() ([]*toxi.Proxy, error) { return c.c.Populate(cfg) })
	if err != nil {
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
	ps, err := call(ctx, c.c.Proxies)
	if err != nil {
		return nil, fmt.Errorf("listing Toxiproxy proxies at %s: %w", c.url, err)
	}
	out := make(map[string]Proxy, len(ps))
	for name, p := range ps {
		pr := Proxy{Name: p.Name, Listen: p.Listen, Upstream: p.Upstream, Enabled: p.Enabled}
		for _, t := range p.ActiveToxics {
			pr.Toxics = append(pr.Toxics, Toxic{Name: t.Name, Type: t.Type, Stream: t.Stream, Toxicity: t.Toxicity, Attributes: t.Attributes})
		}
		out[name] = pr
	}
	return out, nil
}

// AddToxic adds a toxic named t.Name to the proxy.
func (c *Client) AddToxic(ctx context.Context, proxy string, t Toxic) error {
	_, err := call(ctx, func() (*toxi.Toxic, error) {
		return c.c.AddToxic(&toxi.ToxicOptions{
			ProxyName: proxy, ToxicName: t.Name, ToxicType: t.Type, Stream: t.Stream,
			Toxicity: t.Toxicity, Attributes: t.Attributes,
		})
	})
	if err != nil {
		return fmt.Errorf("adding %s toxic %q to proxy %s: %w", t.Type, t.Name, proxy, err)
	}
	return nil
}

// RemoveToxic removes a toxic; removing one that is not there is not an error.
func (c *Client) RemoveToxic(ctx context.Context, proxy, name string) error {
	// Through the proxy, not Client.RemoveToxic, which flattens the API's
	// typed error (and with it the 404) into text.
	p, err := call(ctx, func() (*toxi.Proxy, error) { return c.c.Proxy(proxy) })
	if err != nil {
		return fmt.Errorf("removing toxic %q: proxy %s: %w", name, proxy, err)
	}
	_, err = call(ctx, func() (struct{}, error) { return struct{}{}, p.RemoveToxic(name) })
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("removing toxic %q from proxy %s: %w", name, proxy, err)
	}
	return nil
}

// SetEnabled enables or disables (cuts) a proxy.
func (c *Client) SetEnabled(ctx context.Context, proxy string, enabled bool) error {
	_, err := call(ctx, func() (struct{}, error) {
		p, err := c.c.Proxy(proxy)
		if err != nil {
			return struct{}{}, err
		}
		if enabled {
			return struct{}{}, p.Enable()
		}
		return struct{}{}, p.Disable()
	})
	if err != nil {
		return fmt.Errorf("setting proxy %s enabled=%t: %w", proxy, enabled, err)
	}
	return nil
}

// Reset enables every proxy and removes every toxic.
func (c *Client) Reset(ctx context.Context) error {
	_, err := call(ctx, func() (struct{}, error) { return struct{}{}, c.c.ResetState() })
	if err != nil {
		return fmt.Errorf("resetting Toxiproxy at %s: %w", c.url, err)
	}
	return nil
}

func isNotFound(err error) bool {
	var apiErr *toxi.ApiError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}

// pollInterval is how often WaitReady polls.
const pollInterval = 20 * time.Millisecond

// WaitReady polls Ready until it succeeds or ctx ends.
func (c *Client) WaitReady(ctx context.Context) error {
	for {
		if err := c.Ready(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("toxiproxy at %s not ready: %w", c.url, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}
