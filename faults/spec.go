// Package faults is chaoslab's fault model: what a fault is, independent of
// how it is injected. A Spec is exactly one of a network fault (a Toxiproxy
// toxic or a disabled proxy on one edge of the lab), a process fault (kill,
// pause or restart of one service), a request fault (errors, latency or
// aborts inside one service, set through its admin API) or a container
// fault (stop, kill, pause or network disconnect of one service's
// container; the compose stack only).
//
// Specs are plain values: scenarios hold them, the runner hands them to the
// injectors, and the ledger records them (String is stable, for logs and
// the journal). Validate reports every problem with the field it concerns,
// so that a scenario file can point at the line at fault.
package faults

import (
	"errors"
	"fmt"
	"strings"
)

// The kinds of fault, as Kind returns them and scenario files name them.
const (
	KindNetwork   = "network"
	KindProcess   = "process"
	KindRequest   = "request"
	KindContainer = "container"
)

// Kinds returns the kinds of fault, in the order a scenario file lists them.
func Kinds() []string { return []string{KindNetwork, KindProcess, KindRequest, KindContainer} }

// Spec is one fault: exactly one of its fields is set.
type Spec struct {
	// Network is a fault on a network edge, through Toxiproxy.
	Network *NetworkFault `json:"network,omitempty"`
	// Process is a fault on a service process: kill, pause or restart.
	Process *ProcessFault `json:"process,omitempty"`
	// Request is an in-service fault on the requests of one service.
	Request *RequestFault `json:"request,omitempty"`
	// Container is a fault on a service's container: stop, kill, pause or
	// disconnect. Only a lab of containers (the compose stack) applies it.
	Container *ContainerFault `json:"container,omitempty"`
}

// FieldError is one problem with one field of a Spec.
type FieldError struct {
	// Field is the path of the field from the Spec, in the names of the
	// scenario format: "network.attributes.jitter", "process.service".
	// Empty: the problem is with the Spec as a whole.
	Field string
	// Msg says what is wrong and what to do.
	Msg string
	// Allowed lists the values the field may take, when it is a choice.
	Allowed []string
}

// Error returns "field: msg; allowed: a, b".
func (e FieldError) Error() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if len(e.Allowed) > 0 {
		b.WriteString("; allowed: ")
		b.WriteString(strings.Join(e.Allowed, ", "))
	}
	return b.String()
}

// problems collects FieldErrors under a field prefix.
type problems struct {
	prefix string
	list   []FieldError
}

// add records a problem with field (relative to the prefix; empty for the
// fault itself).
func (p *problems) add(field string, allowed []string, format string, args ...any) {
	path := p.prefix
	if field != "" {
		path += "." + field
	}
	p.list = append(p.list, FieldError{Field: path, Msg: fmt.Sprintf(format, args...), Allowed: allowed})
}

// Kind returns the kind of fault s is: KindNetwork, KindProcess,
// KindRequest or KindContainer, or "" when no field is set.
func (s Spec) Kind() string {
	switch {
	case s.Network != nil:
		return KindNetwork
	case s.Process != nil:
		return KindProcess
	case s.Request != nil:
		return KindRequest
	case s.Container != nil:
		return KindContainer
	}
	return ""
}

// Target returns what the fault hits: the edge of a network fault
// ("orders->payments") or the service of a process, request or container
// fault ("orders").
func (s Spec) Target() string {
	switch {
	case s.Network != nil:
		return s.Network.Edge
	case s.Process != nil:
		return s.Process.Service
	case s.Request != nil:
		return s.Request.Service
	case s.Container != nil:
		return s.Container.Service
	}
	return ""
}

// String describes the fault in one stable line, for logs and the journal:
//
//	network orders->payments latency stream=downstream toxicity=1 jitter=50 latency=200
//	process orders kill restart_after=3s
//	request payments /payments.v1.PaymentsService/Charge grpc_code=UNAVAILABLE probability=0.1
//	container payments disconnect
func (s Spec) String() string {
	if n := s.set(); n != 1 {
		return fmt.Sprintf("invalid fault: %d of %s set", n, strings.Join(Kinds(), ", "))
	}
	switch {
	case s.Network != nil:
		return s.Network.String()
	case s.Process != nil:
		return s.Process.String()
	case s.Request != nil:
		return s.Request.String()
	default:
		return s.Container.String()
	}
}

// set returns how many of the kinds are set.
func (s Spec) set() int {
	n := 0
	for _, ok := range []bool{s.Network != nil, s.Process != nil, s.Request != nil, s.Container != nil} {
		if ok {
			n++
		}
	}
	return n
}

// Problems returns everything wrong with s, each naming its field; nil when
// s is valid.
func (s Spec) Problems() []FieldError {
	switch s.set() {
	case 0:
		return []FieldError{{Msg: "the fault is empty: set one of network, process, request or container", Allowed: Kinds()}}
	case 1:
	default:
		return []FieldError{{Msg: "set only one of network, process, request or container per fault: list them as separate faults", Allowed: Kinds()}}
	}
	switch {
	case s.Network != nil:
		return s.Network.problems()
	case s.Process != nil:
		return s.Process.problems()
	case s.Request != nil:
		return s.Request.problems()
	default:
		return s.Container.problems()
	}
}

// Validate reports everything wrong with s: the errors it joins are
// FieldErrors, as Problems returns them.
func (s Spec) Validate() error {
	list := s.Problems()
	errs := make([]error, len(list))
	for i, p := range list {
		errs[i] = p
	}
	return errors.Join(errs...)
}
