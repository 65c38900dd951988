package local

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/stack"
)

// plan is what Up starts for a lab file on the local stack: every port of
// its port plan on 127.0.0.1 (shifted by the offset), the endpoints the
// harness talks to, and each service's process, dependencies first.
type plan struct {
	ports     Ports
	endpoints stack.Endpoints
	services  []serviceProc
}

// serviceProc is one service's process (one replica's, for a service with
// replicas) as the lab file renders it.
type serviceProc struct {
	// name is the instance's name (faults.InstanceName); service the lab
	// service of a replica of a service with replicas, "" otherwise.
	name, service, command string
	args, env              []string
	// dir is its working directory: the lab's root.
	dir string
	// ready is its readiness probe (stack.Probe).
	ready string
}

// serviceName is the lab service the process runs.
func (p serviceProc) serviceName() string {
	if p.service != "" {
		return p.service
	}
	return p.name
}

// PortsFor is the local port plan of l, every port shifted by offset: each
// service's ports under its name (a service's other replicas' under their
// instance names, "store-1"), Toxiproxy's API ("api") and one proxy per
// edge ("proxy caller->callee"; "proxy caller->callee[1]" to the callee's
// second replica), the own Prometheus ("http") and Jaeger (its port names)
// and the harness's metrics ("chaoslab" "metrics").
func PortsFor(l *lab.Lab, offset int) Ports {
	p := Ports{}
	for _, pp := range l.PortPlan() {
		component, name := pp.Component, pp.Name
		if pp.Replica > 0 {
			if s, ok := l.Service(component); ok {
				component = portsKey(s, pp.Replica)
			} else {
				name = replicaPortName(name, pp.Replica)
			}
		}
		if p[component] == nil {
			p[component] = map[string]int{}
		}
		p[component][name] = pp.Number + offset
	}
	return p
}

// portsKey is the component under which PortsFor files replica r of s:
// the service's name for the first, its instance name for the others.
func portsKey(s *lab.Service, r int) string {
	if r == 0 {
		return s.Name
	}
	return s.Instance(r)
}

// replicaPortName names the port of a proxy to a callee's replica r > 0.
func replicaPortName(name string, r int) string { return fmt.Sprintf("%s[%d]", name, r) }

