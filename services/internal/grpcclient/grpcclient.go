// Package grpcclient dials the gRPC dependencies of a chaoslab service, in
// one place, with the same telemetry and resilience for every dependency.
package grpcclient

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/chaoslab/chaoslab/services/internal/discovery"
	"github.com/chaoslab/chaoslab/services/internal/resilience"
	"github.com/chaoslab/chaoslab/services/internal/rpcmetrics"
)

// Client keepalive: how long a connection may carry nothing before the
// client pings it, and how long it waits for the answer before it drops the
// connection.
const (
	KeepaliveTime    = 10 * time.Second
	KeepaliveTimeout = 2 * time.Second
)

// Options describe a dependency and how to call it.
type Options struct {
	// Target is the dependency's address: host:port, dialled as before
	// (pick_first), or a registry target etcd:///chaoslab/<key>, resolved
	// through Registry and balanced round_robin over the replicas listed.
	Target string
	// Registry resolves registry targets; it is required for them and
	// unused otherwise.
	Registry *discovery.Registry
	// Name names the dependency in metrics, logs and spans ("payments").
	Name string
	// Services are the full proto service names served at Target
	// ("payments.v1.PaymentsService"), for the retry policy.
	Services []string
	// Resilience switches deadlines, retries and the circuit breaker.
	// (MaxInFlight is a server setting and is ignored here.)
	Resilience resilience.Config
	// Registerer receives the client and breaker metrics; nil registers
	// nothing.
	Registerer prometheus.Registerer
	// TracerProvider makes the client spans; nil makes none.
	TracerProvider trace.TracerProvider
	// Propagator injects the trace context into the outgoing metadata; nil
	// means W3C trace context and baggage.
	Propagator propagation.TextMapPropagator
	// Logger receives the breaker's state changes; nil discards them.
	Logger *slog.Logger
	// Instrument records the RED metrics, attempts and retries of the calls
	// (package rpcmetrics).
	Instrument bool
}

// Dial returns a client connection to the dependency described by opts. It
// does not connect: grpc-go connects on the first call and reconnects by
// itself. A registry target (etcd:///chaoslab/<key>) is resolved through
// opts.Registry (discovery.Registry.Resolver: the replicas registered under
// the key, kept while the registry is down) and balanced round_robin; a
// host:port is dialled pick_first.
//
// Unary calls go through, outermost first: the rpcmetrics client interceptor
// (when opts.Instrument), the circuit breaker (when Resilience.Breaker), and
// the per-call timeout (when Resilience.Deadlines). Retries happen below the
// interceptors, in grpc-go, as the default service config says
// (resilience.ServiceConfigJSON): the breaker and the metrics see one call
// whatever the number of attempts, and the timeout bounds the attempts
// together. The stats handlers, called once per attempt, are otelgrpc (a
// client span per attempt, trace context propagation; no OTel metrics) and
// the rpcmetrics attempt counter (when opts.Instrument).
func Dial(opts Options) (*grpc.ClientConn, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("dialing %s: %w", opts.Name, err)
	}
	tp := opts.TracerProvider
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	prop := opts.Propagator
	if prop == nil {
		prop = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	rc := opts.Resilience

	lb := resilience.PickFirst
	var dialOpts []grpc.DialOption
	if discovery.IsTarget(opts.Target) {
		lb = resilience.RoundRobin
		dialOpts = append(dialOpts, grpc.WithResolvers(opts.Registry.Resolver(opts.Name)))
	}
	var interceptors []grpc.UnaryClientInterceptor
	dialOpts = append(dialOpts,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(resilience.ServiceConfigJSONBalanced(lb, rc, opts.Services...)),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(
			otelgrpc.WithTracerProvider(tp),
			otelgrpc.WithPropagators(prop),
			otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
		)),
	)
	if opts.Instrument {
		m := rpcmetrics.NewClient(opts.Registerer, opts.Name)
		interceptors = append(interceptors, m.UnaryInterceptor())
		dialOpts = append(dialOpts, grpc.WithStatsHandler(m.StatsHandler()))
	}
	if rc.Breaker {
		b := resilience.NewBreaker(opts.Name, rc, opts.Registerer, logger)
		interceptors = append(interceptors, b.UnaryClientInterceptor())
	}
	if rc.Deadlines {
		interceptors = append(interceptors, resilience.TimeoutInterceptor(rc))
	}
	if len(interceptors) > 0 {
		dialOpts = append(dialOpts, grpc.WithChainUnaryInterceptor(interceptors...))
	}
	if !rc.Retries {
		dialOpts = append(dialOpts, grpc.WithDisableRetry())
	}
	// Reconnect quickly: in the lab, dependencies restart within a second,
	// and grpc-go's default first backoff alone is a second.
	dialOpts = append(dialOpts, grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
		MinConnectTimeout: 2 * time.Second,
	}))
	// Ping a connection that has carried nothing for KeepaliveTime (10 s,
	// grpc-go's minimum) and drop it when the ping goes unanswered for
	// KeepaliveTimeout: a dependency that vanished without closing its
	// connections (a network cut, a container back with another address) is
	// noticed in ~12 s, not when TCP gives up minutes later. The servers
	// accept pings this often (package host).
	dialOpts = append(dialOpts, grpc.WithKeepaliveParams(keepalive.ClientParameters{
		Time: KeepaliveTime, Timeout: KeepaliveTimeout, PermitWithoutStream: true,
	}))
	if rc.WaitForReady { // validated: only with deadlines, so that a wait is bounded
		// A call made while the dependency is (re)connecting waits for it
		// instead of failing at once: a restart within the deadline fails no
		// request.
		dialOpts = append(dialOpts, grpc.WithDefaultCallOptions(grpc.WaitForReady(true)))
	}

	cc, err := grpc.NewClient(opts.Target, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("dialing %s at %s: %w", opts.Name, opts.Target, err)
	}
	return cc, nil
}

// validate reports what is missing or wrong in opts.
func (opts Options) validate() error {
	var errs []error
	if opts.Target == "" {
		errs = append(errs, errors.New("no target address (host:port)"))
	}
	if discovery.IsTarget(opts.Target) {
		if _, err := discovery.TargetKey(opts.Target); err != nil {
			errs = append(errs, err)
		} else if opts.Registry == nil {
			errs = append(errs, fmt.Errorf("target %s needs a registry (-registry)", opts.Target))
		}
	}
	if opts.Name == "" {
		errs = append(errs, errors.New("no dependency name"))
	}
	if opts.Resilience.Retries && len(opts.Services) == 0 {
		errs = append(errs, errors.New("retries are on but no service names are given for the retry policy"))
	}
	if err := opts.Resilience.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
