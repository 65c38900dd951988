package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pricingv1 "example.com/bookings/api/pricing/v1"
	"example.com/bookings/internal/config"
	"example.com/bookings/internal/serve"
	"example.com/bookings/internal/telemetry"
	"example.com/bookings/pricing"
)

// Config is what pricing runs with.
type Config struct {
	Addr         string
	MetricsAddr  string
	OTLPEndpoint string
	Delay        time.Duration
}

func parse(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("pricing", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:7090", "listen address of the gRPC API (and grpc.health.v1)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "127.0.0.1:7091", "listen address of /metrics and /readyz")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", "", "OTLP gRPC collector, host:port (empty: no trace export)")
	fs.DurationVar(&c.Delay, "delay", 0, "time each quote takes to compute")
	if err := config.Parse(fs, args, getenv, "BOOKINGS_PRICING_"); err != nil {
		return c, err
	}
	if c.Delay < 0 || c.Delay > 5*time.Second {
		return c, fmt.Errorf("-delay %s: want 0 to 5s", c.Delay)
	}
	return c, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	logger := telemetry.NewLogger(stdout, "pricing")

	tp, err := telemetry.NewTracerProvider(ctx, "pricing", cfg.OTLPEndpoint)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = tp.Shutdown(sctx)
	}()
	metrics := telemetry.NewMetrics("pricing")

	lis, err := serve.Listen(ctx, "the gRPC API", cfg.Addr)
	if err != nil {
		return err
	}
	opsLis, err := serve.Listen(ctx, "metrics", cfg.MetricsAddr)
	if err != nil {
		lis.Close()
		return err
	}

	srv := grpc.NewServer(
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(telemetry.Propagator()))),
		grpc.ChainUnaryInterceptor(telemetry.NewGRPCServerMetrics(metrics.Registerer).UnaryServerInterceptor()),
	)
	pricingv1.RegisterPricingServiceServer(srv, pricing.NewServer(metrics.Registerer, cfg.Delay))
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)

	ops := &http.Server{
		Handler:           serve.OpsHandler(metrics.Handler(), func(context.Context) error { return nil }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	logger.Info("serving", "addr", lis.Addr().String(), "metrics_addr", opsLis.Addr().String(), "delay", cfg.Delay.String())

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serve.GRPC(gctx, lis, srv) })
	g.Go(func() error { return serve.HTTP(gctx, opsLis, ops) })
	g.Go(func() error {
		<-gctx.Done()
		stop()        // a second signal ends the process at once
		hs.Shutdown() // NOT_SERVING while draining
		return nil
	})
	err = g.Wait()
	logger.Info("stopped")
	return err
}

// exitCode maps run's error to the exit status: 0 or 1.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "pricing:", err)
	return 1
}
