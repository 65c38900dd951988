package gateway

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
	"github.com/chaoslab/chaoslab/services/internal/discovery"
	"github.com/chaoslab/chaoslab/services/internal/grpcclient"
	"github.com/chaoslab/chaoslab/services/internal/host"
	"github.com/chaoslab/chaoslab/services/internal/resilience"
	"github.com/chaoslab/chaoslab/services/internal/telemetry"
)

// JWTKeyEnv is the environment variable holding the HS256 signing key when
// no key file is given; the dev-token command reads the same variable.
const JWTKeyEnv = "CHAOSLAB_JWT_KEY"

// Config is what the gateway is started with.
type Config struct {
	Host host.Config
	// OrdersAddr and InventoryAddr are the dependencies' gRPC addresses:
	// host:port, or etcd:///chaoslab/<key> through the registry.
	OrdersAddr    string
	InventoryAddr string
	// Discovery is the registry the dependencies are resolved in.
	Discovery discovery.Config
	// JWTKeyFile holds the HS256 key; empty: the key comes from $CHAOSLAB_JWT_KEY.
	JWTKeyFile string
	// JWKS verifies RS256/ES256 tokens against an issuer's key set.
	JWKS JWKSConfig
	// RateLimit is the gateway-wide request rate (per second) and Burst its
	// bucket size; 0 switches rate limiting off.
	RateLimit float64
	Burst     int
	// RequestTimeout is the deadline of every request, propagated to the
	// gRPC calls; used when Resilience.Deadlines is on.
	RequestTimeout time.Duration
	// Resilience switches deadlines, retries, breakers and load shedding.
	Resilience resilience.Config
}

// DefaultConfig listens on loopback: HTTP :8080, metrics :9081, admin :9181.
func DefaultConfig() Config {
	return Config{
		Host:           host.Config{Addr: "127.0.0.1:8080", MetricsAddr: "127.0.0.1:9081", AdminAddr: "127.0.0.1:9181"},
		OrdersAddr:     "127.0.0.1:5051",
		InventoryAddr:  "127.0.0.1:5052",
		RateLimit:      1000,
		Burst:          200,
		RequestTimeout: 3 * time.Second,
		Resilience:     resilience.DefaultConfig(),
		JWKS:           JWKSConfig{Refresh: time.Minute, Timeout: time.Second, UnknownKIDEvery: time.Second},
	}
}

// RegisterFlags registers the gateway's own flags with c's values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.OrdersAddr, "orders-addr", c.OrdersAddr, "gRPC address of orders: host:port, or etcd:///chaoslab/<key> through -registry")
	fs.StringVar(&c.InventoryAddr, "inventory-addr", c.InventoryAddr, "gRPC address of inventory: host:port, or etcd:///chaoslab/<key> through -registry")
	c.Discovery.RegisterFlags(fs)
	fs.StringVar(&c.JWTKeyFile, "jwt-key-file", c.JWTKeyFile, "file holding the HS256 key that signs bearer tokens (default: the key in $"+JWTKeyEnv+"; optional with -jwks-url)")
	c.JWKS.RegisterFlags(fs)
	fs.Float64Var(&c.RateLimit, "rate-limit", c.RateLimit, "requests per second admitted before 429 (0: no rate limit)")
	fs.IntVar(&c.Burst, "rate-burst", c.Burst, "burst size of the rate limit")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", c.RequestTimeout, "deadline of each request, propagated downstream (when -deadlines is on)")
	c.Resilience.RegisterFlags(fs)
}

// LoadJWTKey returns the key from file, or from $CHAOSLAB_JWT_KEY when file
// is empty, and says where to put one when neither has it.
func LoadJWTKey(file string, getenv func(string) string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading JWT key: %w", err)
		}
		key := []byte(strings.TrimSpace(string(b)))
		if len(key) == 0 {
			return nil, fmt.Errorf("JWT key file %s is empty", file)
		}
		return key, nil
	}
	if key := getenv(JWTKeyEnv); key != "" {
		return []byte(key), nil
	}
	return nil, errors.New("no JWT key: set -jwt-key-file or $" + JWTKeyEnv + " (any secret string for a dev lab)")
}

