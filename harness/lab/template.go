package lab

import (
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
)

// A lab's commands, arguments, environment values and images are Go
// text/template strings that only substitute values: {{.Listen.public}},
// {{.Edge "api->store"}}, {{.DataDir}}. No if, range, pipes or
// functions: a template cannot loop, and every name in it is checked when the
// lab is loaded. {{"{{"}} writes literal braces.

// Vars are what a service's templates see (Local.Command, Args, Env;
// Compose.Image, Env), for one replica on one stack.
type Vars struct {
	// Name is the service's name; Replica the replica's index (0-based);
	// Instance the replica's name (Service.Instance): the service's name
	// when it runs one replica, "store-1" otherwise.
	Name     string
	Replica  int
	Instance string
	// Listen maps each of the service's port names to the address it
	// listens on: "127.0.0.1:5051" locally, "0.0.0.0:5051" in a container.
	Listen map[string]string
	// DataDir is a directory for the service's data, created empty for a
	// fresh lab: <run dir>/data locally (shared by the services: name files
	// after .Name and .Replica), /data in a container (its own volume).
	DataDir string
	// RunDir is the harness's run directory (state, logs, keys) on the host.
	RunDir string
	// BinDir is the harness's -bin-dir (default "bin"): where the lab's
	// binaries are built.
	BinDir string
	// ToolsDir is the harness's -tools-dir (default ".tools/bin", made
	// absolute): its pinned tools, such as the etcd a lab's registry runs
	// (local stack; empty in a container).
	ToolsDir string
	// ImageTag is the harness's image tag (compose; default "dev").
	ImageTag string
	// Telemetry is where the service sends traces.
	Telemetry TelemetryVars
	// Auth holds what the load's auth provider shares with the services:
	// hs256-jwt gives key_file (the key file's path) and key (the key);
	// client-credentials client_id, secret_file and secret.
	Auth map[string]string
	// edges are the addresses of the proxies of the service's edges.
	edges map[string]string
	// advertise is Advertise: for each edge to the service, its proxy's
	// name and the address of this replica's proxy.
	advertise []string
}

// Advertise returns where the callers reach this replica, one
// "<edge's proxy>=<host:port>" per edge to the service, comma-separated
// in file order: what a replica registers in a registry, so that each
// caller dials it through its own edge's proxy. The key is the edge's
// (Edge.Proxy, the same for every replica: callers resolve it), the
// address this replica's proxy of the edge. {{.Advertise}} → "api_to_store=127.0.0.1:20063,web_to_store=127.0.0.1:15063".
func (v Vars) Advertise() string { return strings.Join(v.advertise, ",") }

// TelemetryVars are the trace collector's addresses as a service reaches
// them.
type TelemetryVars struct {
	// OTLPGRPC and OTLPHTTP are host:port of the OTLP receivers.
	OTLPGRPC, OTLPHTTP string
}

// Edge returns the address of the proxy of edge name, which must start at
// this service: {{.Edge "api->store"}} → "127.0.0.1:20053". For a callee
// with replicas it is the proxy of its first replica: a caller reaches all
// of them through a registry (Advertise).
func (v Vars) Edge(name string) (string, error) {
	addr, ok := v.edges[name]
	if !ok {
		return "", fmt.Errorf("%s is not the caller of edge %q", v.Name, name)
	}
	return addr, nil
}

// KnobVars are what Local.KnobArg sees.
type KnobVars struct {
	// Flag is the knob's name, Value its value in the flag's syntax.
	Flag, Value string
}

// HarnessVars are what the harness's own commands and URLs see (the auth
// command, the settle probe and invariants): they run next to the harness,
// not in the system.
type HarnessVars struct {
	// RunDir is the harness's run directory.
	RunDir string
	// BinDir is where the lab's binaries are built, as for the services'
	// templates: a checker built with them is {{.BinDir}}/<name>.
	BinDir string
	// PrometheusURL is the lab's Prometheus HTTP API.
	PrometheusURL string
	// addrs are the services' ports (replica 0) as the harness reaches them.
	addrs map[string]map[string]string
}

// Addr returns where the harness reaches a port of a service's first
// replica, directly (not through a proxy): {{.Addr "store" "public"}} →
// "127.0.0.1:5051".
func (h HarnessVars) Addr(service, port string) (string, error) {
	ports, ok := h.addrs[service]
	if !ok {
		return "", fmt.Errorf("no service %q", service)
	}
	a, ok := ports[port]
	if !ok {
		return "", fmt.Errorf("service %s has no port %q", service, port)
	}
	return a, nil
}

