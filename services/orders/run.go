package orders

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"google.golang.org/grpc"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
	"github.com/chaoslab/chaoslab/services/internal/discovery"
	"github.com/chaoslab/chaoslab/services/internal/grpcclient"
	"github.com/chaoslab/chaoslab/services/internal/host"
	"github.com/chaoslab/chaoslab/services/internal/resilience"
	"github.com/chaoslab/chaoslab/services/internal/telemetry"
	"github.com/chaoslab/chaoslab/services/orders/outboxapi"
)

// Config is what the orders service is started with.
type Config struct {
	Host host.Config
	// DBPath is the SQLite file the service owns.
	DBPath string
	// InventoryAddr and PaymentsAddr are the dependencies' gRPC addresses
	// (in the lab: the Toxiproxy proxies in front of them): host:port, or
	// etcd:///chaoslab/<key> through the registry.
	InventoryAddr string
	PaymentsAddr  string
	// Discovery is the registry the dependencies are resolved in and this
	// replica registers in.
	Discovery discovery.Config
	// Resilience switches deadlines, retries, breakers and load shedding.
	Resilience resilience.Config
	// RecoveryInterval is how often PENDING orders left by a crash or a
	// failed compensation are finished.
	RecoveryInterval time.Duration
	// MinDeadline refuses new orders whose request has less than this left
	// of its deadline, before recording them (see Options.MinDeadline).
	MinDeadline time.Duration
	// NATSURL is the broker the outbox relay publishes OrderConfirmed
	// events to (in the lab: the Toxiproxy proxy in front of it). Empty:
	// no relay; events stay in the outbox.
	NATSURL string
}

// DefaultConfig listens on loopback: gRPC :5051, metrics :9082, admin
// :9182, with every resilience mechanism on.
func DefaultConfig() Config {
	return Config{
		Host:             host.Config{Addr: "127.0.0.1:5051", MetricsAddr: "127.0.0.1:9082", AdminAddr: "127.0.0.1:9182"},
		DBPath:           ".run/data/orders.db",
		InventoryAddr:    "127.0.0.1:5052",
		PaymentsAddr:     "127.0.0.1:5053",
		Resilience:       resilience.DefaultConfig(),
		RecoveryInterval: 5 * time.Second,
		MinDeadline:      100 * time.Millisecond,
	}
}

// RegisterFlags registers the service's own flags with c's values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DBPath, "db", c.DBPath, "SQLite database file (created if missing)")
	fs.StringVar(&c.InventoryAddr, "inventory-addr", c.InventoryAddr, "gRPC address of inventory: host:port, or etcd:///chaoslab/<key> through -registry")
	fs.StringVar(&c.PaymentsAddr, "payments-addr", c.PaymentsAddr, "gRPC address of payments: host:port, or etcd:///chaoslab/<key> through -registry")
	c.Discovery.RegisterFlags(fs)
	fs.DurationVar(&c.RecoveryInterval, "recovery-interval", c.RecoveryInterval, "how often PENDING orders are resumed")
	fs.DurationVar(&c.MinDeadline, "min-deadline", c.MinDeadline,
		"refuse a new order (DEADLINE_EXCEEDED, nothing recorded) whose request has less than this left of its deadline; 0 never refuses")
	fs.StringVar(&c.NATSURL, "nats-url", c.NATSURL,
		"NATS (JetStream) URL the outbox relay publishes OrderConfirmed events to; empty: no relay, events stay in the outbox")
	c.Resilience.RegisterFlags(fs)
}

// New opens the store, dials the dependencies and returns the service ready
// to be hosted.
func New(ctx context.Context, cfg Config, tel *telemetry.Telemetry) (host.Service, error) {
	if err := cfg.Resilience.Validate(); err != nil {
		return host.Service{}, err
	}
	if err := cfg.Discovery.Validate(map[string]string{"inventory-addr": cfg.InventoryAddr, "payments-addr": cfg.PaymentsAddr}); err != nil {
		return host.Service{}, &host.UsageError{Err: err}
	}
	reg, err := discovery.Open(cfg.Discovery, discovery.Options{Instance: tel.Instance, Logger: tel.Logger, Registerer: tel.Registerer})
	if err != nil {
		return host.Service{}, err
	}
	svc, err := newService(ctx, cfg, tel, reg)
	if err != nil {
		reg.Close()
		return host.Service{}, err
	}
	svc.Registry = reg
	return svc, nil
}

