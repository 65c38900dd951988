package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/services/faultinject"
)

// KindRequest is the kind of a RequestFault.
const KindRequest = "request"

// RequestFault is an in-service fault on the requests of one service, set
// through the service's admin API: a request that matches Method gets, with
// probability Probability, an added Latency, then an error (GRPCCode or
// HTTPStatus) or an aborted connection (Abort). It mirrors
// faultinject.Fault, plus the Service it is set on.
type RequestFault struct {
	// Service is the service whose admin API takes the fault, one of the
	// lab's services that take request faults (Service.RequestFaults).
	Service string `json:"service"`
	// Method is one of the service's methods (Service.Methods), or "*"
	// for every request.
	Method string `json:"method"`
	// Latency delays the matching requests.
	Latency time.Duration `json:"latency,omitempty"`
	// GRPCCode is the canonical name of the gRPC status the requests fail
	// with ("UNAVAILABLE"); gRPC services only.
	GRPCCode string `json:"grpc_code,omitempty"`
	// HTTPStatus is the 4xx or 5xx status the requests fail with; HTTP
	// services only.
	HTTPStatus int `json:"http_status,omitempty"`
	// Abort closes the connection without a response.
	Abort bool `json:"abort,omitempty"`
	// Probability is the chance, in (0, 1], that a matching request is hit;
	// scenario files default to 1.
	Probability float64 `json:"probability"`
	// Seed, when not 0, makes the service draw the probability from a
	// generator of its own seeded with it (faultinject.Fault.Seed), so a
	// run can be replayed.
	Seed uint64 `json:"seed,omitempty"`
}

// ToFaultinject returns the fault as the service's admin API takes it.
func (r RequestFault) ToFaultinject() faultinject.Fault {
	return faultinject.Fault{
		Method:      r.Method,
		Latency:     faultinject.Duration(r.Latency),
		GRPCCode:    r.GRPCCode,
		HTTPStatus:  r.HTTPStatus,
		Abort:       r.Abort,
		Probability: r.Probability,
		Seed:        r.Seed,
	}
}

// String describes the fault in one stable line.
func (r RequestFault) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "request %s %s", r.Service, r.Method)
	if r.Latency != 0 {
		fmt.Fprintf(&b, " latency=%s", r.Latency)
	}
	if r.GRPCCode != "" {
		fmt.Fprintf(&b, " grpc_code=%s", strings.ToUpper(r.GRPCCode))
	}
	if r.HTTPStatus != 0 {
		fmt.Fprintf(&b, " http_status=%d", r.HTTPStatus)
	}
	if r.Abort {
		b.WriteString(" abort")
	}
	fmt.Fprintf(&b, " probability=%s", strconv.FormatFloat(r.Probability, 'g', -1, 64))
	if r.Seed != 0 {
		fmt.Fprintf(&b, " seed=%d", r.Seed)
	}
	return b.String()
}

// Kind returns KindRequest.
func (RequestFault) Kind() string { return KindRequest }

// Target returns the service.
func (r RequestFault) Target() string { return r.Service }

// Occupies returns no slot: request faults stack.
func (RequestFault) Occupies() (slot, what string) { return "", "" }

func (r RequestFault) summary() string {
	return fmt.Sprintf("request fault %s on %s", r.Method, r.Service)
}

// problems returns everything wrong with r: the service must be one of
// t's that take request faults, the method one of its methods, the status
// of its protocol (grpc_code for gRPC, http_status for HTTP), and
// faultinject.Fault.Validate must accept the rest. A nil t checks r's own
// values only.
func (r RequestFault) problems(t *Topology) []FieldError {
	p := problems{prefix: KindRequest}
	known := checkService(&p, t, r.Service)
	var svc Service
	if t != nil && known {
		svc, _ = t.Service(r.Service)
		if !svc.RequestFaults {
			p.add("service", t.WithRequestFaults(), "%s takes no request faults: it has no fault admin API", r.Service)
			known = false
		}
	}
	if t != nil && known {
		allowed := append([]string{faultinject.Wildcard}, svc.Methods...)
		switch {
		case r.Method == "":
			p.add("method", allowed, "method is missing: name the method or route to hit, or \"*\" for all")
		case !slices.Contains(allowed, r.Method):
			p.add("method", allowed, "%s has no method %q", r.Service, r.Method)
		}
		switch {
		case svc.Protocol == ProtocolHTTP && r.GRPCCode != "":
			p.add("grpc_code", nil, "grpc_code applies to gRPC services; %s serves HTTP: use http_status", r.Service)
		case svc.Protocol == ProtocolGRPC && r.HTTPStatus != 0:
			p.add("http_status", nil, "http_status applies to HTTP services; %s serves gRPC: use grpc_code", r.Service)
		}
	}
	if !(r.Probability > 0 && r.Probability <= 1) {
		p.add("probability", nil, "probability %s: must be in (0, 1], the fraction of matching requests hit (1 for all)",
			strconv.FormatFloat(r.Probability, 'g', -1, 64))
	}
	reported := make(map[string]bool)
	for _, e := range p.list {
		reported[e.Field] = true
	}
	fi := r.ToFaultinject()
	if reported[KindRequest+".method"] || t != nil && !known {
		// The method is wrong already, or it is the methods of a service
		// the fault cannot be on: check the rest alone.
		fi.Method = faultinject.Wildcard
	}
	for _, msg := range faultinjectProblems(fi) {
		field := ""
		// faultinject's messages start with the name of their field.
		for _, f := range []string{"method", "latency", "grpc_code", "http_status", "abort", "probability"} {
			if strings.HasPrefix(msg, f+" ") || strings.HasPrefix(msg, f+":") {
				field = f
				break
			}
		}
		if field == "" || !reported[KindRequest+"."+field] {
			p.add(field, nil, "%s", msg)
		}
	}
	return p.list
}

