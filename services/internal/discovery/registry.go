// Package discovery finds the shop's gRPC replicas through an etcd
// registry, so that a service can run as several replicas and its callers
// balance across them.
//
// # Keys
//
// A replica registers every endpoint it advertises (-advertise key=addr)
// under the etcd key chaoslab/<key>/<instance>, with the value etcd's
// naming package writes (endpoints.Manager: the JSON of
// endpoints.Endpoint{Addr: addr}). <instance> is the replica's name
// (-instance, the service name by default). A caller dials
// etcd:///chaoslab/<key> (Target): etcd's gRPC naming resolver lists and
// watches the prefix chaoslab/<key>/ and grpc-go balances round_robin over
// the addresses found (grpcclient).
//
// # Lease
//
// All of a replica's keys hang on one lease with a short TTL (-registry-ttl,
// 2 s), kept alive by the etcd client. Registering never blocks the service:
// Register returns at once and registers in the background, retrying with a
// backoff of at most a second until the registry answers. When the
// keep-alive channel closes — the lease expired because etcd was down or
// unreachable for longer than the TTL, or etcd lost it — the replica
// registers again with a new lease. Deregister (first thing on shutdown,
// before the servers drain) revokes the lease: the keys go at once and
// callers drop the replica without waiting for the TTL. A replica that dies
// without deregistering is dropped when its lease expires.
//
// # Registry down
//
// Callers keep the addresses they know. etcd's resolver only changes its
// list on watch events, and while etcd is unreachable the client's watch
// reconnects by itself and delivers nothing, so the list stays as it was
// and calls go on reaching the replicas. When etcd is back the watch
// resumes from the revision it had seen and delivers what changed meanwhile:
// a replica registered while etcd was down (by its Registrar's retries)
// appears, a replica whose lease expired disappears. A key deleted while
// the registry is up — a replica that deregistered — disappears at once.
// etcd's resolver is wrapped (resolver.go) so that building it does not
// wait for the registry and so that the endpoints are counted.
//
// # Metrics
//
//	chaoslab_registry_registered{key}               1 while the key is registered, else 0
//	chaoslab_registry_registrations_total{result}   registration attempts, ok or error
//	chaoslab_grpc_client_endpoints{dependency}      addresses the resolver gives a dependency
package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/naming/endpoints"
	etcdresolver "go.etcd.io/etcd/client/v3/naming/resolver"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/resolver"

	"github.com/chaoslab/chaoslab/services/internal/telemetry"
)

// Timeouts of single registry operations. A registration attempt that the
// registry does not answer within attemptTimeout is retried; Deregister
// waits at most revokeTimeout for the registry to revoke the lease (past
// it, the lease expires by itself after its TTL).
const (
	attemptTimeout = time.Second
	revokeTimeout  = time.Second
	maxBackoff     = time.Second
	minBackoff     = 50 * time.Millisecond
)

// Options are what Open needs besides the Config.
type Options struct {
	// Instance names this replica: the last element of its keys. Required
	// when the Config advertises anything.
	Instance string
	// Logger receives registrations, their losses and failures; nil
	// discards them.
	Logger *slog.Logger
	// Registerer receives the registry metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// Registry is a service's connection to the etcd registry: it registers
// the replica's advertised endpoints (Register, Deregister) and resolves
// etcd:/// targets for the service's clients (Resolver).
//
// A nil *Registry stands for "no registry": its methods do nothing and
// Resolver returns nil.
type Registry struct {
	client   *clientv3.Client
	endpoint string
	instance string
	ads      Advertisements
	ttl      int64 // seconds
	logger   *slog.Logger
	etcd     resolver.Builder // etcd's naming resolver

	registered    *prometheus.GaugeVec
	registrations *prometheus.CounterVec
	endpoints     *prometheus.GaugeVec

	mu     sync.Mutex
	cancel context.CancelFunc // stops the registration loop
	done   chan struct{}      // closed when the loop returned
	lease  clientv3.LeaseID   // current lease, 0 when none
}

// Open returns the registry cfg.Registry names, or nil when cfg.Registry
// is empty. It does not connect: the etcd client connects in the
// background and reconnects by itself, so a registry that is down does not
// stop the service from starting. Close it after the client connections
// that use its resolvers.
func Open(cfg Config, opts Options) (*Registry, error) {
	if err := cfg.Validate(nil); err != nil {
		return nil, err
	}
	if cfg.Registry == "" {
		return nil, nil
	}
	if len(cfg.Advertise) > 0 && opts.Instance == "" {
		return nil, errors.New("registry: advertising needs an instance name")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{cfg.Registry},
		DialTimeout: attemptTimeout,
		// Notice a registry that vanished without closing its connections
		// (a network cut) as the shop's own clients do (grpcclient).
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		PermitWithoutStream:  true,
		// Our own logs say what matters (registered, lost, unreachable);
		// the client's zap warnings would repeat them on stderr.
		Logger: zap.NewNop(),
		// Reconnect within a second of the registry's return: grpc-go's
		// default backoff grows to two minutes.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: minBackoff, Multiplier: 1.6, Jitter: 0.2, MaxDelay: maxBackoff},
			MinConnectTimeout: attemptTimeout,
		}), grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 2 * time.Second, PermitWithoutStream: true})},
	})
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", cfg.Registry, err)
	}
	etcd, err := etcdresolver.NewBuilder(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("registry %s: resolver: %w", cfg.Registry, err)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	ttl := int64((cfg.TTL + time.Second - 1) / time.Second)
	r := &Registry{
		client:   client,
		endpoint: cfg.Registry,
		instance: opts.Instance,
		ads:      cfg.Advertise,
		ttl:      ttl,
		logger:   logger.With("registry", cfg.Registry),
		etcd:     etcd,
		registered: telemetry.Register(opts.Registerer, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "chaoslab_registry_registered",
			Help: "1 while this replica's endpoint for the key is registered in the registry (etcd), else 0.",
		}, []string{"key"})),
		registrations: telemetry.Register(opts.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_registry_registrations_total",
			Help: "Attempts to register this replica's endpoints under a new lease, by result (ok, error).",
		}, []string{"result"})),
		endpoints: telemetry.Register(opts.Registerer, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "chaoslab_grpc_client_endpoints",
			Help: "Addresses the registry's resolver currently gives the dependency's client connection.",
		}, []string{"dependency"})),
	}
	if len(r.ads) > 0 {
		r.registrations.WithLabelValues("ok")
		r.registrations.WithLabelValues("error")
		for _, ad := range r.ads {
			r.registered.WithLabelValues(ad.Key).Set(0)
		}
	}
	return r, nil
}

