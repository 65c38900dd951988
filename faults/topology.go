package faults

import (
	"slices"
	"strconv"
	"strings"
)

// The protocols a service speaks on the port its edges reach. A request
// fault fails the requests of an HTTP service with an http_status, those
// of a gRPC service with a grpc_code.
const (
	ProtocolHTTP = "http"
	ProtocolGRPC = "grpc"
)

// Topology is what a fault may name in a lab: its services and its network
// edges. Package faults knows no lab file: the harness fills a Topology
// from the lab (lab.Lab.FaultTopology) and validates faults against it
// (Spec.Validate).
type Topology struct {
	// Services are the lab's services, in the lab's order.
	Services []Service
	// Edges are the lab's network edges, "caller->callee", each carried by
	// the Toxiproxy proxy named ProxyName(edge).
	Edges []string
}

// Service is one service of a lab, as faults see it.
type Service struct {
	// Name is what faults, scenarios and metrics call the service.
	Name string
	// Protocol is ProtocolHTTP or ProtocolGRPC: it decides whether a
	// request fault fails requests with http_status or grpc_code.
	Protocol string
	// RequestFaults reports whether the service takes request faults: it
	// has a fault admin API (services/faultinject).
	RequestFaults bool
	// Methods are what a request fault may name besides "*": the full
	// gRPC methods ("/pkg.v1.Service/Method") of a gRPC service, the
	// routes ("POST /v1/items") of an HTTP service. Empty: only "*".
	Methods []string
	// Replicas is how many replicas of the service the lab runs (0 is
	// read as 1). A fault may name one of them (its replica field); one
	// that names none is on all of them.
	Replicas int
}

// replicas returns the service's replica count, at least 1.
func (s Service) replicas() int { return max(s.Replicas, 1) }

// ServiceNames returns the names of the services, in order.
func (t Topology) ServiceNames() []string {
	out := make([]string, len(t.Services))
	for i, s := range t.Services {
		out[i] = s.Name
	}
	return out
}

// Service returns the service named name.
func (t Topology) Service(name string) (Service, bool) {
	i := slices.IndexFunc(t.Services, func(s Service) bool { return s.Name == name })
	if i < 0 {
		return Service{}, false
	}
	return t.Services[i], true
}

// WithRequestFaults returns the names of the services that take request
// faults, in order.
func (t Topology) WithRequestFaults() []string {
	var out []string
	for _, s := range t.Services {
		if s.RequestFaults {
			out = append(out, s.Name)
		}
	}
	return out
}

// ProxyName returns the name of the Toxiproxy proxy of an edge:
// "api->store" is proxied by "api_to_store". An edge to a service with
// replicas has one proxy per replica (ReplicaProxyName); this is the first
// replica's.
func ProxyName(edge string) string { return strings.ReplaceAll(edge, "->", "_to_") }

// ReplicaProxyName returns the name of the proxy of an edge to the
// callee's replica: the first replica's is ProxyName(edge), replica r's
// "api_to_store-r".
func ReplicaProxyName(edge string, replica int) string {
	if replica <= 0 {
		return ProxyName(edge)
	}
	return ProxyName(edge) + "-" + strconv.Itoa(replica)
}

// InstanceName returns the name of replica r of a service that runs
// replicas replicas: the service's name when it runs one, "store-r"
// otherwise. Process control, metrics (the instance label), spans
// (service.instance.id) and the registry call a replica by it.
func InstanceName(service string, replicas, r int) string {
	if replicas <= 1 {
		return service
	}
	return service + "-" + strconv.Itoa(r)
}

// callee returns the service an edge "caller->callee" leads to.
func callee(edge string) string {
	_, to, _ := strings.Cut(edge, "->")
	return to
}
