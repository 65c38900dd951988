package discovery

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/etcd/client/v3/naming/endpoints"
	"google.golang.org/grpc/resolver"
)

// Resolver returns the gRPC resolver of etcd:/// targets for the client
// connection to the dependency named dependency ("inventory"); pass it
// with grpc.WithResolvers. It is etcd's naming resolver
// (go.etcd.io/etcd/client/v3/naming/resolver), wrapped so that
//
//   - building it does not wait for the registry: etcd's Build lists the
//     prefix first and that read waits for as long as etcd is unreachable,
//     which would hold the client connection's first call past its
//     deadline. The wrapper returns at once, lists the prefix itself
//     (retrying every second or so, reporting an error to the connection
//     until a first list is known, so calls fail fast), hands that list to
//     the connection — empty included, so that calls to a dependency with
//     no replica fail rather than wait — and only then builds etcd's
//     resolver, which watches from there on;
//   - every state is counted in chaoslab_grpc_client_endpoints{dependency}.
//
// It does not need to keep a last good list: etcd's resolver reports only
// watch events (a put adds, a delete removes) and never an error or an
// empty list for a registry that went away (see the package comment).
//
// Resolver returns nil when r is nil.
func (r *Registry) Resolver(dependency string) resolver.Builder {
	if r == nil {
		return nil
	}
	return &builder{reg: r, gauge: r.endpoints.WithLabelValues(dependency)}
}

type builder struct {
	reg   *Registry
	gauge prometheus.Gauge
}

func (b *builder) Scheme() string { return Scheme }

func (b *builder) Build(target resolver.Target, cc resolver.ClientConn, opts resolver.BuildOptions) (resolver.Resolver, error) {
	// As etcd's resolver reads the target: etcd:///chaoslab/inventory → chaoslab/inventory.
	prefix := target.URL.Path
	if prefix == "" {
		prefix = target.URL.Opaque
	}
	prefix = strings.TrimPrefix(prefix, "/")
	em, err := endpoints.NewManager(b.reg.client, prefix)
	if err != nil {
		return nil, fmt.Errorf("registry resolver for %s: %w", prefix, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &wrapped{
		cancel: cancel,
		cc:     &countingConn{ClientConn: cc, gauge: b.gauge},
	}
	go w.start(ctx, b.reg, em, prefix, target, opts)
	return w, nil
}

// wrapped is the resolver Build returns: it builds etcd's resolver once
// the registry has answered, and closes it when closed.
type wrapped struct {
	cancel context.CancelFunc
	cc     *countingConn

	mu     sync.Mutex
	inner  resolver.Resolver // etcd's, once built
	closed bool
}

func (w *wrapped) start(ctx context.Context, reg *Registry, em endpoints.Manager, prefix string, target resolver.Target, opts resolver.BuildOptions) {
	wait := minBackoff
	for {
		listCtx, cancel := context.WithTimeout(ctx, attemptTimeout)
		eps, err := em.List(listCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			w.cc.UpdateState(stateOf(eps))
			break
		}
		if !w.cc.hasState() {
			w.cc.ReportError(fmt.Errorf("registry %s unreachable, no endpoints known for %s yet: %w", reg.endpoint, prefix, err))
		}
		sleep(ctx, jitter(wait))
		wait = min(2*wait, maxBackoff)
	}
	for {
		// etcd's Build reads the prefix again (the registry answered just
		// now) and watches from that revision.
		inner, err := reg.etcd.Build(target, w.cc, opts)
		if err == nil {
			w.mu.Lock()
			closed := w.closed
			if !closed {
				w.inner = inner
			}
			w.mu.Unlock()
			if closed {
				inner.Close()
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		if !w.cc.hasState() {
			w.cc.ReportError(fmt.Errorf("registry %s: watching %s: %w", reg.endpoint, prefix, err))
		}
		sleep(ctx, jitter(wait))
		wait = min(2*wait, maxBackoff)
	}
}

// ResolveNow is a no-op: the watch reports every change.
func (w *wrapped) ResolveNow(resolver.ResolveNowOptions) {}

// Close stops the resolver. It does not wait for a Build of etcd's
// resolver that is under way (its read waits for the registry): that one
// is closed when it returns.
func (w *wrapped) Close() {
	w.cancel()
	w.mu.Lock()
	w.closed = true
	inner := w.inner
	w.inner = nil
	w.mu.Unlock()
	if inner != nil {
		inner.Close()
	}
	w.cc.close()
}

// countingConn is the resolver.ClientConn etcd's resolver sees: it counts
// the addresses of every state into the endpoints gauge.
type countingConn struct {
	resolver.ClientConn
	gauge prometheus.Gauge

	mu     sync.Mutex
	known  bool // a state was given
	closed bool
}

func (c *countingConn) UpdateState(s resolver.State) error {
	n := len(s.Addresses)
	for _, ep := range s.Endpoints {
		n += len(ep.Addresses)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.known = true
	c.gauge.Set(float64(n))
	c.mu.Unlock()
	return c.ClientConn.UpdateState(s)
}

func (c *countingConn) hasState() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.known
}

// close drops later states: the client connection is gone, and so are its
// endpoints.
func (c *countingConn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.gauge.Set(0)
}

// stateOf is the resolver state of a listed prefix, as etcd's resolver
// builds it: one endpoint per key.
func stateOf(eps endpoints.Key2EndpointMap) resolver.State {
	var s resolver.State
	for _, ep := range eps {
		s.Endpoints = append(s.Endpoints, resolver.Endpoint{Addresses: []resolver.Address{{Addr: ep.Addr}}})
	}
	return s
}
