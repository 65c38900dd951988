package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/chaoslab/chaoslab/services/faultinject"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	calendarv1 "example.com/bookings/api/calendar/v1"
	"example.com/bookings/calendar"
	"example.com/bookings/internal/config"
	"example.com/bookings/internal/serve"
	"example.com/bookings/internal/telemetry"
)

// Config is what calendar runs with.
type Config struct {
	Addr         string
	MetricsAddr  string
	AdminAddr    string
	OTLPEndpoint string
	Data         string
	Fsync        bool
	// AdminToken is the bearer token the admin API requires ("": none).
	AdminToken string
}

func parse(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("calendar", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:7100", "listen address of the gRPC API (and grpc.health.v1)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "127.0.0.1:7101", "listen address of /metrics and /readyz")
	fs.StringVar(&c.AdminAddr, "admin-addr", "127.0.0.1:7102", "listen address of the fault admin API (/faults); empty: none")
	fs.StringVar(&c.AdminToken, faultinject.AdminTokenFlag, "", "bearer token the fault admin API requires (empty: none; set in a cluster)")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", "", "OTLP gRPC collector, host:port (empty: no trace export)")
	fs.StringVar(&c.Data, "data", "", "the bookings file, JSON lines, replayed at start (empty: memory only)")
	fs.BoolVar(&c.Fsync, "fsync", true, "fsync the bookings file before acknowledging each booking")
	err := config.Parse(fs, args, getenv, "BOOKINGS_CALENDAR_")
	return c, err
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	logger := telemetry.NewLogger(stdout, "calendar")

	store, err := calendar.Open(cfg.Data, cfg.Fsync)
	if err != nil {
		return err
	}
	defer store.Close()

	tp, err := telemetry.NewTracerProvider(ctx, "calendar", cfg.OTLPEndpoint)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = tp.Shutdown(sctx)
	}()
	metrics := telemetry.NewMetrics("calendar")

	// chaoslab's request faults: an injector, its interceptor after the
	// metrics one (so injected errors are counted like real ones), the
	// tracking listener (so an abort can cut the connection), and its
	// admin API on a port of its own.
	faults := faultinject.NewInjector(metrics.Registerer, logger)

	lis, err := serve.Listen(ctx, "the gRPC API", cfg.Addr)
	if err != nil {
		return err
	}
	defer lis.Close()
	opsLis, err := serve.Listen(ctx, "metrics", cfg.MetricsAddr)
	if err != nil {
		return err
	}
	defer opsLis.Close()
	var adminLis net.Listener
	if cfg.AdminAddr != "" {
		if adminLis, err = serve.Listen(ctx, "the fault admin API", cfg.AdminAddr); err != nil {
			return err
		}
		defer adminLis.Close()
	}

	srv := grpc.NewServer(
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(telemetry.Propagator()))),
		grpc.ChainUnaryInterceptor(
			telemetry.NewGRPCServerMetrics(metrics.Registerer).UnaryServerInterceptor(),
			faults.UnaryServerInterceptor(),
		),
	)
	calendarv1.RegisterCalendarServiceServer(srv, calendar.NewServer(metrics.Registerer, store))
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)

	ops := &http.Server{
		Handler:           serve.OpsHandler(metrics.Handler(), func(context.Context) error { return nil }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	adminAddr := ""
	if adminLis != nil {
		adminAddr = adminLis.Addr().String()
	}
	logger.Info("serving", "addr", lis.Addr().String(), "metrics_addr", opsLis.Addr().String(),
		"admin_addr", adminAddr, "data", cfg.Data, "fsync", cfg.Fsync, "bookings", store.Len())

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serve.GRPC(gctx, faults.Listener(lis), srv) })
	g.Go(func() error { return serve.HTTP(gctx, opsLis, ops) })
	if adminLis != nil {
		admin := &http.Server{Handler: faults.AdminHandler(faultinject.WithBearerToken(cfg.AdminToken)), ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error { return serve.HTTP(gctx, adminLis, admin) })
	}
	g.Go(func() error {
		<-gctx.Done()
		stop() // a second signal ends the process at once
		hs.Shutdown()
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
	fmt.Fprintln(stderr, "calendar:", err)
	return 1
}
