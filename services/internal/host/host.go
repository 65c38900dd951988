// Package host runs one service of the shop: its public listener (gRPC or
// HTTP), its ops listener (/metrics, /healthz, /readyz) and its admin
// listener (the in-service fault API, loopback by default). It assembles the
// instrumentation every service shares — OpenTelemetry spans, RED metrics,
// load shedding and fault injection — and shuts everything down gracefully:
// readiness goes false, in-flight requests drain, then resources close.
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric/noop"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/chaoslab/chaoslab/services/faultinject"
	"github.com/chaoslab/chaoslab/services/internal/discovery"
	"github.com/chaoslab/chaoslab/services/internal/resilience"
	"github.com/chaoslab/chaoslab/services/internal/rpcmetrics"
	"github.com/chaoslab/chaoslab/services/internal/telemetry"
)

// Config holds the addresses a service listens on.
type Config struct {
	// Addr is the public listener: gRPC for the internal services, HTTP for the gateway.
	Addr string
	// MetricsAddr serves /metrics, /healthz and /readyz.
	MetricsAddr string
	// AdminAddr serves the fault-injection admin API. Keep it on loopback.
	AdminAddr string
	// AdminToken, when set, is the bearer token the admin API requires
	// (faultinject.WithBearerToken): in a cluster, where the admin port
	// is reachable from other pods.
	AdminToken string
	// ShutdownTimeout bounds the drain of in-flight requests on shutdown.
	ShutdownTimeout time.Duration
}

// Service is what a service plugs into its host. Exactly one of GRPC and
// HTTP is set.
type Service struct {
	// Name is the service name, used in errors and health.
	Name string
	// GRPC registers the service's implementations on the server.
	GRPC func(*grpc.Server)
	// HealthNames are the gRPC service names reported by grpc.health.v1
	// (besides the overall "" entry).
	HealthNames []string
	// HTTP is the public handler of an HTTP service.
	HTTP http.Handler
	// Route names the route of an HTTP request for metrics, spans and faults.
	Route func(*http.Request) string
	// MaxInFlight sheds gRPC requests beyond this many in flight (0: no limit).
	MaxInFlight int
	// Ready reports readiness (e.g. the database answers). Nil: always ready.
	Ready func(context.Context) error
	// Background, when set, runs for the life of the host (e.g. a recovery
	// loop); its ctx is cancelled after the servers drained, before Close.
	Background func(context.Context)
	// Close releases the service's resources after its servers stopped.
	Close func() error
	// Registry, when set, is the service's connection to the registry
	// (discovery.Open): the host registers the replica's advertised
	// endpoints once its listeners are up, deregisters them first on
	// shutdown — before the drain, so that callers move away while
	// in-flight requests finish — and closes the registry after Close
	// (which closes the client connections that resolve through it).
	Registry *discovery.Registry
}

// Host is a started service. Stop it with Shutdown.
type Host struct {
	name   string
	cfg    Config
	tel    *telemetry.Telemetry
	faults *faultinject.Injector
	logger *slog.Logger

	grpcSrv   *grpc.Server
	health    *health.Server
	publicSrv *http.Server
	opsSrv    *http.Server
	adminSrv  *http.Server
	addrs     [3]net.Addr
	closeFn   func() error
	registry  *discovery.Registry

	mu       sync.Mutex
	draining bool
	ready    func(context.Context) error

	group       *errgroup.Group
	stopBG      context.CancelFunc
	bgDone      chan struct{}
	done        chan struct{}
	serveErr    error // guarded by mu: why a server stopped on its own
	stopOnce    sync.Once
	shutdownErr error
}