// WithAddr returns h where the harness reaches port of service at addr
// instead: a stack that knows where a port really answers (a remote
// lab's file, a compose lab's published ports) overrides the port plan.
// h itself is left as it was.
func (h HarnessVars) WithAddr(service, port, addr string) HarnessVars {
	addrs := make(map[string]map[string]string, len(h.addrs)+1)
	for name, ports := range h.addrs {
		addrs[name] = ports
	}
	ports := make(map[string]string, len(addrs[service])+1)
	for name, a := range addrs[service] {
		ports[name] = a
	}
	ports[port] = addr
	addrs[service] = ports
	h.addrs = addrs
	return h
}

// Placement is where one stack puts the lab's parts, as a service sees
// them; LocalPlacement and ComposePlacement build today's two.
type Placement struct {
	// ListenHost is the host of .Listen; ProxyHost the host of the proxies
	// (.Edge).
	ListenHost, ProxyHost string
	// Offset shifts every port of the plan.
	Offset int
	// DataDir, RunDir, BinDir, ToolsDir and ImageTag are given to the
	// templates as they are.
	DataDir, RunDir, BinDir, ToolsDir, ImageTag string
	// OTLPGRPC and OTLPHTTP are the trace collector's receivers.
	OTLPGRPC, OTLPHTTP string
	// Auth is the auth provider's shared values (AuthVars).
	Auth map[string]string
	// Instance, when set, is every replica's .Instance: a stack whose
	// replicas are identical copies (a Kubernetes Deployment's pods) names
	// each by a reference its runtime expands, such as the pod's name.
	Instance string
}

// LocalPlacement is the local stack's placement: everything on 127.0.0.1,
// ports shifted by offset, data in <runDir>/data, an own Jaeger on its
// ports (or the existing one's addresses).
func (l *Lab) LocalPlacement(offset int, runDir, binDir string, auth map[string]string) Placement {
	p := Placement{
		ListenHost: "127.0.0.1", ProxyHost: "127.0.0.1", Offset: offset,
		DataDir: filepath.Join(runDir, "data"), RunDir: runDir, BinDir: binDir, Auth: auth,
		OTLPGRPC: l.Telemetry.Jaeger.OTLPGRPC, OTLPHTTP: l.Telemetry.Jaeger.OTLPHTTP,
	}
	if l.Telemetry.Jaeger.Own() {
		p.OTLPGRPC = hostPort("127.0.0.1", l.Telemetry.Jaeger.Port("otlp-grpc")+offset)
		p.OTLPHTTP = hostPort("127.0.0.1", l.Telemetry.Jaeger.Port("otlp-http")+offset)
	}
	return p
}

// ComposePlacement is the compose stack's placement: services listen on
// 0.0.0.0 in their containers and reach the proxies as "toxiproxy" and an
// own Jaeger as "jaeger"; data in /data.
func (l *Lab) ComposePlacement(runDir, imageTag string, auth map[string]string) Placement {
	p := Placement{
		ListenHost: "0.0.0.0", ProxyHost: "toxiproxy", DataDir: "/data", RunDir: runDir, ImageTag: imageTag, Auth: auth,
		OTLPGRPC: l.Telemetry.Jaeger.OTLPGRPC, OTLPHTTP: l.Telemetry.Jaeger.OTLPHTTP,
	}
	if l.Telemetry.Jaeger.Own() {
		p.OTLPGRPC = hostPort("jaeger", l.Telemetry.Jaeger.Port("otlp-grpc"))
		p.OTLPHTTP = hostPort("jaeger", l.Telemetry.Jaeger.Port("otlp-http"))
	}
	return p
}

// AuthVars are the values the load's auth provider shares with the
// services' templates (.Auth): for hs256-jwt, key_file (keyFile, the
// resolved Auth.KeyFile) and key (its content); for client-credentials,
// client_id, secret_file (keyFile) and secret (its content).
func (a Auth) AuthVars(keyFile, key string) map[string]string {
	switch a.Provider {
	case AuthHS256:
		return map[string]string{"key_file": keyFile, "key": key}
	case AuthClient:
		return map[string]string{"client_id": a.ClientID, "secret_file": keyFile, "secret": key}
	}
	return map[string]string{}
}

// authVarNames are the .Auth keys a provider shares.
func authVarNames(provider string) []string {
	switch provider {
	case AuthHS256:
		return []string{"key_file", "key"}
	case AuthClient:
		return []string{"client_id", "secret_file", "secret"}
	}
	return nil
}