// planFor renders l for the local stack: ports shifted by cfg.PortOffset,
// binaries in binDir (absolute), data and keys in runDir; auth is what the
// load's auth provider shares with the services' templates, keyFile its
// key file ("" without one).
func planFor(l *lab.Lab, cfg Config, runDir, binDir string, auth map[string]string, keyFile string) (plan, error) {
	var errs []error
	for _, s := range l.Services {
		switch {
		case s.Local == nil:
			errs = append(errs, fmt.Errorf("service %s has no local command: the local stack cannot run it (give it services.%s.local, or use -stack compose)", s.Name, s.Name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return plan{}, fmt.Errorf("lab %s (%s): %w", l.Name, l.File, err)
	}
	ports := PortsFor(l, cfg.PortOffset)
	pl := plan{ports: ports, endpoints: EndpointsFor(l, ports, keyFile)}
	pl.endpoints.PortOffset, pl.endpoints.BinDir = cfg.PortOffset, binDir
	placement := l.LocalPlacement(cfg.PortOffset, runDir, binDir, auth)
	toolsDir, err := filepath.Abs(cfg.ToolsDir)
	if err != nil {
		return plan{}, err
	}
	placement.ToolsDir = toolsDir
	var missing []string
	for _, name := range l.StartOrder() {
		s, _ := l.Service(name)
		for r := range max(s.Replicas, 1) {
			proc, err := l.RenderLocal(name, r, placement)
			if err != nil {
				return plan{}, err
			}
			path, err := resolveCommand(l, proc.Command)
			if err != nil && r == 0 {
				missing = append(missing, fmt.Sprintf("%s's command %s", name, err))
			}
			sp := serviceProc{
				name: s.Instance(r), command: path, args: proc.Args, env: proc.Env, dir: l.Dir(),
				ready: pl.endpoints.Services[name].ReadyURL,
			}
			if s.Replicas > 1 {
				sp.service = name
				sp.ready = pl.endpoints.Services[name].Instances[r].ReadyURL
			}
			pl.services = append(pl.services, sp)
		}
	}
	if len(missing) > 0 {
		return plan{}, fmt.Errorf("lab %s: %s — build the services first (the shop: make build; or simply make up-local)",
			l.Name, strings.Join(missing, ", "))
	}
	return pl, nil
}

// resolveCommand finds a service's command: a relative path with a slash is
// relative to the lab's root, a bare name is looked up in $PATH.
func resolveCommand(l *lab.Lab, command string) (string, error) {
	if !strings.Contains(command, "/") {
		path, err := exec.LookPath(command)
		if err != nil {
			return "", fmt.Errorf("%q is not in $PATH", command)
		}
		return path, nil
	}
	path, err := filepath.Abs(l.Path(command))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s does not exist", path)
	}
	return path, nil
}

// EndpointsFor is where the lab l listens on the local port plan ports, all
// on 127.0.0.1 — or, for a Prometheus and a Jaeger the lab file points at,
// where they are — with the hs256-jwt key in keyFile ("" without one).
func EndpointsFor(l *lab.Lab, ports Ports, keyFile string) stack.Endpoints {
	e := stack.Endpoints{
		Lab:                l.Name,
		GatewayURL:         "http://" + ports.Addr(lab.ComponentToxiproxy, lab.ProxyPortName(l.Load.Entry)),
		PrometheusURL:      l.Telemetry.Prometheus.URL,
		JaegerQueryGRPC:    l.Telemetry.Jaeger.QueryGRPC,
		JaegerQueryURL:     l.Telemetry.Jaeger.QueryURL,
		OTLPGRPC:           l.Telemetry.Jaeger.OTLPGRPC,
		ToxiproxyURL:       "http://" + ports.Addr(lab.ComponentToxiproxy, "api"),
		Services:           map[string]stack.Service{},
		ServiceOrder:       l.StartOrder(),
		Edges:              map[string]stack.Edge{},
		JWTKeyFile:         keyFile,
		HarnessMetricsAddr: ports.Addr(lab.ComponentHarness, "metrics"),
	}
	if l.Telemetry.Prometheus.Own() {
		e.PrometheusURL = "http://" + ports.Addr(lab.ComponentPrometheus, "http")
	}
	if l.Telemetry.Jaeger.Own() {
		e.JaegerQueryGRPC = ports.Addr(lab.ComponentJaeger, "query-grpc")
		e.JaegerQueryURL = "http://" + ports.Addr(lab.ComponentJaeger, "query-http")
		e.OTLPGRPC = ports.Addr(lab.ComponentJaeger, "otlp-grpc")
		e.JaegerHealthAddr = ports.Addr(lab.ComponentJaeger, "health")
	}
	for _, s := range l.Services {
		svc := serviceEndpoints(l, s, func(port string) string { return ports.Addr(s.Name, port) })
		if s.Replicas > 1 {
			for r := range s.Replicas {
				key := portsKey(s, r)
				svc.Instances = append(svc.Instances, stack.Instance{Name: s.Instance(r),
					Service: serviceEndpoints(l, s, func(port string) string { return ports.Addr(key, port) })})
			}
		}
		e.Services[s.Name] = svc
	}
	for _, edge := range l.Edges {
		se := stack.Edge{
			Name: edge.Name, Proxy: edge.Proxy(),
			Listen:   ports.Addr(lab.ComponentToxiproxy, lab.ProxyPortName(edge.Name)),
			Upstream: ports.Addr(edge.To, edge.TargetPort),
		}
		to, _ := l.Service(edge.To)
		for r := 1; r < l.Replicas(edge.To); r++ {
			se.Replicas = append(se.Replicas, stack.Edge{
				Name: edge.Name, Proxy: edge.ReplicaProxy(r),
				Listen:   ports.Addr(lab.ComponentToxiproxy, replicaPortName(lab.ProxyPortName(edge.Name), r)),
				Upstream: ports.Addr(portsKey(to, r), edge.TargetPort),
			})
		}
		e.Edges[edge.Name] = se
	}
	return e
}

// serviceEndpoints is where the harness reaches service s of l, with addr
// giving the address of each of its ports: the address its edges forward
// to, its metrics, readiness probe and fault admin API.
func serviceEndpoints(l *lab.Lab, s *lab.Service, addr func(port string) string) stack.Service {
	out := stack.Service{Protocol: string(s.Protocol), Addr: addr(l.TargetPort(s))}
	if s.Metrics != nil {
		out.MetricsURL = "http://" + addr(s.Metrics.Port) + s.Metrics.Path
	}
	switch {
	case s.Ready.HTTP != nil:
		out.ReadyURL = "http://" + addr(s.Ready.HTTP.Port) + s.Ready.HTTP.Path
	case s.Ready.GRPC != nil:
		out.ReadyURL = stack.GRPCHealthURL(addr(s.Ready.GRPC.Port), s.Ready.GRPC.Service)
	}
	if s.Faults != nil {
		// The faultinject client adds /faults to its base URL.
		out.AdminURL = "http://" + addr(s.Faults.Port) + strings.TrimSuffix(s.Faults.Path, "/faults")
	}
	return out
}
