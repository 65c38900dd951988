package rpcmetrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/chaoslab/chaoslab/services/internal/telemetry"
	"github.com/prometheus/client_golang/prometheus"
)

// HTTP records RED metrics of an HTTP server:
//
//	chaoslab_http_requests_total{route,code}
//	chaoslab_http_request_duration_seconds{route}
//	chaoslab_http_in_flight
//
// where route is a low-cardinality route name ("POST /v1/orders") and code the
// status code written ("201"), or "aborted" when the handler panicked before
// writing a status (for example with http.ErrAbortHandler).
type HTTP struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// NewHTTP returns an HTTP whose collectors are registered with reg.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	return &HTTP{
		requests: telemetry.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_http_requests_total",
			Help: "HTTP requests handled, by route and status code.",
		}, []string{"route", "code"})),
		duration: telemetry.Register(reg, prometheus.NewHistogramVec(histogramOpts(
			"chaoslab_http_request_duration_seconds",
			"Time to handle an HTTP request, by route.",
		), []string{"route"})),
		inFlight: telemetry.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chaoslab_http_in_flight",
			Help: "HTTP requests being handled.",
		})),
	}
}

// Middleware wraps next so that every request is recorded under the route
// name returned by route. route must return a bounded set of names (a route
// pattern, never a raw path). A nil route uses r.Pattern, which is set when
// the middleware wraps a handler registered on an http.ServeMux, or
// "unmatched".
//
// A handler that panics is recorded (with code "aborted" when it wrote no
// status) and the panic goes on up the stack.
func (h *HTTP) Middleware(route func(*http.Request) string, next http.Handler) http.Handler {
	if route == nil {
		route = patternRoute
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := route(r)
		h.inFlight.Inc()
		defer h.inFlight.Dec()
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		completed := false
		defer func() {
			code := "aborted"
			switch {
			case sw.status != 0:
				code = strconv.Itoa(sw.status)
			case completed:
				code = "200" // nothing written: net/http sends 200
			}
			observe(r.Context(), h.duration.WithLabelValues(name), time.Since(start).Seconds())
			h.requests.WithLabelValues(name, code).Inc()
		}()
		next.ServeHTTP(sw, r)
		completed = true
	})
}

// patternRoute names a request by the ServeMux pattern that matched it.
func patternRoute(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return "unmatched"
}

// statusWriter remembers the status code written through it. It implements
// http.Flusher and Unwrap, so that http.ResponseController reaches the
// underlying writer's other abilities.
type statusWriter struct {
	http.ResponseWriter
	status int // first final status written, 0 before
}

// WriteHeader records code (unless it is an informational 1xx) and sends it.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write writes b, recording the implicit 200 when no status was written.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends buffered data to the client, recording the implicit 200.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
