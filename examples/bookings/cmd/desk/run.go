package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	calendarv1 "example.com/bookings/api/calendar/v1"
	pricingv1 "example.com/bookings/api/pricing/v1"
	"example.com/bookings/desk"
	"example.com/bookings/internal/config"
	"example.com/bookings/internal/serve"
	"example.com/bookings/internal/telemetry"
)

// Config is what desk runs with.
type Config struct {
	Addr            string
	MetricsAddr     string
	OTLPEndpoint    string
	PricingAddr     string
	CalendarAddr    string
	PricingTimeout  time.Duration
	CalendarTimeout time.Duration
	Retries         int
}

func parse(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("desk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:7080", "listen address of the HTTP API")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "127.0.0.1:7081", "listen address of /metrics and /readyz")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", "", "OTLP gRPC collector, host:port (empty: no trace export)")
	fs.StringVar(&c.PricingAddr, "pricing-addr", "127.0.0.1:7090", "the pricing service, host:port")
	fs.StringVar(&c.CalendarAddr, "calendar-addr", "127.0.0.1:7100", "the calendar service, host:port")
	fs.DurationVar(&c.PricingTimeout, "pricing-timeout", 500*time.Millisecond, "deadline of each call to pricing")
	fs.DurationVar(&c.CalendarTimeout, "calendar-timeout", time.Second, "deadline of each call to calendar, its retries included")
	fs.IntVar(&c.Retries, "retries", 2, "retries of a Book call the calendar answers UNAVAILABLE (0 to 5)")
	if err := config.Parse(fs, args, getenv, "BOOKINGS_DESK_"); err != nil {
		return c, err
	}
	var errs []error
	if c.Retries < 0 || c.Retries > 5 {
		errs = append(errs, fmt.Errorf("-retries %d: want 0 to 5", c.Retries))
	}
	if c.PricingTimeout <= 0 || c.CalendarTimeout <= 0 {
		errs = append(errs, errors.New("-pricing-timeout and -calendar-timeout must be positive"))
	}
	return c, errors.Join(errs...)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	logger := telemetry.NewLogger(stdout, "desk")

	tp, err := telemetry.NewTracerProvider(ctx, "desk", cfg.OTLPEndpoint)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = tp.Shutdown(sctx)
	}()
	metrics := telemetry.NewMetrics("desk")

	// Reconnect quickly after a backend restarts: the default backoff grows
	// to two minutes.
	dialOpts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(telemetry.Propagator()))),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: time.Second,
		}),
	}
	pricingConn, err := grpc.NewClient(cfg.PricingAddr, dialOpts...)
	if err != nil {
		return fmt.Errorf("pricing at %s: %w", cfg.PricingAddr, err)
	}
	defer pricingConn.Close()
	calendarConn, err := grpc.NewClient(cfg.CalendarAddr, dialOpts...)
	if err != nil {
		return fmt.Errorf("calendar at %s: %w", cfg.CalendarAddr, err)
	}
	defer calendarConn.Close()

	retried := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bookings_desk_retries_total",
		Help: "Calls the desk retried, by backend.",
	}, []string{"backend"})
	metrics.Registerer.MustRegister(retried)
	retried.WithLabelValues("calendar") // the series exists from the start: a rate of 0, not no data

	api := desk.NewServer(
		desk.NewPricingClient(pricingv1.NewPricingServiceClient(pricingConn), cfg.PricingTimeout),
		desk.NewCalendarClient(calendarv1.NewCalendarServiceClient(calendarConn), cfg.CalendarTimeout, cfg.Retries, retried),
		metrics.Registerer, logger, tp,
	)

	lis, err := serve.Listen(ctx, "the HTTP API", cfg.Addr)
	if err != nil {
		return err
	}
	defer lis.Close()
	opsLis, err := serve.Listen(ctx, "metrics", cfg.MetricsAddr)
	if err != nil {
		return err
	}
	defer opsLis.Close()

	var draining atomic.Bool
	public := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 5 * time.Second}
	ops := &http.Server{
		Handler: serve.OpsHandler(metrics.Handler(), func(context.Context) error {
			if draining.Load() {
				return errors.New("draining")
			}
			return nil
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	logger.Info("serving", "addr", lis.Addr().String(), "metrics_addr", opsLis.Addr().String(),
		"pricing_addr", cfg.PricingAddr, "calendar_addr", cfg.CalendarAddr,
		"pricing_timeout", cfg.PricingTimeout.String(), "calendar_timeout", cfg.CalendarTimeout.String(), "retries", cfg.Retries)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serve.HTTP(gctx, lis, public) })
	g.Go(func() error { return serve.HTTP(gctx, opsLis, ops) })
	g.Go(func() error {
		<-gctx.Done()
		stop() // a second signal ends the process at once
		draining.Store(true)
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
	fmt.Fprintln(stderr, "desk:", err)
	return 1
}
