package faultinject

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
// application/problem+json.
func (in *Injector) AdminHandler() http.Handler {
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
	return mux
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
