package faultinject

import (
	"encoding/json"
	"net/http"
)

// HTTPMiddleware wraps next so that the faults apply to HTTP requests,
// matched by the route name that route returns ("POST /v1/orders"; nil uses
// r.Pattern, set when next is registered on an http.ServeMux). An error
// fault answers its status with an application/problem+json body; an abort
// closes the connection without a response (panic(http.ErrAbortHandler)); a
// latency fault cancelled by the client answers 503.
func (in *Injector) HTTPMiddleware(route func(*http.Request) string, next http.Handler) http.Handler {
	if route == nil {
		route = func(r *http.Request) string { return r.Pattern }
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := in.rules.Load()
		if s == nil {
			next.ServeHTTP(w, r)
			return
		}
		name := route(r)
		ru := s.http.pick(name, in.float)
		if ru == nil {
			next.ServeHTTP(w, r)
			return
		}
		if err := in.delay(r.Context(), name, ru); err != nil {
			writeProblem(w, problem{Status: http.StatusServiceUnavailable,
				Title: "request cancelled during an injected latency", Detail: err.Error()})
			return
		}
		switch {
		case ru.abort:
			in.note(r.Context(), name, ru, kindAbort)
			panic(http.ErrAbortHandler)
		case ru.httpStatus != 0:
			in.note(r.Context(), name, ru, kindError)
			writeProblem(w, problem{Status: ru.httpStatus, Title: "injected fault"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// problem is an RFC 9457 problem details object.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// writeProblem writes p as application/problem+json with its status.
func writeProblem(w http.ResponseWriter, p problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
