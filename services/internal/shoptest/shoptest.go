// Package shoptest starts the whole shop — inventory, payments, orders and
// the gateway — inside one process on 127.0.0.1:0, with real gRPC, real
// SQLite files and real HTTP, for integration tests and benchmarks. Each
// service gets its own telemetry (own registry, own service.name), and all
// of them can feed one in-memory span exporter.
package shoptest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/chaoslab/chaoslab/services/gateway"
	"github.com/chaoslab/chaoslab/services/internal/host"
	"github.com/chaoslab/chaoslab/services/internal/resilience"
	"github.com/chaoslab/chaoslab/services/internal/telemetry"
	"github.com/chaoslab/chaoslab/services/inventory"
	"github.com/chaoslab/chaoslab/services/orders"
	"github.com/chaoslab/chaoslab/services/payments"
)

// Options configures the shop.
type Options struct {
	// Uninstrumented turns tracing and request metrics off everywhere.
	Uninstrumented bool
	// SpanExporter receives every service's spans synchronously (nil: spans
	// are created but not exported).
	SpanExporter sdktrace.SpanExporter
	// Resilience applies to orders and the gateway; zero value: defaults.
	Resilience *resilience.Config
	// Logs receives every service's JSON log lines (nil: discarded).
	Logs io.Writer
}

// Shop is a running in-process shop.
type Shop struct {
	// Hosts by service name: "gateway", "orders", "inventory", "payments".
	Hosts map[string]*host.Host
	// Telemetry by service name; tests read the registries.
	Telemetry map[string]*telemetry.Telemetry
	// Client talks to the gateway with a valid bearer token.
	*Client

	tb      testing.TB
	opts    Options
	dataDir string
	mu      sync.Mutex
	orders  orders.Config
}

const jwtKey = "shoptest-secret"

// Start starts the four services and stops them in tb.Cleanup.
func Start(tb testing.TB, opts Options) *Shop {
	tb.Helper()
	if opts.Logs == nil {
		opts.Logs = io.Discard
	}
	res := resilience.DefaultConfig()
	if opts.Resilience != nil {
		res = *opts.Resilience
	}
	s := &Shop{
		Hosts:     map[string]*host.Host{},
		Telemetry: map[string]*telemetry.Telemetry{},
		tb:        tb,
		opts:      opts,
		dataDir:   tb.TempDir(),
	}
	ctx := context.Background()
	loopback := host.Config{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", ShutdownTimeout: 10 * time.Second}

	inv := inventory.DefaultConfig()
	inv.Host, inv.DBPath = loopback, filepath.Join(s.dataDir, "inventory.db")
	s.start("inventory", inv.Host, func(tel *telemetry.Telemetry) (host.Service, error) { return inventory.New(ctx, inv, tel) })

	pay := payments.DefaultConfig()
	pay.Host, pay.DBPath = loopback, filepath.Join(s.dataDir, "payments.db")
	s.start("payments", pay.Host, func(tel *telemetry.Telemetry) (host.Service, error) { return payments.New(ctx, pay, tel) })

	ord := orders.DefaultConfig()
	ord.Host, ord.DBPath, ord.Resilience = loopback, filepath.Join(s.dataDir, "orders.db"), res
	ord.InventoryAddr, ord.PaymentsAddr = s.Hosts["inventory"].Addr(), s.Hosts["payments"].Addr()
	s.orders = ord
	s.start("orders", ord.Host, func(tel *telemetry.Telemetry) (host.Service, error) { return orders.New(ctx, ord, tel) })

	gw := gateway.DefaultConfig()
	gw.Host, gw.Resilience = loopback, res
	gw.OrdersAddr, gw.InventoryAddr = s.Hosts["orders"].Addr(), s.Hosts["inventory"].Addr()
	gw.RateLimit = 0 // tests and benchmarks measure the shop, not the limiter
	getenv := func(k string) string {
		if k == gateway.JWTKeyEnv {
			return jwtKey
		}
		return ""
	}
	s.start("gateway", gw.Host, func(tel *telemetry.Telemetry) (host.Service, error) { return gateway.New(ctx, gw, getenv, tel) })

	c, err := NewClient("http://"+s.Hosts["gateway"].Addr(), []byte(jwtKey))
	if err != nil {
		tb.Fatal(err)
	}
	s.Client = c
	return s
}

func (s *Shop) start(name string, cfg host.Config, build func(*telemetry.Telemetry) (host.Service, error)) {
	s.tb.Helper()
	tel, err := telemetry.New(context.Background(), telemetry.Config{
		Service:      name,
		SpanExporter: s.opts.SpanExporter,
		Disabled:     s.opts.Uninstrumented,
	}, s.opts.Logs)
	if err != nil {
		s.tb.Fatalf("telemetry of %s: %v", name, err)
	}
	svc, err := build(tel)
	if err != nil {
		s.tb.Fatalf("building %s: %v", name, err)
	}
	h, err := host.Start(context.Background(), cfg, tel, svc)
	if err != nil {
		svc.Close()
		s.tb.Fatalf("starting %s: %v", name, err)
	}
	s.mu.Lock()
	s.Hosts[name], s.Telemetry[name] = h, tel
	s.mu.Unlock()
	s.tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		s.mu.Lock()
		cur := s.Hosts[name]
		s.mu.Unlock()
		if cur == h {
			if err := h.Shutdown(ctx); err != nil {
				s.tb.Errorf("stopping %s: %v", name, err)
			}
		}
	})
}

// RestartOrders stops orders gracefully (in-flight sagas finish) and starts
// a new orders on the same address and database, as a SIGTERM and restart of
// the process would.
func (s *Shop) RestartOrders(ctx context.Context) error {
	s.mu.Lock()
	old := s.Hosts["orders"]
	s.mu.Unlock()
	if err := old.Shutdown(ctx); err != nil {
		return fmt.Errorf("stopping orders: %w", err)
	}
	cfg := s.orders
	cfg.Host.Addr, cfg.Host.MetricsAddr, cfg.Host.AdminAddr = old.Addr(), old.MetricsAddr(), old.AdminAddr()
	s.start("orders", cfg.Host, func(tel *telemetry.Telemetry) (host.Service, error) { return orders.New(ctx, cfg, tel) })
	return nil
}

// Client places orders through a gateway.
type Client struct {
	*gateway.Client
	// URL is the gateway's base URL, e.g. http://127.0.0.1:41234.
	URL string
}

// NewClient returns a client of the gateway at url with a token signed by key.
func NewClient(url string, key []byte) (*Client, error) {
	tok, err := gateway.MintToken(key, "shoptest", time.Hour, time.Now())
	if err != nil {
		return nil, fmt.Errorf("minting token: %w", err)
	}
	return &Client{Client: gateway.NewClient(url, tok, nil), URL: url}, nil
}

// Checkout orders quantity units of sku with the idempotency key and
// returns the HTTP status (201 when CONFIRMED) and the order.
func (c *Client) Checkout(ctx context.Context, key, sku string, quantity int) (int, gateway.Order, error) {
	o, err := c.PlaceOrder(ctx, key, gateway.OrderRequest{
		CustomerID: "c-1", Items: []gateway.OrderItem{{SKU: sku, Quantity: quantity}},
	})
	var p *gateway.Problem
	switch {
	case err == nil:
		return http.StatusCreated, o, nil
	case errors.As(err, &p):
		return p.Status, o, err
	default:
		return 0, o, err
	}
}
