package stack

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
)

// FaultEnv returns what the fault injectors act on in the running lab s:
// its Toxiproxy (none without a Toxiproxy URL), its process control, its
// services' admin APIs, called with hc (nil: a client with a 10s timeout;
// through s's AdminHTTP when it has credentials to add per service; with
// the endpoints' AdminToken as a bearer token when they have one), and its
// container control when s implements faults.Containers (the compose
// stack).
//
// It lives here, not in package faults, so that the dependency runs one
// way: the harness knows the fault model, the fault model knows nothing of
// the harness (only the small interfaces of faults.Env).
func FaultEnv(s Stack, hc *http.Client) faults.Env {
	ep := s.Endpoints()
	if a, ok := s.(AdminHTTP); ok {
		hc = a.AdminHTTP(hc)
	}
	env := faults.Env{
		Services:  ep.ServiceOrder,
		Processes: s,
		AdminURL: func(service string) (string, error) {
			svc, ok := ep.Instance(service)
			if !ok || svc.AdminURL == "" {
				return "", fmt.Errorf("service %q: %w", service, faults.ErrNoAdminAPI)
			}
			return svc.AdminURL, nil
		},
		HTTP:      withBearer(hc, ep.AdminToken),
		Instances: func(service string) []string { return ep.Services[service].InstanceNames() },
		EdgeProxies: func(edge string) []string {
			if e, ok := ep.Edges[edge]; ok {
				return e.Proxies()
			}
			return nil
		},
	}
	if ep.ToxiproxyURL != "" {
		env.Toxiproxy = FaultProxies(toxiproxy.New(ep.ToxiproxyURL))
	}
	if c, ok := s.(faults.Containers); ok {
		env.Containers = c
	}
	return env
}

// withBearer is hc sending token as a bearer token on every request; hc
// itself when token is empty.
func withBearer(hc *http.Client, token string) *http.Client {
	if token == "" {
		return hc
	}
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c := *hc
	c.Transport = bearerTransport{base: base, token: token}
	return &c
}

// bearerTransport adds "Authorization: Bearer <token>" to each request.
type bearerTransport struct {
	base  http.RoundTripper
	token string
}

func (t bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return t.base.RoundTrip(r)
}

// AdminHTTP is an optional ability of a Stack whose services' admin APIs
// want credentials (the remote stack: a bearer token per service): it
// returns the client to call them with, built on hc.
type AdminHTTP interface {
	AdminHTTP(hc *http.Client) *http.Client
}

// FaultProxies returns c as the faults.Proxies that network faults use.
func FaultProxies(c *toxiproxy.Client) faults.Proxies { return faultProxies{c} }

// faultProxies adapts the Toxiproxy client to faults.Proxies.
type faultProxies struct{ c *toxiproxy.Client }

func (p faultProxies) AddToxic(ctx context.Context, proxy string, t faults.Toxic) error {
	attrs := make(map[string]any, len(t.Attributes))
	for k, v := range t.Attributes {
		attrs[k] = v
	}
	return p.c.AddToxic(ctx, proxy, toxiproxy.Toxic{
		Name: t.Name, Type: t.Type, Stream: t.Stream, Toxicity: float32(t.Toxicity), Attributes: attrs,
	})
}

func (p faultProxies) RemoveToxic(ctx context.Context, proxy, name string) error {
	return p.c.RemoveToxic(ctx, proxy, name)
}

func (p faultProxies) SetEnabled(ctx context.Context, proxy string, enabled bool) error {
	return p.c.SetEnabled(ctx, proxy, enabled)
}

func (p faultProxies) Proxies(ctx context.Context) (map[string]faults.Proxy, error) {
	ps, err := p.c.Proxies(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]faults.Proxy, len(ps))
	for name, px := range ps {
		fp := faults.Proxy{Enabled: px.Enabled, Toxics: make([]faults.Toxic, 0, len(px.Toxics))}
		for _, t := range px.Toxics {
			fp.Toxics = append(fp.Toxics, faults.Toxic{
				Name: t.Name, Type: t.Type, Stream: t.Stream,
				Toxicity: float64(t.Toxicity), Attributes: intAttributes(t.Attributes),
			})
		}
		out[name] = fp
	}
	return out, nil
}

// intAttributes returns the numeric attributes of a toxic as Toxiproxy
// lists them (JSON numbers), as integers; it drops any other.
func intAttributes(attrs map[string]any) map[string]int64 {
	out := make(map[string]int64, len(attrs))
	for k, v := range attrs {
		switch n := v.(type) {
		case float64:
			out[k] = int64(math.Round(n))
		case int64:
			out[k] = n
		case int:
			out[k] = int64(n)
		}
	}
	return out
}
