package shipping

import (
	"context"
	"encoding/json"
	"net/http"
)

// Server is shipping's HTTP API, what the lab's invariants and settle
// probe read:
//
//	GET /v1/shipments  every shipment: {"shipments": [...]}
//	GET /v1/consumer   the consumer's lag: {"pending":…, "ack_pending":…, "redelivered":…}
type Server struct {
	mux *http.ServeMux
}

type shipmentLister interface {
	List(ctx context.Context) ([]Shipment, error)
}

type lagReader interface {
	Lag(ctx context.Context) (Lag, error)
}

// NewServer returns the API over store and consumer.
func NewServer(store shipmentLister, consumer lagReader) *Server {
	s := &Server{mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /v1/shipments", func(w http.ResponseWriter, r *http.Request) {
		list, err := store.List(r.Context())
		if err != nil {
			problem(w, http.StatusInternalServerError, "listing shipments", err)
			return
		}
		writeJSON(w, map[string]any{"shipments": list})
	})
	s.mux.HandleFunc("GET /v1/consumer", func(w http.ResponseWriter, r *http.Request) {
		lag, err := consumer.Lag(r.Context())
		if err != nil {
			problem(w, http.StatusServiceUnavailable, "reading the consumer's lag", err)
			return
		}
		writeJSON(w, lag)
	})
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Route names a request's route for metrics, spans and faults.
func (s *Server) Route(r *http.Request) string {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		return pattern
	}
	return "unmatched"
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// problem writes an application/problem+json error.
func problem(w http.ResponseWriter, status int, title string, err error) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": title, "status": status, "detail": err.Error()})
}
