// Package broker is the shop's message broker: an embedded NATS server with
// JetStream (github.com/nats-io/nats-server/v2), its store on disk so that
// streams and consumers survive a restart, and a small ops listener with
// /metrics, /healthz and /readyz like the other services' hosts.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config is what the broker is started with.
type Config struct {
	// Addr is the NATS client listener, host:port (port 0: any free port).
	Addr string
	// MetricsAddr serves /metrics, /healthz and /readyz ("" : none).
	MetricsAddr string
	// StoreDir is JetStream's store directory (created if missing).
	StoreDir string
	// ReadyTimeout bounds the wait for the server to accept connections.
	ReadyTimeout time.Duration
}

// DefaultConfig listens on loopback: NATS :4222, metrics :9086.
func DefaultConfig() Config {
	return Config{
		Addr:         "127.0.0.1:4222",
		MetricsAddr:  "127.0.0.1:9086",
		StoreDir:     ".run/data/nats",
		ReadyTimeout: 10 * time.Second,
	}
}

// Broker is a started NATS server. Stop it with Shutdown.
type Broker struct {
	srv    *server.Server
	ops    *http.Server
	opsLn  net.Listener
	opsErr chan error
}

// Start starts the server and waits until it accepts connections with
// JetStream enabled; with a MetricsAddr it also serves the ops listener.
// reg receives the broker's metrics (nil: a fresh registry).
func Start(ctx context.Context, cfg Config, logger *slog.Logger, reg *prometheus.Registry) (*Broker, error) {
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker: -addr %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("broker: -addr %q: port: %w", cfg.Addr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT // nats-server reads 0 as its default 4222
	}
	if cfg.StoreDir == "" {
		return nil, errors.New("broker: -store-dir is empty")
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "chaoslab-nats",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true, // run's context handles SIGTERM/SIGINT
	})
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if logger != nil {
		srv.SetLoggerV2(slogAdapter{logger}, false, false, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(cfg.ReadyTimeout) {
		srv.Shutdown()
		return nil, fmt.Errorf("broker: not ready for connections on %s within %s", cfg.Addr, cfg.ReadyTimeout)
	}
	b := &Broker{srv: srv, opsErr: make(chan error, 1)}
	if cfg.MetricsAddr != "" {
		if reg == nil {
			reg = prometheus.NewRegistry()
		}
		if err := registerMetrics(reg, srv); err != nil {
			srv.Shutdown()
			return nil, err
		}
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.MetricsAddr)
		if err != nil {
			srv.Shutdown()
			return nil, fmt.Errorf("broker: cannot listen on %s for its metrics listener: %w", cfg.MetricsAddr, err)
		}
		b.opsLn = ln
		b.ops = &http.Server{Handler: b.opsHandler(reg), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := b.ops.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				b.opsErr <- err
			}
			close(b.opsErr)
		}()
	} else {
		close(b.opsErr)
	}
	return b, nil
}

// ClientURL is the nats:// URL clients connect to.
func (b *Broker) ClientURL() string { return b.srv.ClientURL() }

// Addr is the bound client address.
func (b *Broker) Addr() string { return b.srv.Addr().String() }

// MetricsAddr is the bound ops address ("" without one).
func (b *Broker) MetricsAddr() string {
	if b.opsLn == nil {
		return ""
	}
	return b.opsLn.Addr().String()
}

// Ready reports whether the server takes clients with JetStream on.
func (b *Broker) Ready() error {
	switch {
	case !b.srv.Running():
		return errors.New("nats server not running")
	case !b.srv.JetStreamEnabled():
		return errors.New("jetstream not enabled")
	}
	return nil
}

// Shutdown stops the ops listener and the server (clients are
// disconnected; JetStream's store is flushed).
func (b *Broker) Shutdown(ctx context.Context) error {
	var err error
	if b.ops != nil {
		err = b.ops.Shutdown(ctx)
	}
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
	return err
}

func (b *Broker) opsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := b.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// registerMetrics exports a few of the server's own figures (varz).
func registerMetrics(reg prometheus.Registerer, srv *server.Server) error {
	varz := func(f func(*server.Varz) float64) func() float64 {
		return func() float64 {
			v, err := srv.Varz(nil)
			if err != nil {
				return 0
			}
			return f(v)
		}
	}
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "chaoslab_broker_connections", Help: "Client connections open on the NATS server."},
			varz(func(v *server.Varz) float64 { return float64(v.Connections) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "chaoslab_broker_in_messages_total", Help: "Messages the NATS server received from clients."},
			varz(func(v *server.Varz) float64 { return float64(v.InMsgs) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "chaoslab_broker_out_messages_total", Help: "Messages the NATS server sent to clients."},
			varz(func(v *server.Varz) float64 { return float64(v.OutMsgs) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "chaoslab_broker_slow_consumers_total", Help: "Clients the NATS server found too slow to keep up."},
			varz(func(v *server.Varz) float64 { return float64(v.SlowConsumers) })),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registering broker metrics: %w", err)
		}
	}
	return nil
}

// slogAdapter routes nats-server's log lines to the service's logger.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
