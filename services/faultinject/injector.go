package faultinject

import (
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chaoslab/chaoslab/services/internal/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
)

// Injector holds the active faults of a service and applies them to its
// requests (UnaryServerInterceptor, HTTPMiddleware). It is safe for
// concurrent use: the request path reads an immutable snapshot of the rules
// with one atomic load, and writers replace the snapshot.
//
// Metrics: chaoslab_faults_injected_total{method,kind} counts the faults
// applied, by request method or route and kind ("latency", "error",
// "abort"; a fault with a latency and an error counts once for each), and
// chaoslab_fault_rules_active is the number of faults set. Each fault applied
// also adds a span event "fault.injected" (fault.id, fault.kind) to the
// request's span: install the otelgrpc/otelhttp handler outside the
// interceptor or middleware.
type Injector struct {
	logger   *slog.Logger
	float    func() float64 // uniform in [0, 1)
	injected *prometheus.CounterVec
	active   prometheus.Gauge
	conns    *connTracker

	rules atomic.Pointer[snapshot] // nil when no fault applies to any request

	mu     sync.Mutex // serializes writers
	faults []Fault    // in the order they were first set
	nextID int
}

// Option configures an Injector.
type Option func(*Injector)

// WithRand makes the Injector draw its probabilities from r instead of the
// runtime's random source, for deterministic tests. The Injector serializes
// its use of r.
func WithRand(r *rand.Rand) Option {
	return func(in *Injector) {
		var mu sync.Mutex
		in.float = func() float64 {
			mu.Lock()
			defer mu.Unlock()
			return r.Float64()
		}
	}
}

// NewInjector returns an Injector with no fault set, whose metrics are
// registered with reg (nil registers nothing) and which logs the changes of
// its faults to logger (nil discards them).
func NewInjector(reg prometheus.Registerer, logger *slog.Logger, opts ...Option) *Injector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	in := &Injector{
		logger: logger,
		float:  rand.Float64,
		injected: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_faults_injected_total",
			Help: "Faults injected into requests, by gRPC method or HTTP route and kind (latency, error, abort).",
		}, []string{"method", "kind"})),
		active: telemetry.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chaoslab_fault_rules_active",
			Help: "Fault rules currently set.",
		})),
		conns: newConnTracker(),
	}
	for _, opt := range opts {
		opt(in)
	}
	return in
}

// Set validates f and stores it, replacing the fault with the same ID, and
// returns the stored fault: with an ID ("f-<n>" when f had none) and its
// gRPC code name in canonical upper case.
func (in *Injector) Set(f Fault) (Fault, error) {
	f, _, err := in.set(f)
	return f, err
}

// set is Set, reporting whether the fault is new (rather than replacing one).
func (in *Injector) set(f Fault) (Fault, bool, error) {
	if err := f.Validate(); err != nil {
		return Fault{}, false, err
	}
	f.GRPCCode = strings.ToUpper(f.GRPCCode)

	in.mu.Lock()
	defer in.mu.Unlock()
	if f.ID == "" {
		f.ID = in.freeIDLocked()
	}
	faults := slices.Clone(in.faults)
	i := slices.IndexFunc(faults, func(g Fault) bool { return g.ID == f.ID })
	created := i < 0
	if created {
		faults = append(faults, f)
	} else {
		faults[i] = f
	}
	in.publishLocked(faults)
	in.logger.Info("fault set", "fault.id", f.ID, "fault.method", f.Method, "fault.latency", f.Latency.String(),
		"fault.grpc_code", f.GRPCCode, "fault.http_status", f.HTTPStatus, "fault.abort", f.Abort,
		"fault.probability", f.Probability, "fault.seed", f.Seed)
	return f, created, nil
}

// freeIDLocked returns the next "f-<n>" ID not in use.
func (in *Injector) freeIDLocked() string {
	for {
		in.nextID++
		id := "f-" + strconv.Itoa(in.nextID)
		if !slices.ContainsFunc(in.faults, func(g Fault) bool { return g.ID == id }) {
			return id
		}
	}
}