// faultinjectProblems returns the messages of f.Validate, one per problem.
func faultinjectProblems(f faultinject.Fault) []string {
	err := f.Validate()
	if err == nil {
		return nil
	}
	// Validate wraps the errors.Join of its problems.
	if joined, ok := errors.Unwrap(err).(interface{ Unwrap() []error }); ok {
		msgs := make([]string, 0, len(joined.Unwrap()))
		for _, e := range joined.Unwrap() {
			msgs = append(msgs, e.Error())
		}
		return msgs
	}
	return []string{err.Error()}
}

// capable checks that the service has an admin API.
func (r RequestFault) capable(in *Injector) error {
	_, err := in.admin(r.Service)
	return err
}

// ErrNoAdminAPI is the error of a request fault on a service without a
// fault admin API, or in an Env without AdminURL.
var ErrNoAdminAPI = errors.New("no admin API in this lab: request faults cannot be applied")

// handle is the service and the id of the in-service fault.
func (r RequestFault) handle(id string) map[string]string {
	return map[string]string{HandleService: r.Service, HandleFaultID: NamePrefix + id}
}

// apply sets the fault through the service's admin API: through each
// replica's, for a service with replicas.
func (r RequestFault) apply(ctx context.Context, in *Injector, a Applied) error {
	f := r.ToFaultinject()
	f.ID = a.Handle[HandleFaultID]
	for _, inst := range in.instances(r.Service) {
		c, err := in.admin(inst)
		if err != nil {
			return err
		}
		if _, err := c.Set(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// undo deletes the in-service fault, from every replica.
func (r RequestFault) undo(ctx context.Context, in *Injector, a Applied) error {
	id := a.Handle[HandleFaultID]
	if id == "" {
		id = NamePrefix + a.ID
	}
	var errs []error
	for _, inst := range in.instances(r.Service) {
		errs = append(errs, in.deleteRequestFault(ctx, inst, id))
	}
	return errors.Join(errs...)
}

// sweep deletes every in-service fault whose id starts with chaoslab- on
// every service of the Env that has an admin API.
func (RequestFault) sweep(ctx context.Context, in *Injector) error {
	if in.env.AdminURL == nil {
		return nil
	}
	var errs []error
	var all []string
	for _, svc := range in.env.Services {
		all = append(all, in.instances(svc)...)
	}
	for _, svc := range all {
		c, err := in.admin(svc)
		if errors.Is(err, ErrNoAdminAPI) {
			continue // the service takes no request faults
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		list, err := c.List(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("listing the faults of %s: %w", svc, err))
			continue
		}
		for _, f := range list {
			if strings.HasPrefix(f.ID, NamePrefix) {
				errs = append(errs, in.deleteRequestFault(ctx, svc, f.ID))
			}
		}
	}
	return errors.Join(errs...)
}

// deleteRequestFault deletes the in-service fault id; one that is not there
// is not an error.
func (in *Injector) deleteRequestFault(ctx context.Context, service, id string) error {
	c, err := in.admin(service)
	if err != nil {
		return err
	}
	derr := c.Delete(ctx, id)
	if derr == nil {
		return nil
	}
	// Delete fails on an unknown id: check that it is gone indeed.
	list, lerr := c.List(ctx)
	if lerr != nil {
		return errors.Join(derr, lerr)
	}
	if slices.ContainsFunc(list, func(f faultinject.Fault) bool { return f.ID == id }) {
		return derr
	}
	return nil
}

// admin returns a client of service's admin API.
func (in *Injector) admin(service string) (*faultinject.Client, error) {
	if in.env.AdminURL == nil {
		return nil, ErrNoAdminAPI
	}
	u, err := in.env.AdminURL(service)
	if err != nil {
		return nil, fmt.Errorf("finding the admin API of %s: %w", service, err)
	}
	return faultinject.NewClient(u, in.env.HTTP), nil
}
