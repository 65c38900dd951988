// Package desk is the bookings system's HTTP front: it prices each booking
// with the pricing service and records it with the calendar service (gRPC,
// both), and answers the guest. It has no fault admin API.
package desk

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"example.com/bookings/internal/telemetry"
)

// Server is the desk's HTTP API.
type Server struct {
	pricing  Quoter
	calendar Calendar
	logger   *slog.Logger
	tp       trace.TracerProvider
	prop     propagation.TextMapPropagator
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewServer returns the desk over its two backends. Its metrics,
// registered with reg: bookings_http_requests_total{handler,status} and
// bookings_http_request_duration_seconds{handler}.
func NewServer(pricing Quoter, calendar Calendar, reg prometheus.Registerer, logger *slog.Logger, tp trace.TracerProvider) *Server {
	s := &Server{
		pricing: pricing, calendar: calendar, logger: logger, tp: tp, prop: telemetry.Propagator(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookings_http_requests_total",
			Help: "HTTP requests answered by the desk, by handler and status code.",
		}, []string{"handler", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bookings_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by handler.",
			Buckets: telemetry.LatencyBuckets,
		}, []string{"handler"}),
	}
	reg.MustRegister(s.requests, s.duration)
	return s
}

// Handler routes the API:
//
//	POST /v1/bookings       book a stay (Idempotency-Key header required): 201, or 200 when the key was booked before
//	GET  /v1/bookings/{id}  one booking
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.route(mux, "POST /v1/bookings", s.book)
	s.route(mux, "GET /v1/bookings/{id}", s.get)
	return mux
}

// route registers h under pattern, traced and measured under that name.
func (s *Server) route(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	measured := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			s.requests.WithLabelValues(pattern, strconv.Itoa(rec.status)).Inc()
			s.duration.WithLabelValues(pattern).Observe(time.Since(start).Seconds())
		}()
		h(rec, r)
	})
	mux.Handle(pattern, otelhttp.NewHandler(measured, pattern,
		otelhttp.WithTracerProvider(s.tp), otelhttp.WithPropagators(s.prop)))
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// BookRequest is the body of POST /v1/bookings.
type BookRequest struct {
	Guest  string `json:"guest"`
	Room   string `json:"room"`
	Nights int32  `json:"nights"`
}

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

func (s *Server) book(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	if !keyPattern.MatchString(key) {
		writeProblem(w, http.StatusBadRequest, "missing or invalid Idempotency-Key",
			"send an Idempotency-Key header of 1-128 letters, digits, _ or -, unique per booking")
		return
	}
	var req BookRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeProblem(w, http.StatusBadRequest, "invalid booking", "reading the JSON body: "+err.Error())
		return
	}
	if req.Guest == "" {
		writeProblem(w, http.StatusBadRequest, "invalid booking", `"guest" is required`)
		return
	}
	ctx := r.Context()
	q, err := s.pricing.Quote(ctx, req.Room, req.Nights)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := s.calendar.Book(ctx, BookInput{
		Key: key, Guest: req.Guest, Room: req.Room, Nights: req.Nights, TotalCents: q.TotalCents, QuoteID: q.ID,
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	code := http.StatusCreated
	if b.Replayed {
		code = http.StatusOK
	}
	w.Header().Set("Location", "/v1/bookings/"+b.ID)
	writeJSON(w, code, b)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	b, err := s.calendar.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// fail answers err: the one place that maps backend errors to HTTP.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, title := http.StatusServiceUnavailable, "a backend is unavailable"
	switch status.Code(err) {
	case codes.InvalidArgument:
		code, title = http.StatusBadRequest, "invalid booking"
	case codes.NotFound:
		code, title = http.StatusNotFound, "no such booking"
	case codes.DeadlineExceeded:
		code, title = http.StatusGatewayTimeout, "a backend did not answer in time"
	}
	if code >= 500 {
		var be *BackendError
		backend := "?"
		if errors.As(err, &be) {
			backend = be.Backend
		}
		s.logger.WarnContext(r.Context(), "request failed",
			append([]any{"route", r.Pattern, "backend", backend, "status", code, "error", err.Error()}, telemetry.LogAttrs(r.Context())...)...)
	}
	writeProblem(w, code, title, err.Error())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeProblem answers an RFC 9457 problem.
func writeProblem(w http.ResponseWriter, code int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": title, "status": code, "detail": detail})
}