// Delete removes the fault with the given ID and reports whether there was
// one.
func (in *Injector) Delete(id string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	i := slices.IndexFunc(in.faults, func(g Fault) bool { return g.ID == id })
	if i < 0 {
		return false
	}
	in.publishLocked(slices.Delete(slices.Clone(in.faults), i, i+1))
	in.logger.Info("fault deleted", "fault.id", id)
	return true
}

// Clear removes every fault.
func (in *Injector) Clear() {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := len(in.faults)
	in.publishLocked(nil)
	in.logger.Info("faults cleared", "faults", n)
}

// List returns the faults set, in the order they were first set.
func (in *Injector) List() []Fault {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.faults)
}

// publishLocked makes faults the active set. faults must not be modified
// afterwards.
func (in *Injector) publishLocked(faults []Fault) {
	in.faults = faults
	in.active.Set(float64(len(faults)))
	s := newSnapshot(faults)
	if s.empty() {
		s = nil
	}
	in.rules.Store(s)
}

// rule is a fault compiled for the request path.
type rule struct {
	id          string
	latency     time.Duration
	code        codes.Code // codes.OK: no gRPC error
	httpStatus  int        // 0: no HTTP error
	abort       bool
	probability float64 // in (0, 1]
	// draw, when set, is the rule's own seeded source (Fault.Seed).
	draw func() float64
}

// ruleSet is the rules of one transport: by method or route, and for "*".
type ruleSet struct {
	byMethod map[string][]*rule
	wildcard []*rule
}

// snapshot is an immutable view of the active rules.
type snapshot struct {
	grpc, http ruleSet
}

// newSnapshot compiles faults. A rule goes to a transport only when it does
// something there: a fault with only an http_status never touches gRPC.
func newSnapshot(faults []Fault) *snapshot {
	s := &snapshot{}
	for _, f := range faults {
		r := &rule{
			id:          f.ID,
			latency:     time.Duration(f.Latency),
			httpStatus:  f.HTTPStatus,
			abort:       f.Abort,
			probability: f.Probability,
		}
		if r.probability == 0 {
			r.probability = 1
		}
		if f.Seed != 0 {
			r.draw = seeded(f.Seed)
		}
		if f.GRPCCode != "" {
			r.code, _ = parseCode(f.GRPCCode) // validated by Set
		}
		if r.latency > 0 || r.abort || r.code != codes.OK {
			s.grpc.add(f.Method, r)
		}
		if r.latency > 0 || r.abort || r.httpStatus != 0 {
			s.http.add(f.Method, r)
		}
	}
	return s
}

// add adds r for method.
func (rs *ruleSet) add(method string, r *rule) {
	if method == Wildcard {
		rs.wildcard = append(rs.wildcard, r)
		return
	}
	if rs.byMethod == nil {
		rs.byMethod = map[string][]*rule{}
	}
	rs.byMethod[method] = append(rs.byMethod[method], r)
}

// empty reports whether s holds no rule.
func (s *snapshot) empty() bool {
	return len(s.grpc.byMethod) == 0 && len(s.grpc.wildcard) == 0 &&
		len(s.http.byMethod) == 0 && len(s.http.wildcard) == 0
}

// pick returns the rule to apply to a request of method, or nil: the
// method's own rules first, then the "*" rules, each in the order they were
// set; each rule in turn draws its probability and the first that hits
// applies.
func (rs *ruleSet) pick(method string, float func() float64) *rule {
	for _, r := range rs.byMethod[method] {
		if r.hit(float) {
			return r
		}
	}
	for _, r := range rs.wildcard {
		if r.hit(float) {
			return r
		}
	}
	return nil
}

// hit draws whether r applies to one request, from its own source when it
// has one, else from float.
func (r *rule) hit(float func() float64) bool {
	if r.probability >= 1 {
		return true
	}
	if r.draw != nil {
		float = r.draw
	}
	return float() < r.probability
}

// seeded returns a source of floats in [0, 1) seeded with seed, safe for
// concurrent use.
func seeded(seed uint64) func() float64 {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var mu sync.Mutex
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return r.Float64()
	}
}
