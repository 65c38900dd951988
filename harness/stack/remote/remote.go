// Package remote is the stack of a lab that already runs somewhere else —
// on Kubernetes, on another host — given by the URLs of a remote endpoints
// file (File): its entry point, Prometheus, Jaeger's query APIs, Toxiproxy
// (optional) and each service's readiness, metrics and fault admin URLs.
// It implements stack.Stack, but owns no process: Up and Attach load the
// file and probe every endpoint, Down leaves the system running (it rolls
// back what the ledger in its local run dir still lists), and Signal and
// Restart refuse — the faults it applies are those its endpoints allow:
// network faults through the proxies that already exist in its Toxiproxy
// (it never creates or deletes one), request faults through the admin
// APIs, with a bearer token when the file gives one.
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
	"github.com/chaoslab/chaoslab/harness/traces"
)

// Config says which remote lab to reach and where to keep the harness's
// side of it.
type Config struct {
	// File is the remote endpoints file.
	File string
	// Lab is the lab file the remote system is an instance of; nil checks
	// the file against no lab (commands that need none, like clean).
	Lab *lab.Lab
	// RunDir is local: it keeps the fault ledger and a copy of the
	// hs256-jwt key.
	RunDir string
	// ProbeTimeout bounds each probe of an endpoint.
	ProbeTimeout time.Duration
	// Progress receives one line per endpoint probed (nil: discarded).
	Progress io.Writer
}

// DefaultConfig keeps the harness's side of a remote lab in .run/remote.
func DefaultConfig() Config {
	return Config{RunDir: filepath.Join(".run", "remote"), ProbeTimeout: 5 * time.Second}
}

// ErrNoProcesses is the error of Signal and Restart: the remote stack owns
// no process.
var ErrNoProcesses = errors.New("the remote stack owns no process of the lab: process faults and knobs that restart a service need the local or compose stack")

// Lab is a remote lab, reached through its file's URLs. It implements
// stack.Stack.
type Lab struct {
	cfg  Config
	file *File

	mu sync.Mutex
	e  stack.Endpoints
}

var _ stack.Stack = (*Lab)(nil)

func (c Config) progress(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", args...)
	}
}

// Up loads the remote file, checks it against the lab file and probes
// every endpoint it names; it starts nothing. An endpoint that does not
// answer, or a proxy that does not exist, is an error that lists them all.
func Up(ctx context.Context, cfg Config) (*Lab, error) { return open(ctx, cfg) }

// Attach is Up: a remote lab runs whether or not this harness started it.
func Attach(ctx context.Context, cfg Config) (*Lab, error) { return open(ctx, cfg) }

func open(ctx context.Context, cfg Config) (*Lab, error) {
	l, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	checks := l.Probe(ctx)
	var bad []string
	for _, c := range checks {
		if c.Err != nil {
			bad = append(bad, "  "+c.String())
			continue
		}
		cfg.progress("  %s", c.String())
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("remote lab %s: %d of %d endpoints do not answer as they should:\n%s",
			cfg.File, len(bad), len(checks), strings.Join(bad, "\n"))
	}
	return l, nil
}

// Open loads the remote file of cfg and prepares the run dir — the copy of
// the hs256-jwt key that the load's token is minted with — without asking
// any endpoint.
func Open(cfg Config) (*Lab, error) {
	if cfg.File == "" {
		return nil, errors.New("no remote endpoints file: give one with -remote FILE (or $CHAOSLAB_REMOTE); `chaoslab remote-file` writes one for a running local lab")
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = DefaultConfig().ProbeTimeout
	}
	runDir, err := filepath.Abs(cfg.RunDir)
	if err != nil {
		return nil, err
	}
	cfg.RunDir = runDir
	f, err := LoadFile(cfg.File, cfg.Lab)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.RunDir, 0o755); err != nil {
		return nil, err
	}
	keyFile := f.KeyFile
	if f.KeyFile != "" && cfg.Lab != nil && cfg.Lab.Load.Auth.SharesSecret() {
		// The token is minted with <run dir>/<key_file>, as on every stack.
		keyFile = filepath.Join(cfg.RunDir, cfg.Lab.Load.Auth.SecretFile())
		if err := copyFile(f.KeyFile, keyFile); err != nil {
			return nil, fmt.Errorf("copying the JWT key into the run dir: %w", err)
		}
	}
	return &Lab{cfg: cfg, file: f, e: f.Endpoints(cfg.Lab, keyFile)}, nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

