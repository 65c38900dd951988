package kubernetes

import (
	"net"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/stack/local"
)

// plan returns the harness's endpoints of lab l in namespace ns and, with
// AccessPortForward, the port-forwards that carry them.
//
// With port-forwards, every address is the local stack's at offset (the
// lab's port plan on 127.0.0.1, so that the harness's templates' .Addr
// reach the same ports), each forwarded to the Service of its component at
// the plan's number: every port of every service (the admin API's too: the
// forward goes to a pod, not through the Service, which never exposes it),
// Toxiproxy's API and the entry edges' proxies, the own Prometheus and
// Jaeger's query and health ports. In the cluster, the addresses are the
// Services' DNS names. Either way the proxies listen on 0.0.0.0 in
// Toxiproxy's pod and reach each callee by its Service's name.
//
// servicePort maps the lab's port (component, number, name) to the port of
// the component's Service in the cluster (nil: the lab's number), for the
// Services' DNS names.
func plan(l *lab.Lab, ns, access string, offset int, keyFile string, servicePort func(component string, number int, name string) int) (stack.Endpoints, []Forward) {
	if servicePort == nil {
		servicePort = func(_ string, number int, _ string) int { return number }
	}
	p := local.PortsFor(l, offset)
	e := local.EndpointsFor(l, p, keyFile)
	e.PortOffset = offset
	zero := local.PortsFor(l, 0)
	for _, edge := range l.Edges {
		to, _ := l.Service(edge.To)
		e.Edges[edge.Name] = stack.Edge{
			Name: edge.Name, Proxy: edge.Proxy(),
			Listen:   "0.0.0.0:" + strconv.Itoa(zero[lab.ComponentToxiproxy][lab.ProxyPortName(edge.Name)]),
			Upstream: net.JoinHostPort(edge.To, strconv.Itoa(to.Port(edge.TargetPort))),
		}
	}
	if !l.Telemetry.Jaeger.Own() {
		e.JaegerHealthAddr = ""
	}
	if l.Telemetry.Jaeger.Own() {
		e.OTLPGRPC = net.JoinHostPort(lab.ComponentJaeger, strconv.Itoa(zero[lab.ComponentJaeger]["otlp-grpc"]))
	}

	// what the harness reaches: component, port name
	type target struct{ component, port string }
	var targets []target
	for _, s := range l.Services {
		for _, port := range s.Ports {
			targets = append(targets, target{s.Name, port.Name})
		}
	}
	targets = append(targets, target{lab.ComponentToxiproxy, "api"})
	for _, edge := range l.EntryEdges() {
		targets = append(targets, target{lab.ComponentToxiproxy, lab.ProxyPortName(edge.Name)})
	}
	if l.Telemetry.Prometheus.Own() {
		targets = append(targets, target{lab.ComponentPrometheus, "http"})
	}
	if l.Telemetry.Jaeger.Own() {
		for _, port := range []string{"query-grpc", "query-http", "health"} {
			targets = append(targets, target{lab.ComponentJaeger, port})
		}
	}

	if access == AccessInCluster {
		// The addresses from the local plan, host by host, become the
		// Services' names.
		addr := map[string]string{}
		for _, t := range targets {
			addr[p.Addr(t.component, t.port)] = net.JoinHostPort(t.component+"."+ns+".svc", strconv.Itoa(servicePort(t.component, zero[t.component][t.port], t.port)))
		}
		rewriteAddrs(&e, func(a string) string {
			if v, ok := addr[a]; ok {
				return v
			}
			return a
		})
		// The harness serves its metrics on the pod's address.
		e.HarnessMetricsAddr = "0.0.0.0:" + strconv.Itoa(zero[lab.ComponentHarness]["metrics"])
		return e, nil
	}
	var fws []Forward
	for _, t := range targets {
		fws = append(fws, Forward{Local: p.Addr(t.component, t.port), Service: t.component, Port: zero[t.component][t.port], PortName: t.port})
	}
	return e, fws
}

// rewriteAddrs replaces the host:port of every harness-side endpoint of e
// (URLs and addresses) by f's answer; the proxies' own Listen and Upstream
// are the cluster's already.
func rewriteAddrs(e *stack.Endpoints, f func(string) string) {
	u := func(s string) string {
		parsed, err := url.Parse(s)
		if s == "" || err != nil || parsed.Host == "" {
			return s
		}
		parsed.Host = f(parsed.Host)
		return parsed.String()
	}
	e.GatewayURL = u(e.GatewayURL)
	e.PrometheusURL = u(e.PrometheusURL)
	e.JaegerQueryURL = u(e.JaegerQueryURL)
	e.JaegerQueryGRPC = f(e.JaegerQueryGRPC)
	e.ToxiproxyURL = u(e.ToxiproxyURL)
	if e.JaegerHealthAddr != "" {
		e.JaegerHealthAddr = f(e.JaegerHealthAddr)
	}
	for name, s := range e.Services {
		s.Addr = f(s.Addr)
		s.MetricsURL = u(s.MetricsURL)
		s.ReadyURL = u(s.ReadyURL)
		s.AdminURL = u(s.AdminURL)
		e.Services[name] = s
	}
}

// servicePorts is plan's servicePort for the objects objs: a Service's port
// of the lab's number if it has one, else its port of the lab's port name,
// else the lab's number (the admin API, on no Service, is not reached in
// the cluster by name).
func servicePorts(objs []*unstructured.Unstructured) func(component string, number int, name string) int {
	svcs := map[string]corev1.ServiceSpec{}
	for _, o := range objs {
		if o.GetAPIVersion() != "v1" || o.GetKind() != "Service" {
			continue
		}
		var svc corev1.Service
		if runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &svc) == nil {
			svcs[svc.Name] = svc.Spec
		}
	}
	return func(component string, number int, name string) int {
		spec := svcs[component]
		for _, p := range spec.Ports {
			if int(p.Port) == number {
				return number
			}
		}
		for _, p := range spec.Ports {
			if p.Name == name {
				return int(p.Port)
			}
		}
		return number
	}
}
