package broker

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chaoslab/chaoslab/services/internal/envflag"
	"github.com/chaoslab/chaoslab/services/internal/host"
	"github.com/chaoslab/chaoslab/services/internal/telemetry"
)

// RegisterFlags registers the broker's flags with c's values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "NATS client listen address")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "listen address of /metrics, /healthz and /readyz")
	fs.StringVar(&c.StoreDir, "store-dir", c.StoreDir, "JetStream store directory (created if missing; kept across restarts)")
}

// Run is the nats binary: it parses args (without the program name),
// serves until ctx is cancelled, then shuts the server down.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("nats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "nats — the shop's message broker: NATS with JetStream, embedded\n\nUsage: nats [flags]\n\n"+
			"Every flag can also be set through the environment: -store-dir as %s.\n\nFlags:\n",
			envflag.EnvName("CHAOSLAB_NATS", "store-dir"))
		fs.PrintDefaults()
	}
	cfg.RegisterFlags(fs)
	if err := envflag.Parse(fs, args, "CHAOSLAB_NATS", getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &host.UsageError{Err: err}
	}
	if fs.NArg() > 0 {
		return &host.UsageError{Err: fmt.Errorf("unexpected arguments %q (see -help)", fs.Args())}
	}
	logger := telemetry.NewLogger(stdout, "nats", slog.LevelInfo)
	reg := prometheus.NewRegistry()
	b, err := Start(ctx, cfg, logger, reg)
	if err != nil {
		return err
	}
	logger.Info("nats serving", "addr", b.Addr(), "metrics_addr", b.MetricsAddr(), "store_dir", cfg.StoreDir)
	var opsErr error
	select {
	case <-ctx.Done():
	case err, ok := <-b.opsErr:
		if ok {
			opsErr = fmt.Errorf("nats metrics listener: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	logger.Info("nats shutting down")
	return errors.Join(opsErr, b.Shutdown(sctx))
}