// Key is the etcd key the instance registers under for key:
// chaoslab/<key>/<instance>.
func Key(key, instance string) string { return KeyPrefix + key + "/" + instance }

// Register starts registering the advertised endpoints in the background
// and returns at once; nothing happens when there are none or r is nil.
// Registration goes on, with new leases as needed, until Deregister; a
// Registry registers once in its life (Register after Deregister does
// nothing).
func (r *Registry) Register(ctx context.Context) {
	if r == nil || len(r.ads) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		return
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel, r.done = cancel, make(chan struct{})
	go r.run(loopCtx)
}

// Deregister stops registering and revokes the lease, so that callers drop
// this replica at once. It waits at most a second (and no longer than ctx)
// for the registry; past that the lease expires after its TTL.
func (r *Registry) Deregister(ctx context.Context) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done // every registry call of the loop honours its ctx: returns promptly
	r.mu.Lock()
	lease := r.lease
	r.lease = 0
	r.mu.Unlock()
	r.setRegistered(0)
	if lease == 0 {
		return nil
	}
	ctx, stop := context.WithTimeout(ctx, revokeTimeout)
	defer stop()
	if _, err := r.client.Revoke(ctx, lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("deregistering %s from %s (it leaves when its lease expires): %w", r.ads, r.endpoint, err)
	}
	r.logger.InfoContext(ctx, "deregistered", "advertise", r.ads.String(), "instance", r.instance)
	return nil
}

// Close closes the connection to the registry. Close the client
// connections that use r's resolvers first.
func (r *Registry) Close() error {
	if r == nil {
		return nil
	}
	if err := r.client.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("closing registry %s: %w", r.endpoint, err)
	}
	return nil
}

// run registers until ctx is cancelled: a new lease whenever the previous
// one is lost, retries with backoff while the registry does not answer.
func (r *Registry) run(ctx context.Context) {
	defer close(r.done)
	wait := minBackoff
	failing := false
	for ctx.Err() == nil {
		keepAlive, err := r.registerOnce(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.registrations.WithLabelValues("error").Inc()
			level := slog.LevelDebug
			if !failing { // once per outage, not once per retry
				level = slog.LevelWarn
			}
			failing = true
			r.logger.Log(ctx, level, "registering failed, retrying", "advertise", r.ads.String(), "err", err)
			sleep(ctx, jitter(wait))
			wait = min(2*wait, maxBackoff)
			continue
		}
		failing, wait = false, minBackoff
		r.registrations.WithLabelValues("ok").Inc()
		r.setRegistered(1)
		r.logger.InfoContext(ctx, "registered", "advertise", r.ads.String(), "instance", r.instance, "ttl_s", r.ttl)
		for range keepAlive { // closed when the lease is lost or ctx is cancelled
		}
		r.setRegistered(0)
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		r.lease = 0
		r.mu.Unlock()
		r.logger.WarnContext(ctx, "registration lost (lease expired or registry unreachable for longer than the TTL), registering again",
			"advertise", r.ads.String())
	}
}

// registerOnce grants a lease, puts every advertised endpoint on it and
// starts keeping it alive.
func (r *Registry) registerOnce(ctx context.Context) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	opCtx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	lease, err := r.client.Grant(opCtx, r.ttl)
	if err != nil {
		return nil, fmt.Errorf("granting a lease: %w", err)
	}
	fail := func(err error) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
		revokeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
		defer cancel()
		_, _ = r.client.Revoke(revokeCtx, lease.ID) // best effort: it expires anyway
		return nil, err
	}
	for _, ad := range r.ads {
		em, err := endpoints.NewManager(r.client, KeyPrefix+ad.Key)
		if err != nil {
			return fail(fmt.Errorf("registering %s: %w", ad.Key, err))
		}
		if err := em.AddEndpoint(opCtx, Key(ad.Key, r.instance), endpoints.Endpoint{Addr: ad.Addr}, clientv3.WithLease(lease.ID)); err != nil {
			return fail(fmt.Errorf("registering %s=%s: %w", ad.Key, ad.Addr, err))
		}
	}
	keepAlive, err := r.client.KeepAlive(ctx, lease.ID)
	if err != nil {
		return fail(fmt.Errorf("keeping the lease alive: %w", err))
	}
	r.mu.Lock()
	r.lease = lease.ID
	r.mu.Unlock()
	return keepAlive, nil
}

func (r *Registry) setRegistered(v float64) {
	for _, ad := range r.ads {
		r.registered.WithLabelValues(ad.Key).Set(v)
	}
}

// sleep waits d or until ctx is cancelled.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// jitter spreads d by ±20 % so that replicas do not retry in step.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
