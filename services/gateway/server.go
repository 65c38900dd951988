// Package gateway is chaoslab's public REST/JSON API. It authenticates and
// admits requests (bearer JWT, rate limit, concurrency limit, deadline),
// validates them, and calls the orders and inventory services over gRPC.
// Errors are RFC 9457 problem details.
package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"

	inventoryv1 "github.com/chaoslab/chaoslab/services/api/inventory/v1"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
)

// ordersClient is what the gateway needs of the orders service;
// ordersv1.OrdersServiceClient satisfies it.
type ordersClient interface {
	PlaceOrder(ctx context.Context, in *ordersv1.PlaceOrderRequest, opts ...grpc.CallOption) (*ordersv1.PlaceOrderResponse, error)
	GetOrder(ctx context.Context, in *ordersv1.GetOrderRequest, opts ...grpc.CallOption) (*ordersv1.Order, error)
}

// catalogClient is what the gateway needs of the inventory service;
// inventoryv1.InventoryServiceClient satisfies it.
type catalogClient interface {
	ListProducts(ctx context.Context, in *inventoryv1.ListProductsRequest, opts ...grpc.CallOption) (*inventoryv1.ListProductsResponse, error)
}

// Options configures a Server. JWTKey or KeySet is required.
type Options struct {
	// JWTKey is the HS256 key that signs dev bearer tokens (nil: HS256
	// tokens are refused).
	JWTKey []byte
	// KeySet finds the key of an RS256 or ES256 token (by its kid), such
	// as a JWKS keyfunc (nil: such tokens are refused).
	KeySet KeySet
	// Logger receives errors of 5xx answers. Default: discard.
	Logger *slog.Logger
	// Registerer, when set, gets chaoslab_gateway_rejected_total{reason}.
	Registerer prometheus.Registerer
	// RateLimit is the steady rate of requests per second admitted by the
	// gateway's token bucket. 0 turns rate limiting off.
	RateLimit rate.Limit
	// Burst is the size of the token bucket; below 1 counts as 1.
	Burst int
	// MaxInFlight caps the requests served at once; more are refused with 503
	// at once. 0 turns the cap off.
	MaxInFlight int
	// RequestTimeout is the deadline put on each admitted request's context,
	// and so propagated over gRPC. 0 means none.
	RequestTimeout time.Duration
	// Ready reports whether the gateway can serve (for /readyz). nil: always ready.
	Ready func(context.Context) error
	// Now is the clock for token expiry and the rate limit. Default: time.Now.
	Now func() time.Time
}

// readyTimeout bounds one readiness check.
const readyTimeout = 2 * time.Second

// Server is the gateway's HTTP handler.
type Server struct {
	orders   ordersClient
	catalog  catalogClient
	log      *slog.Logger
	ready    func(context.Context) error
	mux      *http.ServeMux
	patterns map[string]bool
}

// NewServer returns the gateway's handler over the given clients.
func NewServer(orders ordersClient, catalog catalogClient, opts Options) (*Server, error) {
	if orders == nil || catalog == nil {
		return nil, errors.New("new gateway: the orders and catalog clients are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	auth, err := newAuthenticator(opts.JWTKey, opts.KeySet, opts.Now)
	if err != nil {
		return nil, fmt.Errorf("new gateway: %w", err)
	}
	adm, err := newAdmission(opts, opts.Now)
	if err != nil {
		return nil, fmt.Errorf("new gateway: %w", err)
	}
	s := &Server{
		orders:   orders,
		catalog:  catalog,
		log:      opts.Logger,
		ready:    opts.Ready,
		mux:      http.NewServeMux(),
		patterns: make(map[string]bool),
	}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(auth.rejected); err != nil {
			return nil, fmt.Errorf("registering the gateway's auth counter: %w", err)
		}
	}
	s.routes(adm, auth)
	return s, nil
}

// handle registers h for pattern.
func (s *Server) handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.patterns[pattern] = true
}

// Route returns the ServeMux pattern that serves r, such as
// "POST /v1/orders", or "unmatched". Its values are few, fit for a metric label.
func (s *Server) Route(r *http.Request) string {
	if _, pattern := s.mux.Handler(r); s.patterns[pattern] {
		return pattern
	}
	return "unmatched"
}

// ServeHTTP serves the gateway's API. Requests that no route serves get
// 404 or 405 problems.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if s.patterns[pattern] {
		s.mux.ServeHTTP(w, r)
		return
	}
	// The mux answers 404, 405 or a redirect to a cleaned path in plain text;
	// turn the first two into problems.
	rec := &recorder{header: make(http.Header), status: http.StatusOK}
	h.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusNotFound:
		writeProblem(w, r, routeNotFoundProblem(r.URL.Path))
	case http.StatusMethodNotAllowed:
		writeProblem(w, r, methodNotAllowedProblem(r.Method, rec.header.Get("Allow")))
	default:
		for k, vs := range rec.header {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
	}
}

// recorder keeps the answer of the mux's built-in handlers.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }
func (r *recorder) WriteHeader(status int)      { r.status = status }

// fail answers with the problem err maps to, logging server-side failures.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFromError(err)
	if p.Status >= http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", p.Status, "error", err)
	}
	writeProblem(w, r, p)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// The status line is out: an encoding or write error can only be dropped.
	_ = json.NewEncoder(w).Encode(v)
}
