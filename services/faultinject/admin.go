package faultinject

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxBodyBytes bounds the body of an admin request.
const maxBodyBytes = 1 << 20

// AdminHandler returns the admin HTTP API of the faults:
//
//	GET    /faults       the faults set, a JSON array
//	POST   /faults       set a fault (JSON Fault): 201 with the stored fault
//	GET    /faults/{id}  one fault; 404 if unknown
//	PUT    /faults/{id}  set the fault with that ID: 201 if new, else 200
//	DELETE /faults/{id}  remove a fault: 204; 404 if unknown
//	DELETE /faults       remove every fault: 204
//
// Bodies with unknown fields or invalid faults get 400. Errors are
// application/problem+json. With WithBearerToken, every request must carry
// "Authorization: Bearer <token>", else 401.
func (in *Injector) AdminHandler(opts ...AdminOption) http.Handler {
	var cfg adminConfig
	for _, o := range opts {
		o(&cfg)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, _ *http.Request) {
		faults := in.List()
		if faults == nil {
			faults = []Fault{} // [], not null
		}
		writeJSON(w, http.StatusOK, faults)
	})
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		f, ok := decodeFault(w, r)
		if !ok {
			return
		}
		stored, _, err := in.set(f)
		if err != nil {
			writeProblem(w, problem{Status: http.StatusBadRequest, Title: "invalid fault", Detail: err.Error()})
			return
		}
		w.Header().Set("Location", "/faults/"+stored.ID)
		writeJSON(w, http.StatusCreated, stored)
	})
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, _ *http.Request) {
		in.Clear()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		for _, f := range in.List() {
			if f.ID == id {
				writeJSON(w, http.StatusOK, f)
				return
			}
		}
		notFound(w, id)
	})
	mux.HandleFunc("PUT /faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		f, ok := decodeFault(w, r)
		if !ok {
			return
		}
		id := r.PathValue("id")
		if f.ID != "" && f.ID != id {
			writeProblem(w, problem{Status: http.StatusBadRequest, Title: "invalid fault",
				Detail: fmt.Sprintf("the body's id %q differs from the path's %q: leave it out or make them equal", f.ID, id)})
			return
		}
		f.ID = id
		stored, created, err := in.set(f)
		if err != nil {
			writeProblem(w, problem{Status: http.StatusBadRequest, Title: "invalid fault", Detail: err.Error()})
			return
		}
		code := http.StatusOK
		if created {
			code = http.StatusCreated
		}
		writeJSON(w, code, stored)
	})
	mux.HandleFunc("DELETE /faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !in.Delete(id) {
			notFound(w, id)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	if cfg.token == "" {
		return mux
	}
	return requireBearer(cfg.token, mux)
}

// AdminTokenFlag is the flag a service takes the admin API's bearer token
// with (-admin-token; empty: no token required). In a cluster the
// manifests pass it to every service with a fault admin API.
const AdminTokenFlag = "admin-token"

// AdminOption configures AdminHandler.
type AdminOption func(*adminConfig)

type adminConfig struct{ token string }

// WithBearerToken makes the admin API require token as a bearer token
// (compared in constant time); an empty token requires none.
func WithBearerToken(token string) AdminOption {
	return func(c *adminConfig) { c.token = token }
}

// requireBearer answers 401 to a request without "Bearer <token>".
func requireBearer(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearer(r.Header.Get("Authorization"))
		// Hashes have one length, so the comparison takes the same time
		// whatever the length of the token sent.
		h := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(h[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="faults"`)
			writeProblem(w, problem{Status: http.StatusUnauthorized, Title: "unauthorized",
				Detail: "the fault admin API requires Authorization: Bearer <admin token>"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearer is the token of an Authorization header "Bearer <token>".
func bearer(h string) (string, bool) {
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	return h[len(prefix):], true
}

// decodeFault reads the Fault in the body of r, answering 400 when it
// cannot.
func decodeFault(w http.ResponseWriter, r *http.Request) (Fault, bool) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	var f Fault
	err := dec.Decode(&f)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		writeProblem(w, problem{Status: http.StatusBadRequest, Title: "invalid fault",
			Detail: "reading the JSON fault: " + err.Error()})
		return Fault{}, false
	}
	return f, true
}

// notFound answers 404 for the fault id.
func notFound(w http.ResponseWriter, id string) {
	writeProblem(w, problem{Status: http.StatusNotFound, Title: "no such fault",
		Detail: fmt.Sprintf("no fault has the id %q: GET /faults lists them", id)})
}

// writeJSON writes v as JSON with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