// Endpoints returns what the harness talks to in the remote lab of lab
// file l (nil: services in file order, no protocols): the file's URLs; the
// key in keyFile.
func (f *File) Endpoints(l *lab.Lab, keyFile string) stack.Endpoints {
	e := stack.Endpoints{
		Lab: f.Lab, GatewayURL: f.Entry, PrometheusURL: f.Prometheus,
		JaegerQueryGRPC: f.JaegerQueryGRPC, JaegerQueryURL: f.JaegerQueryURL,
		ToxiproxyURL: f.Toxiproxy, JWTKeyFile: keyFile,
		Services: map[string]stack.Service{}, Edges: map[string]stack.Edge{},
	}
	for name, s := range f.Services {
		svc := stack.Service{Addr: s.Addr, MetricsURL: s.Metrics, ReadyURL: s.Ready, AdminURL: s.Admin}
		if l != nil {
			if ls, ok := l.Service(name); ok {
				svc.Protocol = string(ls.Protocol)
			}
		}
		for _, i := range s.Instances {
			svc.Instances = append(svc.Instances, stack.Instance{Name: i.Name, Service: stack.Service{Protocol: svc.Protocol, AdminURL: i.Admin}})
		}
		e.Services[name] = svc
	}
	if l != nil {
		e.ServiceOrder = l.StartOrder()
	} else {
		e.ServiceOrder = slices.Clone(f.ServiceNames)
	}
	for edge, proxy := range f.Proxies {
		se := stack.Edge{Name: edge, Proxy: proxy}
		for _, p := range f.ReplicaProxies[edge] {
			se.Replicas = append(se.Replicas, stack.Edge{Name: edge, Proxy: p})
		}
		e.Edges[edge] = se
	}
	return e
}

// File is the remote endpoints file the lab was loaded from.
func (l *Lab) File() *File { return l.file }

// Endpoints is where the remote lab answers; the edges' listen and
// upstream addresses are Toxiproxy's, once Probe has listed its proxies.
func (l *Lab) Endpoints() stack.Endpoints {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.e
}

// RunDir is the local directory of the fault ledger.
func (l *Lab) RunDir() string { return l.cfg.RunDir }

// Signal refuses: the remote stack owns no process.
func (l *Lab) Signal(_ context.Context, service string, sig syscall.Signal) error {
	return fmt.Errorf("signal %v to %s: %w", sig, service, ErrNoProcesses)
}

// Restart refuses: the remote stack owns no process.
func (l *Lab) Restart(_ context.Context, service string, _ map[string]string) error {
	return fmt.Errorf("restarting %s: %w", service, ErrNoProcesses)
}