// Start binds the three listeners and serves in the background. A port in
// use is an error naming the service, the listener and the address.
func Start(ctx context.Context, cfg Config, tel *telemetry.Telemetry, svc Service) (*Host, error) {
	if (svc.GRPC == nil) == (svc.HTTP == nil) {
		return nil, fmt.Errorf("host %s: exactly one of GRPC and HTTP must be set", svc.Name)
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	h := &Host{
		name:     svc.Name,
		cfg:      cfg,
		tel:      tel,
		logger:   tel.Logger,
		faults:   faultinject.NewInjector(tel.Registerer, tel.Logger),
		closeFn:  svc.Close,
		registry: svc.Registry,
		ready:    svc.Ready,
		done:     make(chan struct{}),
	}

	lc := net.ListenConfig{}
	var listeners [3]net.Listener
	for i, l := range []struct{ what, addr string }{
		{"public", cfg.Addr}, {"metrics", cfg.MetricsAddr}, {"admin", cfg.AdminAddr},
	} {
		ln, err := lc.Listen(ctx, "tcp", l.addr)
		if err != nil {
			for _, prev := range listeners[:i] {
				prev.Close()
			}
			return nil, fmt.Errorf("%s: cannot listen on %s for its %s listener: %w", svc.Name, l.addr, l.what, err)
		}
		listeners[i] = ln
		h.addrs[i] = ln.Addr()
	}

	h.opsSrv = &http.Server{Handler: h.opsHandler(), ReadHeaderTimeout: 5 * time.Second}
	h.adminSrv = &http.Server{Handler: h.faults.AdminHandler(faultinject.WithBearerToken(cfg.AdminToken)), ReadHeaderTimeout: 5 * time.Second}

	group := &errgroup.Group{}
	h.group = group
	if svc.GRPC != nil {
		h.grpcSrv = h.newGRPCServer(svc)
		public := h.faults.Listener(listeners[0])
		group.Go(func() error { return serveErr("gRPC", h.grpcSrv.Serve(public)) })
	} else {
		h.publicSrv = &http.Server{
			Handler:           h.httpHandler(svc),
			ReadHeaderTimeout: 5 * time.Second,
			ErrorLog:          slog.NewLogLogger(tel.Logger.Handler(), slog.LevelWarn),
		}
		group.Go(func() error { return serveErr("HTTP", h.publicSrv.Serve(listeners[0])) })
	}
	group.Go(func() error { return serveErr("metrics", h.opsSrv.Serve(listeners[1])) })
	group.Go(func() error { return serveErr("admin", h.adminSrv.Serve(listeners[2])) })
	bgCtx, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	h.stopBG, h.bgDone = stopBG, make(chan struct{})
	go func() {
		defer close(h.bgDone)
		if svc.Background != nil {
			svc.Background(bgCtx)
		}
	}()
	go func() {
		err := group.Wait()
		h.mu.Lock()
		h.serveErr = err
		h.mu.Unlock()
		close(h.done)
	}()

	// In the background, retrying while the registry is unreachable: a
	// registry that is down does not hold the service's start.
	h.registry.Register(ctx)

	h.logger.InfoContext(ctx, "service started",
		"addr", h.Addr(), "metrics_addr", h.MetricsAddr(), "admin_addr", h.AdminAddr())
	return h, nil
}

func serveErr(what string, err error) error {
	if err == nil || errors.Is(err, http.ErrServerClosed) || errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return fmt.Errorf("%s server: %w", what, err)
}

func (h *Host) newGRPCServer(svc Service) *grpc.Server {
	var chain []grpc.UnaryServerInterceptor
	opts := []grpc.ServerOption{
		// The shop's clients ping an idle connection every 10 s
		// (grpcclient.KeepaliveTime); grpc-go servers otherwise close a
		// connection pinged more often than every 5 minutes.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	}
	if h.tel.Instrument {
		opts = append(opts, grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(h.tel.TracerProvider),
			otelgrpc.WithPropagators(h.tel.Propagator),
			otelgrpc.WithMeterProvider(noop.NewMeterProvider()),
		)))
		chain = append(chain, rpcmetrics.NewServer(h.tel.Registerer).UnaryInterceptor())
	}
	if svc.MaxInFlight > 0 {
		chain = append(chain, resilience.NewLimiter(svc.MaxInFlight, h.tel.Registerer).UnaryServerInterceptor())
	}
	chain = append(chain, h.faults.UnaryServerInterceptor())
	opts = append(opts, grpc.ChainUnaryInterceptor(chain...))

	srv := grpc.NewServer(opts...)
	svc.GRPC(srv)
	h.health = health.NewServer()
	h.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for _, n := range svc.HealthNames {
		h.health.SetServingStatus(n, healthpb.HealthCheckResponse_SERVING)
	}
	healthpb.RegisterHealthServer(srv, h.health)
	return srv
}

