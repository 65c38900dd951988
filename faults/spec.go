// Package faults is chaoslab's fault model: what a fault is, independent of
// how it is injected. A Spec is exactly one of a network fault (a Toxiproxy
// toxic or a disabled proxy on one edge of the lab), a process fault (kill,
// pause or restart of one service), a request fault (errors, latency or
// aborts inside one service, set through its admin API) or a container
// fault (stop, kill, pause or network disconnect of one service's
// container; the compose stack only).
//
// Each kind is a type of its own behind one interface, Fault, in a file of
// its own; Spec is their envelope. Specs are plain values: scenarios hold
// them, the runner hands them to the injectors, and the ledger records them
// (String is stable, for logs and the journal). Validate reports every
// problem with the field it concerns, so that a scenario file can point at
// the line at fault.
//
// The package imports nothing of the harness and knows no system under
// test: a Topology (the services, their protocols and request-fault
// methods, the edges) is what faults are validated against, and Env holds
// the lab's services and the small interfaces the injectors need of it
// (Proxies, Processes, Containers, the admin APIs). The harness builds
// both from the lab (lab.Lab.FaultTopology, stack.FaultEnv).
package faults

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Fault is one fault of one kind. Each kind is a type in a file of its
// own, the way Toxiproxy has one file per toxic: NetworkFault (network.go),
// ProcessFault (process.go), RequestFault (request.go) and ContainerFault
// (container.go). Spec is the envelope that scenario files and the ledger
// carry; Spec.Fault returns the fault it holds.
//
// The unexported methods are how the Injector checks, applies and removes
// a fault, so the kinds of fault are defined in this package.
type Fault interface {
	// Kind returns the name of the fault's kind, as scenario files and
	// Spec's fields name it: KindNetwork, KindProcess, ….
	Kind() string
	// Target returns what the fault hits: an edge ("api->store") or a
	// service ("store").
	Target() string
	// String describes the fault in one stable line, for logs and the
	// journal; it starts with Kind.
	String() string
	// Occupies returns what the fault holds while its phase lasts that no
	// other fault of the phase may hold too (two such faults would undo
	// each other, or one would hide the other), and how to name the fault
	// in it when they clash. slot is "" for faults that stack.
	Occupies() (slot, what string)

	// summary describes the fault for a person in a few words (see
	// Applied.Summary).
	summary() string
	// problems returns everything wrong with the fault; each field starts
	// with Kind. With a nil topology it checks the fault's own values
	// only, not the names of the lab it targets.
	problems(t *Topology) []FieldError
	// capable returns an error when in's Env lacks what the fault needs.
	capable(in *Injector) error
	// handle returns what removing the fault applied as id needs
	// (Applied.Handle).
	handle(id string) map[string]string
	// apply puts the fault a in place.
	apply(ctx context.Context, in *Injector, a Applied) error
	// undo takes the fault a away. Undoing a fault that is gone, or that
	// never acted (a crash between the ledger's intent and the action),
	// changes nothing.
	undo(ctx context.Context, in *Injector, a Applied) error
}

// sweeper is an optional ability of a kind of fault: finding in the lab
// whatever faults of the kind chaoslab left there that the ledger does not
// know of, and removing them (see RollbackPending). The zero fault of the
// kind carries it.
type sweeper interface {
	sweep(ctx context.Context, in *Injector) error
}

// Spec is one fault, as scenario files and the ledger hold it: exactly one
// of its fields is set. Its JSON is the ledger's: keep it as it is, so that
// a ledger a crashed runner left still rolls back.
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

// kind is one kind of fault in the envelope: its zero fault (its name, its
// sweep) and the field of Spec that holds it.
type kind struct {
	zero Fault
	get  func(Spec) Fault
}

// field is the kind whose faults are F, held in a Spec at get(s).
func field[F Fault](get func(Spec) *F) kind {
	var zero F
	return kind{zero: zero, get: func(s Spec) Fault {
		if f := get(s); f != nil {
			return *f
		}
		return nil
	}}
}

// envelope returns the kinds of fault, in the order scenario files list
// them. A new kind of fault is a file of its own with a type that
// implements Fault, plus its field in Spec and its line here.
func envelope() []kind {
	return []kind{
		field(func(s Spec) *NetworkFault { return s.Network }),
		field(func(s Spec) *ProcessFault { return s.Process }),
		field(func(s Spec) *RequestFault { return s.Request }),
		field(func(s Spec) *ContainerFault { return s.Container }),
	}
}

// Kinds returns the kinds of fault, in the order a scenario file lists them.
func Kinds() []string {
	kinds := envelope()
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.zero.Kind()
	}
	return names
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

// set returns the faults s holds, in the order of Kinds.
func (s Spec) set() []Fault {
	var out []Fault
	for _, k := range envelope() {
		if f := k.get(s); f != nil {
			out = append(out, f)
		}
	}
	return out
}

// Fault returns the fault s holds, or nil when s holds none or several
// (see Problems).
func (s Spec) Fault() Fault {
	if set := s.set(); len(set) == 1 {
		return set[0]
	}
	return nil
}

// Kind returns the kind of fault s is: KindNetwork, KindProcess,
// KindRequest or KindContainer, or "" when s is not one fault.
func (s Spec) Kind() string {
	if f := s.Fault(); f != nil {
		return f.Kind()
	}
	return ""
}

// Target returns what the fault hits: the edge of a network fault
// ("api->store") or the service of a process, request or container fault
// ("store"); "" when s is not one fault.
func (s Spec) Target() string {
	if f := s.Fault(); f != nil {
		return f.Target()
	}
	return ""
}

// String describes the fault in one stable line, for logs and the journal:
//
//	network api->store latency stream=downstream toxicity=1 jitter=50 latency=200
//	process store kill restart_after=3s
//	request ledger /ledger.v1.LedgerService/Debit grpc_code=UNAVAILABLE probability=0.1
//	container ledger disconnect
func (s Spec) String() string {
	f := s.Fault()
	if f == nil {
		return fmt.Sprintf("invalid fault: %d of %s set", len(s.set()), strings.Join(Kinds(), ", "))
	}
	return f.String()
}

// Problems returns everything wrong with s in a lab of topology t (the
// edge or service it targets, the request fault's method and status), each
// naming its field; nil when s is valid.
func (s Spec) Problems(t Topology) []FieldError { return s.problems(&t) }

// problems is Problems; a nil t checks the fault's own values only.
func (s Spec) problems(t *Topology) []FieldError {
	switch len(s.set()) {
	case 0:
		return []FieldError{{Msg: "the fault is empty: set one of " + oneOf(Kinds()), Allowed: Kinds()}}
	case 1:
		return s.Fault().problems(t)
	default:
		return []FieldError{{Msg: "set only one of " + oneOf(Kinds()) + " per fault: list them as separate faults", Allowed: Kinds()}}
	}
}

// oneOf lists choices for a sentence: "a, b or c".
func oneOf(choices []string) string {
	if len(choices) < 2 {
		return strings.Join(choices, "")
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}

// Validate reports everything wrong with s in a lab of topology t: the
// errors it joins are FieldErrors, as Problems returns them.
func (s Spec) Validate(t Topology) error { return joinProblems(s.Problems(t)) }

// joinProblems joins list into one error; nil for none.
func joinProblems(list []FieldError) error {
	errs := make([]error, len(list))
	for i, p := range list {
		errs[i] = p
	}
	return errors.Join(errs...)
}