// AdminHTTP returns hc (nil: a client with a 10 s timeout) with the bearer
// token of each service's admin API added to the requests sent under its
// admin URL — the faults of a remote lab's admin APIs are protected, not
// bound to loopback. The fault injectors use it (stack.FaultEnv).
func (l *Lab) AdminHTTP(hc *http.Client) *http.Client {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	tokens := map[string]string{} // admin base URL → token
	for _, s := range l.file.Services {
		if s.Admin != "" && s.AdminToken != "" {
			tokens[s.Admin] = s.AdminToken
		}
	}
	if len(tokens) == 0 {
		return hc
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out := *hc
	out.Transport = bearer{base: base, tokens: tokens}
	return &out
}

// bearer adds the token of the admin API a request goes to.
type bearer struct {
	base   http.RoundTripper
	tokens map[string]string
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	u := req.URL.String()
	for prefix, tok := range b.tokens {
		if u == prefix || strings.HasPrefix(u, prefix+"/") {
			req = req.Clone(req.Context())
			req.Header.Set("Authorization", "Bearer "+tok)
			break
		}
	}
	return b.base.RoundTrip(req)
}

// Check is the answer of one endpoint to a probe.
type Check struct {
	// Component is what answers: "prometheus", a service's name, "proxy
	// <edge>".
	Component string
	// What the probe asked: "ready", "metrics", "admin API", "query (gRPC)".
	What string
	URL  string
	// Took is how long the probe took; Err is nil when the answer was right.
	Took time.Duration
	Err  error
}

// String is one line: "store  admin API  http://…  ok (3ms)".
func (c Check) String() string {
	status := fmt.Sprintf("ok (%dms)", c.Took.Milliseconds())
	if c.Err != nil {
		status = "FAILED: " + c.Err.Error()
	}
	return fmt.Sprintf("%-24s %-14s %s  %s", c.Component, c.What, c.URL, status)
}

// Probe asks every endpoint of the file once, each within the probe
// timeout: the entry point (a TCP connection), Prometheus (/-/ready),
// Jaeger (the services over gRPC, /api/services over HTTP), Toxiproxy (the
// proxy of each edge the file lists must exist), and each service's
// readiness, metrics and admin API (its fault list, with its token). It
// records the edges' addresses from Toxiproxy's proxies.
func (l *Lab) Probe(ctx context.Context) []Check {
	f := l.file
	hc := &http.Client{Timeout: l.cfg.ProbeTimeout}
	type probe struct {
		c  Check
		fn func(ctx context.Context) error
	}
	var probes []probe
	add := func(component, what, url string, fn func(ctx context.Context) error) {
		probes = append(probes, probe{c: Check{Component: component, What: what, URL: url}, fn: fn})
	}
	add("entry", "connect", f.Entry, func(ctx context.Context) error { return dial(ctx, f.Entry) })
	add("prometheus", "ready", f.Prometheus+"/-/ready", func(ctx context.Context) error { return get(ctx, hc, f.Prometheus+"/-/ready") })
	add("jaeger", "query (gRPC)", f.JaegerQueryGRPC, func(ctx context.Context) error {
		c, err := traces.Dial(f.JaegerQueryGRPC)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Services(ctx)
		return err
	})
	add("jaeger", "query (HTTP)", f.JaegerQueryURL+"/api/services", func(ctx context.Context) error {
		return get(ctx, hc, f.JaegerQueryURL+"/api/services")
	})
	var proxies map[string]toxiproxy.Proxy
	if f.Toxiproxy != "" {
		add("toxiproxy", "proxies", f.Toxiproxy+"/proxies", func(ctx context.Context) error {
			var err error
			proxies, err = toxiproxy.New(f.Toxiproxy).Proxies(ctx)
			return err
		})
	}
	admin := l.AdminHTTP(hc)
	for _, name := range l.e.ServiceOrder {
		s := f.Services[name]
		add(name, "ready", s.Ready, func(ctx context.Context) error { return stack.Probe(ctx, hc, s.Ready) })
		if s.Metrics != "" {
			add(name, "metrics", s.Metrics, func(ctx context.Context) error { return get(ctx, hc, s.Metrics) })
		}
		if s.Admin != "" {
			add(name, "admin API", s.Admin+"/faults", func(ctx context.Context) error { return get(ctx, admin, s.Admin+"/faults") })
		}
	}
	// All at once: a lab that does not answer costs one timeout, not one
	// per endpoint.
	var wg sync.WaitGroup
	for i := range probes {
		wg.Go(func() {
			p := &probes[i]
			ctx, cancel := context.WithTimeout(ctx, l.cfg.ProbeTimeout)
			defer cancel()
			start := time.Now()
			p.c.Err = p.fn(ctx)
			p.c.Took = time.Since(start)
		})
	}
	wg.Wait()
	var out []Check
	for _, p := range probes {
		out = append(out, p.c)
		if p.c.Component != "toxiproxy" || proxies == nil {
			continue
		}
		// Each proxy the file names must exist, as Toxiproxy lists them.
		for _, edge := range sortedKeys(f.Proxies) {
			se := stack.Edge{Name: edge}
			for i, name := range append([]string{f.Proxies[edge]}, f.ReplicaProxies[edge]...) {
				px, ok := proxies[name]
				c := Check{Component: "proxy " + edge, What: "exists", URL: f.Toxiproxy + "/proxies/" + url.PathEscape(name)}
				field := "proxy"
				if i > 0 {
					c.Component, field = fmt.Sprintf("proxy %s[%d]", edge, i), "replica_proxies"
				}
				if !ok {
					c.Err = fmt.Errorf("Toxiproxy has no proxy %q (it has %s): the remote stack never creates proxies; create it, or correct edges.%s.%s",
						name, orNone(sortedKeys(proxies)), edge, field)
				}
				p := stack.Edge{Name: edge, Proxy: name, Listen: px.Listen, Upstream: px.Upstream}
				if i == 0 {
					se = p
				} else {
					se.Replicas = append(se.Replicas, p)
				}
				out = append(out, c)
			}
			l.mu.Lock()
			l.e.Edges[edge] = se
			l.mu.Unlock()
		}
	}
	return out
}

// get asks url and wants 200 OK.
func get(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answered %s, want 200 OK", resp.Status)
	}
	return nil
}

// dial opens (and closes) a TCP connection to the host of an http(s) URL.
func dial(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func orNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

// Down leaves the remote system running — the stack owns none of it — but
// first rolls back whatever the ledger in the run dir still lists, and
// sweeps every chaoslab-* toxic and in-service fault, as a run's start and
// `chaoslab clean` do: a fault must not outlive its scenario on any stack.
// It returns what it rolled back. No ledger is nothing to roll back.
func Down(ctx context.Context, cfg Config) (faults.Rollback, error) {
	l, err := Open(cfg)
	if err != nil {
		return faults.Rollback{}, err
	}
	ledger, err := faults.OpenLedger(faults.LedgerPath(l.RunDir()))
	if err != nil {
		return faults.Rollback{}, err
	}
	defer ledger.Close()
	inj := faults.NewInjector(stack.FaultEnv(l, &http.Client{Timeout: 10 * time.Second}), ledger)
	return inj.RollbackPending(ctx)
}