func (h *Host) httpHandler(svc Service) http.Handler {
	route := svc.Route
	if route == nil {
		route = func(r *http.Request) string { return r.Method + " " + r.URL.Path }
	}
	handler := h.faults.HTTPMiddleware(route, svc.HTTP)
	if !h.tel.Instrument {
		return handler
	}
	handler = rpcmetrics.NewHTTP(h.tel.Registerer).Middleware(route, handler)
	return otelhttp.NewHandler(handler, svc.Name,
		otelhttp.WithTracerProvider(h.tel.TracerProvider),
		otelhttp.WithPropagators(h.tel.Propagator),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return route(r) }),
	)
}

func (h *Host) opsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(h.tel.Registry, promhttp.HandlerOpts{
		Registry:          h.tel.Registerer,
		EnableOpenMetrics: true,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := h.Ready(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// Ready reports whether the service takes traffic: not while draining, and
// only when its own readiness check passes.
func (h *Host) Ready(ctx context.Context) error {
	h.mu.Lock()
	draining, ready := h.draining, h.ready
	h.mu.Unlock()
	if draining {
		return errors.New("shutting down")
	}
	if ready != nil {
		return ready(ctx)
	}
	return nil
}

// Faults is the service's fault injector (also reachable on the admin API).
func (h *Host) Faults() *faultinject.Injector { return h.faults }

// Addr is the bound public address (useful with port 0).
func (h *Host) Addr() string { return h.addrs[0].String() }

// MetricsAddr is the bound ops address.
func (h *Host) MetricsAddr() string { return h.addrs[1].String() }

// AdminAddr is the bound admin address.
func (h *Host) AdminAddr() string { return h.addrs[2].String() }

// Done is closed when every server has stopped.
func (h *Host) Done() <-chan struct{} { return h.done }

// Shutdown stops taking new work, drains in-flight requests (bounded by the
// configured timeout and by ctx), stops the ops and admin servers and closes
// the service's resources. It is safe to call more than once.
func (h *Host) Shutdown(ctx context.Context) error {
	h.stopOnce.Do(func() { h.shutdownErr = h.shutdown(ctx) })
	return h.shutdownErr
}

func (h *Host) shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.draining = true
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, h.cfg.ShutdownTimeout)
	defer cancel()

	var errs []error
	// Leave the registry first: callers drop this replica while it drains.
	if err := h.registry.Deregister(ctx); err != nil {
		h.logger.WarnContext(ctx, "deregistering", "err", err)
	}
	h.logger.InfoContext(ctx, "service draining")
	if h.grpcSrv != nil {
		h.health.Shutdown() // NOT_SERVING: health-checking clients move away
		stopped := make(chan struct{})
		go func() { h.grpcSrv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-ctx.Done():
			h.grpcSrv.Stop()
			<-stopped
			errs = append(errs, fmt.Errorf("%s: drain timed out, in-flight RPCs cancelled", h.name))
		}
	}
	if h.publicSrv != nil {
		if err := h.publicSrv.Shutdown(ctx); err != nil {
			h.publicSrv.Close()
			errs = append(errs, fmt.Errorf("%s: draining HTTP: %w", h.name, err))
		}
	}
	for _, s := range []*http.Server{h.opsSrv, h.adminSrv} {
		if err := s.Shutdown(ctx); err != nil {
			s.Close()
		}
	}
	<-h.done
	h.stopBG()
	<-h.bgDone
	if h.closeFn != nil {
		if err := h.closeFn(); err != nil {
			errs = append(errs, fmt.Errorf("%s: closing: %w", h.name, err))
		}
	}
	if err := h.registry.Close(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", h.name, err))
	}
	h.logger.InfoContext(ctx, "service stopped")
	return errors.Join(errs...)
}

// Run starts the service and serves until ctx is cancelled (SIGTERM) or a
// server fails, then shuts down gracefully. started, when not nil, is called
// with the running host (tests use it to learn the bound addresses).
func Run(ctx context.Context, cfg Config, tel *telemetry.Telemetry, svc Service, started func(*Host)) error {
	h, err := Start(ctx, cfg, tel, svc)
	if err != nil {
		if svc.Close != nil {
			svc.Close()
		}
		svc.Registry.Close()
		return err
	}
	if started != nil {
		started(h)
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case <-h.Done():
		h.mu.Lock()
		serveErr = h.serveErr
		h.mu.Unlock()
	}
	// The drain must outlive the cancelled ctx that asked for it.
	stopErr := h.Shutdown(context.WithoutCancel(ctx))
	return errors.Join(serveErr, stopErr)
}
