package faults_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	toxiserver "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
	"github.com/chaoslab/chaoslab/services/faultinject"
)

// The services of the tests' lab (faults.FixtureTopology), which is not
// the shop: api (HTTP) calls store and cache, store calls cache and ledger;
// cache has no fault admin API.
const (
	svcAPI    = "api"
	svcStore  = "store"
	svcCache  = "cache"
	svcLedger = "ledger"
)

// startOrder returns the tests' services, dependencies first, as
// faults.Env.Services has them.
func startOrder() []string { return []string{svcCache, svcLedger, svcStore, svcAPI} }

// testLab is a lab in memory: the real Toxiproxy server with a proxy per
// edge in front of one echo server, the real faultinject admin API of each
// service, and fake process control.
type testLab struct {
	srv      *toxiserver.ApiServer
	tp       *toxiproxy.Client
	echo     string                           // the echo server's address
	services map[string]*faultinject.Injector // by service
	admin    map[string]string                // admin URL by service
	procs    *fakeProcs
}

// newTestLab starts a testLab; withStatus makes its Processes implement
// faults.ProcessStatus.
func newTestLab(t *testing.T, withStatus bool) (*testLab, faults.Env) {
	t.Helper()
	lab := &testLab{
		echo:     startEcho(t),
		services: map[string]*faultinject.Injector{},
		admin:    map[string]string{},
		procs:    newFakeProcs(),
	}
	srv := toxiserver.NewServer(toxiserver.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	api := httptest.NewServer(srv.Routes())
	t.Cleanup(func() {
		api.Close()
		_ = srv.Collection.Clear()
	})
	lab.srv, lab.tp = srv, toxiproxy.New(api.URL)
	top := faults.FixtureTopology()
	specs := make([]toxiproxy.ProxySpec, 0, len(top.Edges))
	for _, e := range top.Edges {
		specs = append(specs, toxiproxy.ProxySpec{Name: faults.ProxyName(e), Listen: "127.0.0.1:0", Upstream: lab.echo})
	}
	require.NoError(t, lab.tp.Populate(t.Context(), specs))

	for _, svc := range top.WithRequestFaults() {
		in := faultinject.NewInjector(nil, nil)
		s := httptest.NewServer(in.AdminHandler())
		t.Cleanup(s.Close)
		lab.services[svc] = in
		lab.admin[svc] = s.URL
	}
	env := faults.Env{
		Services:  startOrder(),
		Toxiproxy: stack.FaultProxies(lab.tp),
		Processes: lab.procs,
		AdminURL: func(service string) (string, error) {
			u, ok := lab.admin[service]
			if !ok {
				return "", fmt.Errorf("%w: %s has none", faults.ErrNoAdminAPI, service)
			}
			return u, nil
		},
		HTTP: &http.Client{Timeout: 5 * time.Second},
	}
	if withStatus {
		env.Processes = statusProcs{lab.procs}
	}
	return lab, env
}

// proxy returns the state of the proxy of edge.
func (l *testLab) proxy(t *testing.T, edge string) toxiproxy.Proxy {
	t.Helper()
	ps, err := l.tp.Proxies(t.Context())
	require.NoError(t, err)
	p, ok := ps[faults.ProxyName(edge)]
	require.True(t, ok, "no proxy for %s", edge)
	return p
}

// toxics returns every toxic on every proxy, "proxy/name".
func (l *testLab) toxics(t *testing.T) []string {
	t.Helper()
	ps, err := l.tp.Proxies(t.Context())
	require.NoError(t, err)
	var out []string
	for name, p := range ps {
		for _, x := range p.Toxics {
			out = append(out, name+"/"+x.Name)
		}
	}
	slices.Sort(out)
	return out
}

// disabled returns the proxies that are disabled.
func (l *testLab) disabled(t *testing.T) []string {
	t.Helper()
	ps, err := l.tp.Proxies(t.Context())
	require.NoError(t, err)
	var out []string
	for name, p := range ps {
		if !p.Enabled {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// requestFaults returns the ids of the in-service faults on every service,
// "service/id".
func (l *testLab) requestFaults() []string {
	var out []string
	for svc, in := range l.services {
		for _, f := range in.List() {
			out = append(out, svc+"/"+f.ID)
		}
	}
	slices.Sort(out)
	return out
}

// roundTrip sends a line through the proxy of edge to the echo server and
// returns how long the answer took.
func (l *testLab) roundTrip(ctx context.Context, t *testing.T, edge string) (time.Duration, error) {
	t.Helper()
	addr := l.proxy(t, edge).Listen
	start := time.Now()
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return 0, err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil {
		return 0, err
	}
	if string(buf) != "ping\n" {
		return 0, fmt.Errorf("echo answered %q", buf)
	}
	return time.Since(start), nil
}

// startEcho runs a TCP echo server on 127.0.0.1 and returns its address.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// procCall is one call to fakeProcs.
type procCall struct {
	Op      string // "signal" or "restart"
	Service string
	Sig     syscall.Signal
	At      time.Time
}

// fakeProcs records signals and restarts and keeps track of which services
// run, like the local lab: signalling a dead service fails.
type fakeProcs struct {
	mu      sync.Mutex
	calls   []procCall
	running map[string]bool
	paused  map[string]bool
	// signalErr, when set, fails every Signal.
	signalErr error
	// gate, when set, holds every Restart until it is closed; started
	// receives a value as each Restart begins.
	gate    chan struct{}
	started chan struct{}
}

func newFakeProcs() *fakeProcs {
	p := &fakeProcs{running: map[string]bool{}, paused: map[string]bool{}}
	for _, s := range startOrder() {
		p.running[s] = true
	}
	return p
}

// Signal implements faults.Processes.
func (p *fakeProcs) Signal(_ context.Context, service string, sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, procCall{Op: "signal", Service: service, Sig: sig, At: time.Now()})
	if p.signalErr != nil {
		return p.signalErr
	}
	if !p.running[service] {
		return fmt.Errorf("%s is not running", service)
	}
	switch sig {
	case syscall.SIGKILL:
		p.running[service] = false
		p.paused[service] = false
	case syscall.SIGSTOP:
		p.paused[service] = true
	case syscall.SIGCONT:
		p.paused[service] = false
	}
	return nil
}

// Restart implements faults.Processes.
func (p *fakeProcs) Restart(ctx context.Context, service string, flags map[string]string) error {
	p.mu.Lock()
	p.calls = append(p.calls, procCall{Op: "restart", Service: service, At: time.Now()})
	gate, started := p.gate, p.started
	p.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[service] = true
	p.paused[service] = false
	return nil
}

// log returns the calls so far as "signal store killed", "restart store".
func (p *fakeProcs) log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.calls))
	for _, c := range p.calls {
		if c.Op == "signal" {
			out = append(out, fmt.Sprintf("signal %s %s", c.Service, c.Sig))
			continue
		}
		out = append(out, "restart "+c.Service)
	}
	return out
}

// restarts returns the times of the restarts of service.
func (p *fakeProcs) restarts(service string) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []time.Time
	for _, c := range p.calls {
		if c.Op == "restart" && c.Service == service {
			out = append(out, c.At)
		}
	}
	return out
}

// state returns whether service runs and whether it is paused.
func (p *fakeProcs) state(service string) (running, paused bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running[service], p.paused[service]
}

// statusProcs is fakeProcs that can tell whether a service runs.
type statusProcs struct{ *fakeProcs }

// Running implements faults.ProcessStatus.
func (s statusProcs) Running(service string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running[service]
}

// waitFor polls cond every 5ms until it holds or 5s have passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
