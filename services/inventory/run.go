package inventory

import (
	"context"
	"flag"
	"fmt"
	"io"

	"google.golang.org/grpc"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	"github.com/chaoslab/chaoslab/services/internal/discovery"
	"github.com/chaoslab/chaoslab/services/internal/host"
	"github.com/chaoslab/chaoslab/services/internal/telemetry"
)

// Config is what the inventory service is started with.
type Config struct {
	Host host.Config
	// DBPath is the SQLite file the service owns.
	DBPath string
	// Seed inserts DefaultCatalog's products that are missing.
	Seed bool
	// MaxInFlight sheds requests beyond this many in flight (0: no limit).
	MaxInFlight int
	// Discovery is the registry this replica registers in (-advertise).
	Discovery discovery.Config
}

// DefaultConfig listens on loopback: gRPC :5052, metrics :9083, admin :9183.
func DefaultConfig() Config {
	return Config{
		Host:        host.Config{Addr: "127.0.0.1:5052", MetricsAddr: "127.0.0.1:9083", AdminAddr: "127.0.0.1:9183"},
		DBPath:      ".run/data/inventory.db",
		Seed:        true,
		MaxInFlight: 128,
	}
}

// RegisterFlags registers the service's own flags with c's values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DBPath, "db", c.DBPath, "SQLite database file (created if missing)")
	fs.BoolVar(&c.Seed, "seed", c.Seed, "insert the default catalog's missing products at start")
	fs.IntVar(&c.MaxInFlight, "max-inflight", c.MaxInFlight, "shed requests beyond this many in flight with RESOURCE_EXHAUSTED (0: no limit)")
	c.Discovery.RegisterFlags(fs)
}

// New opens the store and returns the service ready to be hosted.
func New(ctx context.Context, cfg Config, tel *telemetry.Telemetry) (host.Service, error) {
	if err := cfg.Discovery.Validate(nil); err != nil {
		return host.Service{}, &host.UsageError{Err: err}
	}
	store, err := OpenStore(ctx, cfg.DBPath)
	if err != nil {
		return host.Service{}, err
	}
	if cfg.Seed {
		if err := store.Seed(ctx, DefaultCatalog()); err != nil {
			store.Close()
			return host.Service{}, fmt.Errorf("seeding catalog: %w", err)
		}
	}
	reg, err := discovery.Open(cfg.Discovery, discovery.Options{Instance: tel.Instance, Logger: tel.Logger, Registerer: tel.Registerer})
	if err != nil {
		store.Close()
		return host.Service{}, err
	}
	srv := NewServer(store, tel.Logger)
	return host.Service{
		Name:        "inventory",
		GRPC:        func(s *grpc.Server) { inventoryv1.RegisterInventoryServiceServer(s, srv) },
		HealthNames: []string{inventoryv1.InventoryService_ServiceDesc.ServiceName},
		MaxInFlight: cfg.MaxInFlight,
		Ready:       store.db.PingContext,
		Close:       store.Close,
		Registry:    reg,
	}, nil
}

// Run is the inventory binary: it parses args (without the program name)
// and serves until ctx is cancelled, then drains and closes the database.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	return host.Main(ctx, host.Command{
		Name:    "inventory",
		Summary: "stock and reservations of the chaoslab shop (gRPC)",
		Host:    &cfg.Host,
		Flags:   cfg.RegisterFlags,
		Build: func(ctx context.Context, tel *telemetry.Telemetry) (host.Service, error) {
			return New(ctx, cfg, tel)
		},
	}, args, getenv, stdout, stderr)
}
