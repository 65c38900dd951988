package lab

import "fmt"

// The harness's own components in the port plan; no service may take their
// names.
const (
	ComponentToxiproxy  = "toxiproxy"
	ComponentPrometheus = "prometheus"
	ComponentJaeger     = "jaeger"
	ComponentHarness    = "chaoslab"
)

// reservedNames are the names a service may not have: the client of the
// entry edges and the harness's components (with the two the compose stack
// adds).
func reservedNames() []string {
	return []string{Client, ComponentToxiproxy, ComponentPrometheus, ComponentJaeger, ComponentHarness, "grafana", "k6"}
}

// PlannedPort is one TCP port of the lab's port plan.
type PlannedPort struct {
	// Component is a service's name or one of the harness's components
	// (ComponentToxiproxy, …).
	Component string
	// Name is the port's name: a service's port ("public"), a proxy
	// ("proxy api->store"), "api", "http", a Jaeger port.
	Name string
	// Replica is the service's (or, for a proxy, the callee's) replica.
	Replica int
	// Number is the port without the harness's offset.
	Number int
}

// String is "store public 5051", "store[1] public 6051".
func (p PlannedPort) String() string {
	c := p.Component
	if p.Replica > 0 {
		c = fmt.Sprintf("%s[%d]", c, p.Replica)
	}
	return fmt.Sprintf("%s %s %d", c, p.Name, p.Number)
}

// ProxyPortName is the plan's name of an edge's proxy: "proxy
// api->store".
func ProxyPortName(edge string) string { return "proxy " + edge }

// PortPlan returns every port the lab listens on when the harness starts
// all of it: each replica of each service (replica i adds i·ReplicaPortStep),
// each edge's proxy (one per replica of its callee), Toxiproxy's API, and
// the own Prometheus and Jaeger and the harness's metrics. The harness adds
// its offset to every number.
func (l *Lab) PortPlan() []PlannedPort {
	var out []PlannedPort
	for _, s := range l.Services {
		for r := range s.Replicas {
			for _, p := range s.Ports {
				out = append(out, PlannedPort{Component: s.Name, Name: p.Name, Replica: r, Number: p.Number + r*l.ReplicaPortStep})
			}
		}
	}
	out = append(out, PlannedPort{Component: ComponentToxiproxy, Name: "api", Number: l.Proxies.Port})
	for _, e := range l.Edges {
		replicas := 1
		if to, ok := l.Service(e.To); ok {
			replicas = to.Replicas
		}
		for r := range replicas {
			out = append(out, PlannedPort{Component: ComponentToxiproxy, Name: ProxyPortName(e.Name), Replica: r, Number: e.ProxyPort + r*l.ReplicaPortStep})
		}
	}
	if l.Telemetry.Prometheus.Own() {
		out = append(out, PlannedPort{Component: ComponentPrometheus, Name: "http", Number: l.Telemetry.Prometheus.Port})
	}
	if l.Telemetry.Jaeger.Own() {
		for _, p := range l.Telemetry.Jaeger.Ports {
			out = append(out, PlannedPort{Component: ComponentJaeger, Name: p.Name, Number: p.Number})
		}
	}
	out = append(out, PlannedPort{Component: ComponentHarness, Name: "metrics", Number: l.Telemetry.HarnessPort})
	return out
}
