package shipping

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chaoslab/chaoslab/services/internal/host"
	"github.com/chaoslab/chaoslab/services/internal/telemetry"
)

// Config is what the shipping service is started with.
type Config struct {
	Host host.Config
	// DBPath is the SQLite file the service owns.
	DBPath string
	// NATSURL is the broker (in the lab: the Toxiproxy proxy in front of it).
	NATSURL string
	// Dedup deduplicates deliveries by event id.
	Dedup bool
	// ProcessingDelay slows the processing of each event.
	ProcessingDelay time.Duration
	// AckWait is JetStream's redelivery timeout for shipping's consumer.
	AckWait time.Duration
	// Batch is how many messages one fetch asks for.
	Batch int
}

// DefaultConfig listens on loopback: HTTP :8092, metrics :9087, admin :9187.
func DefaultConfig() Config {
	return Config{
		Host:    host.Config{Addr: "127.0.0.1:8092", MetricsAddr: "127.0.0.1:9087", AdminAddr: "127.0.0.1:9187"},
		DBPath:  ".run/data/shipping.db",
		NATSURL: "nats://127.0.0.1:4222",
		Dedup:   true,
		AckWait: 2 * time.Second,
		Batch:   20,
	}
}

// RegisterFlags registers the service's own flags with c's values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DBPath, "db", c.DBPath, "SQLite database file (created if missing)")
	fs.StringVar(&c.NATSURL, "nats-url", c.NATSURL, "NATS (JetStream) URL of the broker OrderConfirmed events are consumed from")
	fs.BoolVar(&c.Dedup, "dedup", c.Dedup, "deduplicate deliveries by event id (off: every redelivery records another shipment)")
	fs.DurationVar(&c.ProcessingDelay, "processing-delay", c.ProcessingDelay, "extra time spent processing each event (a slow consumer)")
	fs.DurationVar(&c.AckWait, "ack-wait", c.AckWait, "how long JetStream waits for an ack before it delivers a message again")
	fs.IntVar(&c.Batch, "batch", c.Batch, "messages fetched at once; a batch is acked after all of it is recorded")
}

// New opens the store, connects to the broker and returns the service ready
// to be hosted; the consumer runs in the background. A broker that cannot
// be reached yet is retried: the service starts without it.
func New(ctx context.Context, cfg Config, tel *telemetry.Telemetry) (host.Service, error) {
	switch {
	case cfg.NATSURL == "":
		return host.Service{}, &host.UsageError{Err: errors.New("-nats-url is empty")}
	case cfg.ProcessingDelay < 0:
		return host.Service{}, &host.UsageError{Err: fmt.Errorf("-processing-delay must not be negative, got %s", cfg.ProcessingDelay)}
	case cfg.AckWait <= 0:
		return host.Service{}, &host.UsageError{Err: fmt.Errorf("-ack-wait must be positive, got %s", cfg.AckWait)}
	case cfg.Batch <= 0:
		return host.Service{}, &host.UsageError{Err: fmt.Errorf("-batch must be positive, got %d", cfg.Batch)}
	}
	store, err := OpenStore(ctx, cfg.DBPath)
	if err != nil {
		return host.Service{}, err
	}
	nc, err := nats.Connect(cfg.NATSURL, nats.Name("shipping"),
		nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond), nats.Timeout(time.Second))
	if err != nil {
		store.Close()
		return host.Service{}, fmt.Errorf("connecting to nats at %s: %w", cfg.NATSURL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		store.Close()
		return host.Service{}, fmt.Errorf("jetstream at %s: %w", cfg.NATSURL, err)
	}
	consumer, err := NewConsumer(store, js, ConsumerOptions{
		Logger: tel.Logger, TracerProvider: tel.TracerProvider, Propagator: tel.Propagator, Registerer: tel.Registerer,
		Dedup: cfg.Dedup, ProcessingDelay: cfg.ProcessingDelay, AckWait: cfg.AckWait, Batch: cfg.Batch,
	})
	if err != nil {
		nc.Close()
		store.Close()
		return host.Service{}, err
	}
	srv := NewServer(store, consumer)
	return host.Service{
		Name:       "shipping",
		HTTP:       srv,
		Route:      srv.Route,
		Ready:      store.Ping,
		Background: consumer.Run,
		Close:      func() error { nc.Close(); return store.Close() },
	}, nil
}

// Run is the shipping binary: it parses args (without the program name) and
// serves until ctx is cancelled.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	return host.Main(ctx, host.Command{
		Name:    "shipping",
		Summary: "records one shipment per confirmed order from the OrderConfirmed events on NATS JetStream",
		Host:    &cfg.Host,
		Flags:   cfg.RegisterFlags,
		Build: func(ctx context.Context, tel *telemetry.Telemetry) (host.Service, error) {
			return New(ctx, cfg, tel)
		},
	}, args, getenv, stdout, stderr)
}
