// Package faultinject injects request-level faults inside a chaoslab
// service: latency, errors and aborted connections, on chosen gRPC methods or
// HTTP routes, with a probability. Faults are set at run time through an
// admin HTTP API (AdminHandler), which Client drives from the fault model and
// the CLI.
//
// With no fault set, the interceptor and the middleware cost one atomic load.
package faultinject

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
)

// Wildcard is the Method of a fault that applies to every request.
const Wildcard = "*"

// maxLatency bounds the latency of a fault, to catch unit typos.
const maxLatency = time.Hour

// Fault is one fault rule. A request that matches Method gets, with
// probability Probability:
//   - latency: a delay of Latency before it goes on (or fails);
//   - error: the status GRPCCode (gRPC) or HTTPStatus (HTTP) instead of the
//     handler's answer, after Latency if set;
//   - abort: its connection closed without any response, after Latency if
//     set.
type Fault struct {
	// ID names the fault; Set assigns "f-<n>" when it is empty.
	ID string `json:"id"`
	// Method is a full gRPC method ("/payments.v1.PaymentsService/Charge"),
	// an HTTP route ("POST /v1/orders"), or "*" for every request.
	Method string `json:"method"`
	// Latency delays the request.
	Latency Duration `json:"latency,omitempty"`
	// GRPCCode is the canonical name of the status code a gRPC request fails
	// with ("UNAVAILABLE"), case-insensitive.
	GRPCCode string `json:"grpc_code,omitempty"`
	// HTTPStatus is the status (4xx or 5xx) an HTTP request fails with.
	HTTPStatus int `json:"http_status,omitempty"`
	// Abort closes the connection without a response.
	Abort bool `json:"abort,omitempty"`
	// Probability is the chance, in (0, 1], that a matching request gets the
	// fault; 0 means 1.
	Probability float64 `json:"probability,omitempty"`
	// Seed, when not 0, makes the rule draw its probability from its own
	// generator seeded with Seed, from the moment the rule is set: the
	// sequence of hits and misses is the same in every run (which requests
	// get them still depends on their order of arrival). 0 draws from the
	// injector's source.
	Seed uint64 `json:"seed,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("200ms", "1.5s").
type Duration time.Duration

// String returns the duration as a Go duration string.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as a string, "200ms".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string like \"200ms\" or \"1.5s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration string like \"200ms\" or \"1.5s\", got %q", s)
	}
	*d = Duration(v)
	return nil
}

// Validate reports everything wrong with f, each with what to do instead.
func (f Fault) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if f.ID != "" && !validID(f.ID) {
		bad("id %q: use 1 to 64 letters, digits, '.', '_' or '-'", f.ID)
	}
	isGRPC := strings.HasPrefix(f.Method, "/")
	isHTTP := !isGRPC && f.Method != Wildcard
	switch {
	case f.Method == "":
		bad(`method is missing: give a full gRPC method ("/payments.v1.PaymentsService/Charge"), an HTTP route ("POST /v1/orders") or "*"`)
	case isGRPC && !isGRPCMethod(f.Method):
		bad(`method %q is not a full gRPC method: write "/<package>.<Service>/<Method>", like "/payments.v1.PaymentsService/Charge"`, f.Method)
	case isHTTP && !isHTTPRoute(f.Method):
		bad(`method %q is not an HTTP route: write "<VERB> <path pattern>", like "POST /v1/orders", or "*"`, f.Method)
	}
	if f.Latency < 0 || time.Duration(f.Latency) > maxLatency {
		bad("latency %s: must be from 0 to %s", f.Latency, maxLatency)
	}
	if f.GRPCCode != "" {
		code, err := parseCode(f.GRPCCode)
		switch {
		case err != nil:
			bad("grpc_code %q: not a gRPC status code name; use a canonical name like UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL or RESOURCE_EXHAUSTED", f.GRPCCode)
		case code == codes.OK:
			bad("grpc_code OK is not an error: use an error code like UNAVAILABLE, or only a latency")
		case f.Method != "" && isHTTP:
			bad("grpc_code applies to gRPC methods, not to the HTTP route %q: use http_status", f.Method)
		}
	}
	if f.HTTPStatus != 0 {
		switch {
		case f.HTTPStatus < 400 || f.HTTPStatus > 599:
			bad("http_status %d: must be an error status, 4xx or 5xx", f.HTTPStatus)
		case isGRPC:
			bad("http_status applies to HTTP routes, not to the gRPC method %q: use grpc_code", f.Method)
		}
	}
	if f.Abort && (f.GRPCCode != "" || f.HTTPStatus != 0) {
		bad("abort closes the connection without any response: do not combine it with grpc_code or http_status")
	}
	if f.Probability < 0 || f.Probability > 1 {
		bad("probability %g: must be in (0, 1], or 0 for always", f.Probability)
	}
	if f.Latency == 0 && f.GRPCCode == "" && f.HTTPStatus == 0 && !f.Abort {
		bad("the fault does nothing: set a latency, a grpc_code, an http_status or abort")
	}
	if err := errors.Join(errs...); err != nil {
		name := f.ID
		if name == "" {
			name = f.Method
		}
		return fmt.Errorf("invalid fault %q: %w", name, err)
	}
	return nil
}

// parseCode parses the canonical name of a gRPC status code,
// case-insensitively.
func parseCode(name string) (codes.Code, error) {
	var c codes.Code
	if err := c.UnmarshalJSON([]byte(`"` + strings.ToUpper(name) + `"`)); err != nil {
		return 0, fmt.Errorf("unknown gRPC status code %q", name)
	}
	return c, nil
}

// validID reports whether id may name a fault: it is a URL path segment.
func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !isAlnum(r) && r != '.' && r != '_' && r != '-' {
			return false
		}
	}
	return true
}

// isGRPCMethod reports whether m is a full gRPC method name,
// "/<package>.<Service>/<Method>".
func isGRPCMethod(m string) bool {
	service, method, ok := strings.Cut(strings.TrimPrefix(m, "/"), "/")
	if !ok || service == "" || method == "" || !strings.HasPrefix(m, "/") {
		return false
	}
	for _, r := range service {
		if !isAlnum(r) && r != '_' && r != '.' {
			return false
		}
	}
	for _, r := range method {
		if !isAlnum(r) && r != '_' {
			return false
		}
	}
	return true
}

// isHTTPRoute reports whether m is an HTTP route name, "<VERB> /<path>".
func isHTTPRoute(m string) bool {
	verb, path, ok := strings.Cut(m, " ")
	if !ok || verb == "" || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n") {
		return false
	}
	for _, r := range verb {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// isAlnum reports whether r is an ASCII letter or digit.
func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}