// Vars returns what the templates of service's replica see in placement p.
func (l *Lab) Vars(service string, replica int, p Placement) (Vars, error) {
	s, ok := l.Service(service)
	if !ok {
		return Vars{}, fmt.Errorf("no service %q in lab %s", service, l.Name)
	}
	if replica < 0 || replica >= s.Replicas {
		return Vars{}, fmt.Errorf("service %s has %d replicas, not a replica %d", service, s.Replicas, replica)
	}
	v := Vars{
		Name: s.Name, Replica: replica, Instance: s.Instance(replica), Listen: map[string]string{}, edges: map[string]string{},
		DataDir: p.DataDir, RunDir: p.RunDir, BinDir: p.BinDir, ToolsDir: p.ToolsDir, ImageTag: p.ImageTag,
		Telemetry: TelemetryVars{OTLPGRPC: p.OTLPGRPC, OTLPHTTP: p.OTLPHTTP},
		Auth:      maps.Clone(p.Auth),
	}
	if v.Auth == nil {
		v.Auth = map[string]string{}
	}
	if p.Instance != "" {
		v.Instance = p.Instance
	}
	for _, port := range s.Ports {
		v.Listen[port.Name] = hostPort(p.ListenHost, port.Number+p.Offset+replica*l.ReplicaPortStep)
	}
	for _, e := range l.Calls(s.Name) {
		v.edges[e.Name] = hostPort(p.ProxyHost, e.ProxyPort+p.Offset)
	}
	for _, e := range l.CalledBy(s.Name) {
		v.advertise = append(v.advertise, e.Proxy()+"="+hostPort(p.ProxyHost, e.ProxyPort+p.Offset+replica*l.ReplicaPortStep))
	}
	return v, nil
}

// Process is a service's replica as the local stack starts it.
type Process struct {
	Command string
	Args    []string
	// Env are "NAME=value" pairs added to the harness's environment.
	Env []string
}

// RenderLocal renders the local command of service's replica in placement
// p.
func (l *Lab) RenderLocal(service string, replica int, p Placement) (Process, error) {
	s, ok := l.Service(service)
	if !ok || s.Local == nil {
		return Process{}, fmt.Errorf("service %q has no local command in lab %s", service, l.Name)
	}
	v, err := l.Vars(service, replica, p)
	if err != nil {
		return Process{}, err
	}
	var out Process
	if out.Command, err = render("local.command", s.Local.Command, v); err != nil {
		return Process{}, err
	}
	for i, a := range s.Local.Args {
		r, err := render(index("local.args", i), a, v)
		if err != nil {
			return Process{}, err
		}
		out.Args = append(out.Args, r)
	}
	for _, e := range s.Local.Env {
		r, err := render("local.env."+e.Name, e.Value, v)
		if err != nil {
			return Process{}, err
		}
		out.Env = append(out.Env, e.Name+"="+r)
	}
	return out, nil
}