// newService is New once the registry is open; reg may be nil.
func newService(ctx context.Context, cfg Config, tel *telemetry.Telemetry, reg *discovery.Registry) (host.Service, error) {
	store, err := OpenStore(ctx, cfg.DBPath)
	if err != nil {
		return host.Service{}, err
	}
	dial := func(name, addr, service string) (*grpc.ClientConn, error) {
		return grpcclient.Dial(grpcclient.Options{
			Target: addr, Registry: reg, Name: name, Services: []string{service},
			Resilience: cfg.Resilience, Registerer: tel.Registerer,
			TracerProvider: tel.TracerProvider, Propagator: tel.Propagator,
			Logger: tel.Logger, Instrument: tel.Instrument,
		})
	}
	invConn, err := dial("inventory", cfg.InventoryAddr, inventoryv1.InventoryService_ServiceDesc.ServiceName)
	if err != nil {
		store.Close()
		return host.Service{}, err
	}
	payConn, err := dial("payments", cfg.PaymentsAddr, paymentsv1.PaymentsService_ServiceDesc.ServiceName)
	if err != nil {
		invConn.Close()
		store.Close()
		return host.Service{}, err
	}
	closeAll := func() error { return errors.Join(invConn.Close(), payConn.Close(), store.Close()) }
	if err := registerOutboxBacklog(tel.Registerer, store); err != nil {
		closeAll()
		return host.Service{}, err
	}
	var relay *Relay
	if cfg.NATSURL != "" {
		nc, err := nats.Connect(cfg.NATSURL, nats.Name("orders-outbox-relay"),
			nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
			nats.ReconnectWait(250*time.Millisecond), nats.Timeout(time.Second),
			// No reconnect buffer: a publish while the broker is away fails
			// at once and the event waits in the outbox, not in memory.
			nats.ReconnectBufSize(-1))
		if err != nil {
			closeAll()
			return host.Service{}, fmt.Errorf("connecting to nats at %s: %w", cfg.NATSURL, err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			nc.Close()
			closeAll()
			return host.Service{}, fmt.Errorf("jetstream at %s: %w", cfg.NATSURL, err)
		}
		relay, err = NewRelay(store, js, RelayOptions{Logger: tel.Logger, TracerProvider: tel.TracerProvider,
			Propagator: tel.Propagator, Registerer: tel.Registerer})
		if err != nil {
			nc.Close()
			closeAll()
			return host.Service{}, err
		}
		prevClose := closeAll
		closeAll = func() error { nc.Close(); return prevClose() }
	}

	stepTimeout := cfg.Resilience.CallTimeout
	if !cfg.Resilience.Deadlines {
		stepTimeout = time.Hour // deadlines off: a hung dependency hangs the saga
	}
	svc, err := NewService(store,
		inventoryv1.NewInventoryServiceClient(invConn),
		paymentsv1.NewPaymentsServiceClient(payConn),
		Options{Logger: tel.Logger, TracerProvider: tel.TracerProvider, Registerer: tel.Registerer, StepTimeout: stepTimeout, MinDeadline: cfg.MinDeadline},
	)
	if err != nil {
		closeAll()
		return host.Service{}, err
	}
	srv := NewServer(svc)
	return host.Service{
		Name: "orders",
		GRPC: func(s *grpc.Server) {
			ordersv1.RegisterOrdersServiceServer(s, srv)
			outboxapi.Register(s, outboxBacklog{store})
		},
		HealthNames: []string{ordersv1.OrdersService_ServiceDesc.ServiceName},
		MaxInFlight: cfg.Resilience.MaxInFlight,
		Ready:       store.db.PingContext,
		Background: func(ctx context.Context) {
			if relay != nil {
				done := make(chan struct{})
				go func() { defer close(done); relay.Run(ctx) }()
				defer func() { <-done }() // the relay stops before the store closes
			}
			// Finish what a crash left PENDING, then keep sweeping.
			if n, err := svc.RecoverPending(ctx); err != nil {
				tel.Logger.WarnContext(ctx, "recovering pending orders at start", "recovered", n, "err", err)
			}
			_ = svc.RunRecovery(ctx, cfg.RecoveryInterval)
		},
		Close: closeAll,
	}, nil
}

// Run is the orders binary: it parses args (without the program name) and
// serves until ctx is cancelled, then drains and closes the database.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	return host.Main(ctx, host.Command{
		Name:    "orders",
		Summary: "places orders as a saga over inventory and payments (gRPC)",
		Host:    &cfg.Host,
		Flags:   cfg.RegisterFlags,
		Build: func(ctx context.Context, tel *telemetry.Telemetry) (host.Service, error) {
			return New(ctx, cfg, tel)
		},
	}, args, getenv, stdout, stderr)
}

// outboxBacklog serves outboxapi's Backlog from the store.
type outboxBacklog struct{ store *Store }

func (b outboxBacklog) Backlog(ctx context.Context) (int64, error) {
	n, err := b.store.OutboxBacklog(ctx)
	return int64(n), err
}
