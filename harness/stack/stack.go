// Package stack is the harness's view of a running lab: where its endpoints
// are (the services, Toxiproxy, Prometheus, Jaeger) and how to control the
// services' processes. The local stack (package local) runs everything as
// processes on 127.0.0.1; other stacks (compose, remote) implement the same
// interface.
package stack

import (
	"maps"
	"slices"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
)

// Service is where one service of a lab listens, as the harness reaches
// it (its first replica, directly, not through a proxy).
type Service struct {
	// Protocol is what the service speaks on Addr: "http" or "grpc".
	Protocol string `json:"protocol,omitempty"`
	// Addr is the address its edges' proxies forward to, host:port.
	Addr string `json:"addr"`
	// MetricsURL is its Prometheus metrics endpoint ("" when it has none).
	MetricsURL string `json:"metrics_url"`
	// ReadyURL is its readiness probe (Probe: http(s) or grpc://).
	ReadyURL string `json:"ready_url,omitempty"`
	// AdminURL is the base URL of its fault admin API (faultinject; the
	// client adds /faults), "" when it has none: then it takes no request
	// faults.
	AdminURL string `json:"admin_url"`
	// Instances are the service's replicas, first to last, when it runs
	// more than one (the fields above are the first's): each with its
	// instance name (faults.InstanceName) and its own addresses.
	Instances []Instance `json:"instances,omitempty"`
}

// Instance is one replica of a service with replicas.
type Instance struct {
	// Name is the replica's instance name ("store-1").
	Name string `json:"name"`
	// Service holds the replica's addresses (no Instances of its own).
	Service
}

// InstanceNames returns the names of the service's replicas (nil when it
// runs one).
func (s Service) InstanceNames() []string {
	var out []string
	for _, i := range s.Instances {
		out = append(out, i.Name)
	}
	return out
}

// Edge is a network path between two parties, carried by a Toxiproxy proxy.
type Edge struct {
	// Name is "caller->callee".
	Name string `json:"name"`
	// Proxy is the Toxiproxy proxy's name, "caller_to_callee".
	Proxy string `json:"proxy"`
	// Listen is the proxy's address; the caller dials it.
	Listen string `json:"listen"`
	// Upstream is the callee's real address.
	Upstream string `json:"upstream"`
	// Replicas are the proxies of the edge to the callee's other replicas
	// (the second on), when it runs more than one: each Proxy is
	// faults.ReplicaProxyName.
	Replicas []Edge `json:"replicas,omitempty"`
}

// Proxies returns the names of the edge's proxies: its own, then its
// replicas'.
func (e Edge) Proxies() []string {
	out := []string{e.Proxy}
	for _, r := range e.Replicas {
		out = append(out, r.Proxy)
	}
	return out
}

// Endpoints is everything the harness talks to.
type Endpoints struct {
	// Lab is the lab's name (its lab file's name field).
	Lab string `json:"lab,omitempty"`
	// PortOffset is how far the stack shifted the lab file's port plan.
	PortOffset int `json:"port_offset,omitempty"`
	// BinDir is the lab's {{.BinDir}} on the host, absolute ("" when the
	// stack builds no binaries on the host: the lab's bin/ then).
	BinDir string `json:"bin_dir,omitempty"`
	// GatewayURL is the system's entry point for load: http:// and the
	// proxy of the lab's load entry edge, so that client-side faults apply.
	GatewayURL string `json:"gateway_url"`
	// PrometheusURL is the Prometheus HTTP API (and k6's remote-write target
	// at /api/v1/write).
	PrometheusURL string `json:"prometheus_url"`
	// JaegerQueryGRPC is the host:port of Jaeger's api_v2 QueryService.
	JaegerQueryGRPC string `json:"jaeger_query_grpc"`
	// JaegerQueryURL is Jaeger's HTTP query API.
	JaegerQueryURL string `json:"jaeger_query_url"`
	// OTLPGRPC is where the services export spans (host:port).
	OTLPGRPC string `json:"otlp_grpc"`
	// JaegerHealthAddr is the host:port of the own Jaeger's health check
	// ("" for a Jaeger the lab does not start).
	JaegerHealthAddr string `json:"jaeger_health_addr,omitempty"`
	// ToxiproxyURL is the Toxiproxy HTTP API.
	ToxiproxyURL string `json:"toxiproxy_url"`
	// Services by name.
	Services map[string]Service `json:"services"`
	// ServiceOrder lists the services dependencies first (the start order).
	ServiceOrder []string `json:"service_order,omitempty"`
	// Edges by name ("caller->callee").
	Edges map[string]Edge `json:"edges"`
	// AdminToken is the bearer token the services' fault admin APIs
	// require (faultinject.WithBearerToken; the Kubernetes manifests'
	// Secret); "" where they require none (the local and compose stacks).
	AdminToken string `json:"admin_token,omitempty"`
	// JWTKeyFile holds the HS256 key of the lab's hs256-jwt auth provider
	// ("" with another provider).
	JWTKeyFile string `json:"jwt_key_file"`
	// HarnessMetricsAddr is where the harness (chaoslab run, chaos) serves
	// its own metrics while it runs scenarios — chaoslab_fault_active, the
	// dashboards' fault windows — and where the lab's Prometheus scrapes
	// them as job "chaoslab" (host:port).
	HarnessMetricsAddr string `json:"harness_metrics_addr"`
}

// EdgeOrder returns e's edge names, sorted.
func (e Endpoints) EdgeOrder() []string { return slices.Sorted(maps.Keys(e.Edges)) }

// Stack is a running lab: its endpoints, and control of its services'
// processes for process faults and knobs (faults.Processes, which package
// faults defines: the harness depends on the fault model, never the
// reverse).
type Stack interface {
	Endpoints() Endpoints
	faults.Processes
}

// ProxySpecs returns the Toxiproxy proxies that carry e's edges, in
// EdgeOrder, for toxiproxy.Client.Populate.
func (e Endpoints) ProxySpecs() []toxiproxy.ProxySpec {
	specs := make([]toxiproxy.ProxySpec, 0, len(e.Edges))
	for _, name := range e.EdgeOrder() {
		edge := e.Edges[name]
		specs = append(specs, toxiproxy.ProxySpec{Name: edge.Proxy, Listen: edge.Listen, Upstream: edge.Upstream})
		for _, r := range edge.Replicas {
			specs = append(specs, toxiproxy.ProxySpec{Name: r.Proxy, Listen: r.Listen, Upstream: r.Upstream})
		}
	}
	return specs
}

// Instance returns the addresses of a service, or of one replica's
// instance ("store-1") of a service with replicas.
func (e Endpoints) Instance(name string) (Service, bool) {
	if s, ok := e.Services[name]; ok {
		return s, true
	}
	for _, s := range e.Services {
		for _, i := range s.Instances {
			if i.Name == name {
				return i.Service, true
			}
		}
	}
	return Service{}, false
}

// Members returns what a name means to process control: the instance
// names of a service with replicas, in order; the name itself for a
// service of one replica, one replica's instance or a harness component.
func (e Endpoints) Members(name string) []string {
	if s, ok := e.Services[name]; ok && len(s.Instances) > 0 {
		return s.InstanceNames()
	}
	return []string{name}
}

// ServiceOf returns the service a replica's instance name belongs to, or
// name itself.
func (e Endpoints) ServiceOf(name string) string {
	for svc, s := range e.Services {
		if slices.Contains(s.InstanceNames(), name) {
			return svc
		}
	}
	return name
}