// KnobArgs renders knobs (flag → value, checked with CheckKnob) as the
// local arguments that set them, in flag order.
func (l *Lab) KnobArgs(service string, knobs map[string]string) ([]string, error) {
	s, ok := l.Service(service)
	if !ok || s.Local == nil {
		return nil, fmt.Errorf("service %q has no local command in lab %s", service, l.Name)
	}
	var out []string
	for _, flag := range slices.Sorted(maps.Keys(knobs)) {
		if err := l.CheckKnob(service, flag, knobs[flag]); err != nil {
			return nil, fmt.Errorf("knob %s of %s: %w", flag, service, err)
		}
		a, err := render("local.knob_arg", s.Local.KnobArg, KnobVars{Flag: flag, Value: knobs[flag]})
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Container is a service's replica as the compose stack runs it.
type Container struct {
	Image string
	// Env in file order.
	Env []EnvVar
}

// RenderCompose renders the container of service's replica in placement
// p.
func (l *Lab) RenderCompose(service string, replica int, p Placement) (Container, error) {
	s, ok := l.Service(service)
	if !ok || s.Compose == nil {
		return Container{}, fmt.Errorf("service %q has no compose image in lab %s", service, l.Name)
	}
	v, err := l.Vars(service, replica, p)
	if err != nil {
		return Container{}, err
	}
	var out Container
	if out.Image, err = render("compose.image", s.Compose.Image, v); err != nil {
		return Container{}, err
	}
	for _, e := range s.Compose.Env {
		r, err := render("compose.env."+e.Name, e.Value, v)
		if err != nil {
			return Container{}, err
		}
		out.Env = append(out.Env, EnvVar{Name: e.Name, Value: r})
	}
	return out, nil
}

// HarnessVarsFor returns what the harness's commands see when the lab runs
// in local placement p (services on 127.0.0.1) with its Prometheus at
// prometheusURL.
func (l *Lab) HarnessVarsFor(p Placement, prometheusURL string) HarnessVars {
	h := HarnessVars{RunDir: p.RunDir, BinDir: p.BinDir, PrometheusURL: prometheusURL, addrs: map[string]map[string]string{}}
	for _, s := range l.Services {
		h.addrs[s.Name] = map[string]string{}
		for _, port := range s.Ports {
			h.addrs[s.Name][port.Name] = hostPort("127.0.0.1", port.Number+p.Offset)
		}
	}
	return h
}

// ClusterHarnessVars is what a harness template sees from inside a
// cluster where each service is reached by its name: {{.Addr "store"
// "public"}} → "store:5051".
func (l *Lab) ClusterHarnessVars() HarnessVars {
	h := HarnessVars{addrs: map[string]map[string]string{}}
	for _, s := range l.Services {
		h.addrs[s.Name] = map[string]string{}
		for _, port := range s.Ports {
			h.addrs[s.Name][port.Name] = hostPort(s.Name, port.Number)
		}
	}
	return h
}

// Render renders a harness template (an auth command, a settle probe's or
// an invariant's command or URL) with h.
func Render(name, text string, h HarnessVars) (string, error) { return render(name, text, h) }

// render parses and executes one template.
func render(name, text string, data any) (string, error) {
	t, err := parseTemplate(name, text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("rendering %s: %w", name, err)
	}
	return b.String(), nil
}

// parseTemplate parses text and checks that it only substitutes values.
func parseTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "template: ")
		msg = strings.TrimPrefix(msg, name+":")
		return nil, fmt.Errorf("not a template: %s", strings.TrimSpace(msg))
	}
	if t.Tree == nil || t.Tree.Root == nil {
		return t, nil
	}
	if len(t.Templates()) > 1 {
		return nil, fmt.Errorf("a template only substitutes values: no define or block")
	}
	for _, n := range t.Tree.Root.Nodes {
		if _, err := substitution(n); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// ref is one substitution of a template: .Listen.public is {[Listen public]
// nil}, .Edge "a->b" is {[Edge] [a->b]}; a literal {{"{{"}} has no idents.
type ref struct {
	idents []string
	args   []string
}

// substitution checks that n is text or a plain substitution and returns
// the latter.
func substitution(n parse.Node) (*ref, error) {
	const only = `a template only substitutes values, like {{.Listen.public}} or {{.Edge "a->b"}}: no if, range, with, pipes, variables or functions`
	switch n := n.(type) {
	case *parse.TextNode:
		return nil, nil
	case *parse.ActionNode:
		if n.Pipe == nil || len(n.Pipe.Decl) > 0 || len(n.Pipe.Cmds) != 1 {
			return nil, fmt.Errorf("%s; got %s", only, n)
		}
		args := n.Pipe.Cmds[0].Args
		if len(args) == 1 {
			if _, ok := args[0].(*parse.StringNode); ok {
				return &ref{}, nil
			}
		}
		f, ok := args[0].(*parse.FieldNode)
		if !ok {
			return nil, fmt.Errorf("%s; got %s", only, n)
		}
		r := &ref{idents: f.Ident}
		for _, a := range args[1:] {
			s, ok := a.(*parse.StringNode)
			if !ok {
				return nil, fmt.Errorf("%s; got %s (arguments are quoted strings)", only, n)
			}
			r.args = append(r.args, s.Text)
		}
		return r, nil
	}
	return nil, fmt.Errorf("%s; got %s", only, n)
}

// refs returns the substitutions of a parsed template.
func refs(t *template.Template) []*ref {
	var out []*ref
	if t.Tree == nil || t.Tree.Root == nil {
		return nil
	}
	for _, n := range t.Tree.Root.Nodes {
		if r, _ := substitution(n); r != nil && len(r.idents) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// refProblem is what is wrong with one substitution, with what is allowed.
type refProblem struct {
	msg     string
	allowed []string
}

// vocabulary says which substitutions a kind of template may make.
type vocabulary interface {
	check(r *ref) *refProblem
}

// serviceVocab is a service's templates' vocabulary (Vars).
type serviceVocab struct {
	service string
	ports   []string
	edges   []string
	auth    []string
	// image: the template is an image (no .Listen, .Edge or .Auth there).
	image bool
}

func (v serviceVocab) check(r *ref) *refProblem {
	leaves := []string{"Name", "Replica", "Instance", "Advertise", "DataDir", "RunDir", "BinDir", "ToolsDir", "ImageTag"}
	top := append(slices.Clone(leaves), "Listen.<port>", `Edge "<caller>-><callee>"`, "Telemetry.OTLPGRPC", "Telemetry.OTLPHTTP", "Auth.<key>")
	if v.image {
		top = []string{"ImageTag", "Name"}
	}
	name := r.idents[0]
	sub := r.idents[1:]
	switch {
	case v.image && !slices.Contains(top, name):
	case slices.Contains(leaves, name):
		if len(sub) > 0 || len(r.args) > 0 {
			return &refProblem{msg: fmt.Sprintf(".%s is a value: write {{.%s}}", name, name)}
		}
		return nil
	case name == "Listen":
		if len(sub) != 1 || len(r.args) > 0 {
			return &refProblem{msg: "write {{.Listen.<port>}}", allowed: dotted("Listen", v.ports)}
		}
		if !slices.Contains(v.ports, sub[0]) {
			return &refProblem{msg: fmt.Sprintf("%s has no port %q", v.service, sub[0]), allowed: dotted("Listen", v.ports)}
		}
		return nil
	case name == "Edge":
		if len(sub) > 0 || len(r.args) != 1 {
			return &refProblem{msg: `write {{.Edge "<caller>-><callee>"}} with one of the service's edges`, allowed: v.edges}
		}
		if !slices.Contains(v.edges, r.args[0]) {
			if len(v.edges) == 0 {
				return &refProblem{msg: fmt.Sprintf("%s is the caller of no edge, so it has no edge %q: declare it under edges", v.service, r.args[0])}
			}
			return &refProblem{msg: fmt.Sprintf("%s is not the caller of edge %q", v.service, r.args[0]), allowed: v.edges}
		}
		return nil
	case name == "Telemetry":
		fields := []string{"OTLPGRPC", "OTLPHTTP"}
		if len(sub) != 1 || len(r.args) > 0 || !slices.Contains(fields, sub[0]) {
			return &refProblem{msg: "no such telemetry address", allowed: dotted("Telemetry", fields)}
		}
		return nil
	case name == "Auth":
		if len(v.auth) == 0 {
			return &refProblem{msg: "the load's auth provider shares nothing with the services (hs256-jwt shares key_file and key; client-credentials client_id, secret_file and secret)"}
		}
		if len(sub) != 1 || len(r.args) > 0 || !slices.Contains(v.auth, sub[0]) {
			return &refProblem{msg: "no such auth value", allowed: dotted("Auth", v.auth)}
		}
		return nil
	}
	return &refProblem{msg: fmt.Sprintf("unknown template value .%s", strings.Join(r.idents, ".")), allowed: dotted("", top)}
}

// knobVocab is Local.KnobArg's vocabulary (KnobVars).
type knobVocab struct{}

func (knobVocab) check(r *ref) *refProblem {
	if len(r.idents) == 1 && len(r.args) == 0 && (r.idents[0] == "Flag" || r.idents[0] == "Value") {
		return nil
	}
	return &refProblem{msg: fmt.Sprintf("unknown template value .%s", strings.Join(r.idents, ".")), allowed: []string{".Flag", ".Value"}}
}

// harnessVocab is the harness templates' vocabulary (HarnessVars).
type harnessVocab struct {
	ports map[string][]string // service → port names
	order []string
}

func (v harnessVocab) check(r *ref) *refProblem {
	top := []string{".RunDir", ".BinDir", ".PrometheusURL", `.Addr "<service>" "<port>"`}
	switch name := r.idents[0]; {
	case (name == "RunDir" || name == "BinDir" || name == "PrometheusURL") && len(r.idents) == 1 && len(r.args) == 0:
		return nil
	case name == "Addr" && len(r.idents) == 1:
		if len(r.args) != 2 {
			return &refProblem{msg: `write {{.Addr "<service>" "<port>"}}`}
		}
		ports, ok := v.ports[r.args[0]]
		if !ok {
			return &refProblem{msg: fmt.Sprintf("no service %q", r.args[0]), allowed: v.order}
		}
		if !slices.Contains(ports, r.args[1]) {
			return &refProblem{msg: fmt.Sprintf("service %s has no port %q", r.args[0], r.args[1]), allowed: ports}
		}
		return nil
	}
	return &refProblem{msg: fmt.Sprintf("unknown template value .%s", strings.Join(r.idents, ".")), allowed: top}
}

// dotted prefixes names with "." and prefix.
func dotted(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		if prefix == "" {
			out[i] = "." + n
		} else {
			out[i] = "." + prefix + "." + n
		}
	}
	return out
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