// New dials the dependencies and returns the gateway ready to be hosted.
func New(ctx context.Context, cfg Config, getenv func(string) string, tel *telemetry.Telemetry) (host.Service, error) {
	if err := cfg.Resilience.Validate(); err != nil {
		return host.Service{}, err
	}
	if err := cfg.Discovery.Validate(map[string]string{"orders-addr": cfg.OrdersAddr, "inventory-addr": cfg.InventoryAddr}); err != nil {
		return host.Service{}, &host.UsageError{Err: err}
	}
	key, err := LoadJWTKey(cfg.JWTKeyFile, getenv)
	if err != nil && (cfg.JWKS.URL == "" || cfg.JWTKeyFile != "") {
		return host.Service{}, err
	}
	var keySet KeySet
	if cfg.JWKS.URL != "" {
		if keySet, err = cfg.JWKS.keyfunc(ctx, tel); err != nil {
			return host.Service{}, err
		}
	}
	reg, err := discovery.Open(cfg.Discovery, discovery.Options{Instance: tel.Instance, Logger: tel.Logger, Registerer: tel.Registerer})
	if err != nil {
		return host.Service{}, err
	}
	dial := func(name, addr, service string, rc resilience.Config) (*grpc.ClientConn, error) {
		return grpcclient.Dial(grpcclient.Options{
			Target: addr, Registry: reg, Name: name, Services: []string{service},
			Resilience: rc, Registerer: tel.Registerer,
			TracerProvider: tel.TracerProvider, Propagator: tel.Propagator,
			Logger: tel.Logger, Instrument: tel.Instrument,
		})
	}
	// A checkout waits (within its deadline; without deadlines a wait could
	// last forever) for orders to come back from a restart; the catalog read
	// fails fast unless -wait-for-ready says so.
	ordersRC := cfg.Resilience
	ordersRC.WaitForReady = ordersRC.Deadlines
	ordConn, err := dial("orders", cfg.OrdersAddr, ordersv1.OrdersService_ServiceDesc.ServiceName, ordersRC)
	if err != nil {
		reg.Close()
		return host.Service{}, err
	}
	invConn, err := dial("inventory", cfg.InventoryAddr, inventoryv1.InventoryService_ServiceDesc.ServiceName, cfg.Resilience)
	if err != nil {
		ordConn.Close()
		reg.Close()
		return host.Service{}, err
	}
	closeAll := func() error { return errors.Join(ordConn.Close(), invConn.Close()) }

	opts := Options{
		JWTKey:      key,
		KeySet:      keySet,
		Logger:      tel.Logger,
		Registerer:  tel.Registerer,
		RateLimit:   rate.Limit(cfg.RateLimit),
		Burst:       cfg.Burst,
		MaxInFlight: cfg.Resilience.MaxInFlight,
	}
	if cfg.Resilience.Deadlines {
		opts.RequestTimeout = cfg.RequestTimeout
	}
	srv, err := NewServer(ordersv1.NewOrdersServiceClient(ordConn), inventoryv1.NewInventoryServiceClient(invConn), opts)
	if err != nil {
		closeAll()
		reg.Close()
		return host.Service{}, err
	}
	return host.Service{
		Name:     "gateway",
		HTTP:     srv,
		Route:    srv.Route,
		Close:    closeAll,
		Registry: reg,
	}, nil
}

// Run is the gateway binary: it parses args (without the program name) and
// serves until ctx is cancelled, then drains in-flight requests.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	return host.Main(ctx, host.Command{
		Name:    "gateway",
		Summary: "the public REST/JSON API of the chaoslab shop",
		Host:    &cfg.Host,
		Flags:   cfg.RegisterFlags,
		Build: func(ctx context.Context, tel *telemetry.Telemetry) (host.Service, error) {
			return New(ctx, cfg, getenv, tel)
		},
	}, args, getenv, stdout, stderr)
}
