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

// serviceProc is one service's process as the lab file renders it.
type serviceProc struct {
	name, command string
	args, env     []string
	// dir is its working directory: the lab's root.
	dir string
	// ready is its readiness probe (stack.Probe).
	ready string
}

// PortsFor is the local port plan of l, every port shifted by offset: each
// service's ports under its name, Toxiproxy's API ("api") and one proxy per
// edge ("proxy caller->callee"), the own Prometheus ("http") and Jaeger
// (its port names) and the harness's metrics ("chaoslab" "metrics").
func PortsFor(l *lab.Lab, offset int) Ports {
	p := Ports{}
	for _, pp := range l.PortPlan() {
		if pp.Replica > 0 {
			continue
		}
		if p[pp.Component] == nil {
			p[pp.Component] = map[string]int{}
		}
		p[pp.Component][pp.Name] = pp.Number + offset
	}
	return p
}

// planFor renders l for the local stack: ports shifted by cfg.PortOffset,
// binaries in binDir (absolute), data and keys in runDir; auth is what the
// load's auth provider shares with the services' templates, keyFile its
// key file ("" without one).
func planFor(l *lab.Lab, cfg Config, runDir, binDir string, auth map[string]string, keyFile string) (plan, error) {
	var errs []error
	for _, s := range l.Services {
		switch {
		case s.Replicas > 1:
			errs = append(errs, fmt.Errorf("service %s has %d replicas: the local stack runs one of each service so far", s.Name, s.Replicas))
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
	var missing []string
	for _, name := range l.StartOrder() {
		proc, err := l.RenderLocal(name, 0, placement)
		if err != nil {
			return plan{}, err
		}
		path, err := resolveCommand(l, proc.Command)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s's command %s", name, err))
		}
		pl.services = append(pl.services, serviceProc{
			name: name, command: path, args: proc.Args, env: proc.Env, dir: l.Dir(),
			ready: pl.endpoints.Services[name].ReadyURL,
		})
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
		e.Services[s.Name] = serviceEndpoints(l, s, func(port string) string { return ports.Addr(s.Name, port) })
	}
	for _, edge := range l.Edges {
		e.Edges[edge.Name] = stack.Edge{
			Name: edge.Name, Proxy: edge.Proxy(),
			Listen:   ports.Addr(lab.ComponentToxiproxy, lab.ProxyPortName(edge.Name)),
			Upstream: ports.Addr(edge.To, edge.TargetPort),
		}
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
