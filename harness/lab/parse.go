package lab

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/harness/diag"
)

// Builtins are the checkers registered in Go that a lab may name with
// `builtin:`: the shop registers its three invariants and its settle probe.
type Builtins struct {
	// Invariants are the names of the built-in invariant checkers.
	Invariants []string
	// Settle are the names of the built-in settle probes.
	Settle []string
}

// Option changes how a lab file is checked.
type Option func(*config)

type config struct {
	builtins Builtins
	// dir, when set, is where the lab file is: Load checks the files the
	// lab names (relative to dir/root).
	dir string
}

// WithBuiltins gives the built-in checkers that `builtin:` may name.
// Without it there are none, and every `builtin:` is an error.
func WithBuiltins(b Builtins) Option {
	return func(c *config) { c.builtins = b }
}

// Load reads and checks the lab file at path, and checks that the files and
// directories it names exist (root, load.scripts, slos, the plots' scripts,
// the compose build contexts). A file with problems returns a
// *diag.ValidationError listing all of them.
func Load(path string, opts ...Option) (*Lab, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading lab file: %w", err)
	}
	return parseLab(path, data, append(opts, func(c *config) { c.dir = filepath.Dir(path) }))
}

// Parse checks a lab file's content; name is the file it came from, for
// messages. It checks no file on disk (Load does).
func Parse(name string, data []byte, opts ...Option) (*Lab, error) {
	return parseLab(name, data, opts)
}

func parseLab(name string, data []byte, opts []Option) (*Lab, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	d := &decoder{file: name}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		d.errorf(nil, "", nil, "the file is empty: a lab needs %s", strings.Join(requiredTop(), ", "))
		return nil, d.result()
	case err != nil:
		p := diag.YAMLSyntax(name, err)
		if p.Line == 0 {
			p.Line, p.Column = 1, 1
		}
		d.problems = append(d.problems, p)
		return nil, d.result()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		const one = "a lab file holds one YAML document: "
		if err != nil && extra.Line == 0 {
			p := diag.YAMLSyntax(name, err)
			p.Msg = one + p.Msg
			if p.Line == 0 {
				p.Line, p.Column = 1, 1
			}
			d.problems = append(d.problems, p)
		} else {
			d.errorf(&extra, "", nil, "%s", one+`remove the "---" and what follows`)
		}
	}
	if len(doc.Content) == 0 {
		d.errorf(nil, "", nil, "the file is empty: a lab needs %s", strings.Join(requiredTop(), ", "))
		return nil, d.result()
	}
	l := &Lab{File: name}
	r := &reader{decoder: d, cfg: cfg, lab: l, portNodes: map[string]*yaml.Node{}, rejected: map[string]bool{}}
	r.read(doc.Content[0])
	if err := d.result(); err != nil {
		return nil, err
	}
	return l, nil
}

// result returns the problems found, sorted by position, or nil.
func (d *decoder) result() error {
	if len(d.problems) == 0 {
		return nil
	}
	diag.SortByPosition(d.problems)
	return &diag.ValidationError{Problems: d.problems}
}

// The fields of each part of a lab file, in the documentation's order.
func topFields() []string {
	return []string{"name", "description", "root", "services", "edges", "proxies", "replica_port_step",
		"telemetry", "load", "slos", "plots", "settle", "invariants"}
}
func requiredTop() []string { return []string{"name", "services", "edges", "load"} }
func serviceFields() []string {
	return []string{"protocol", "replicas", "ports", "local", "compose", "ready", "metrics", "faults", "descriptors", "methods", "knobs"}
}
func localFields() []string   { return []string{"command", "args", "env", "knob_arg"} }
func composeFields() []string { return []string{"image", "build", "env", "knob_env_prefix"} }
func buildFields() []string   { return []string{"context", "dockerfile", "args"} }
func readyFields() []string   { return []string{"http", "grpc"} }
func endpointFields() []string {
	return []string{"port", "path"}
}
func grpcHealthFields() []string { return []string{"port", "service"} }
func knobFields() []string {
	return []string{"type", "min", "max", "values", "default", "help"}
}
func edgeFields() []string       { return []string{"proxy_port", "target_port"} }
func proxiesFields() []string    { return []string{"port"} }
func telemetryFields() []string  { return []string{"prometheus", "jaeger", "harness", "span_flush"} }
func prometheusFields() []string { return []string{"url", "port", "scrape_interval"} }
func jaegerFields() []string {
	return []string{"ports", "otlp_grpc", "otlp_http", "query_grpc", "query_url"}
}
func harnessFields() []string { return []string{"port"} }
func loadFields() []string    { return []string{"scripts", "entry", "auth", "acks", "env"} }
func authFields() []string {
	return []string{"provider", "key_file", "subject", "ttl", "token_url", "client_id", "secret_file", "scopes", "command"}
}
func plotFields() []string      { return []string{"name", "unit", "query", "scripts"} }
func settleFields() []string    { return []string{"builtin", "command", "http", "timeout", "interval"} }
func invariantFields() []string { return []string{"builtin", "command", "http", "timeout"} }

// Fields returns every field name a lab file may use, for the documentation
// and the JSON Schema's tests.
func Fields() []string {
	var all []string
	for _, f := range [][]string{topFields(), serviceFields(), localFields(), composeFields(), buildFields(),
		readyFields(), endpointFields(), grpcHealthFields(), descriptorsFields(), knobFields(), edgeFields(), proxiesFields(),
		telemetryFields(), prometheusFields(), jaegerFields(), harnessFields(), loadFields(), authFields(),
		plotFields(), settleFields(), invariantFields()} {
		all = append(all, f...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// The defaults.
const (
	defaultKnobArg         = "-{{.Flag}}={{.Value}}"
	defaultMetricsPath     = "/metrics"
	defaultFaultsPath      = "/faults"
	defaultTargetPort      = "public"
	defaultProxiesPort     = 8474
	defaultReplicaPortStep = 1000
	defaultPrometheusPort  = 9090
	defaultHarnessPort     = 9099
	defaultKeyFile         = "jwt.key"
	defaultSecretFile      = "client.secret"
	defaultSubject         = "chaoslab"
)

var (
	labNameRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	serviceNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	portNameRE    = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	knobNameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	envNameRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	checkNameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	scriptRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*\.js$`)
	edgeRE        = regexp.MustCompile(`^([a-z][a-z0-9-]{0,62})->([a-z][a-z0-9-]{0,62})$`)
)

// reader reads one lab file into lab.
type reader struct {
	*decoder
	cfg config
	lab *Lab
	// templates are checked once everything they may name is read.
	templates []templateUse
	// portNodes are the nodes of the planned ports, by "component/name".
	portNodes map[string]*yaml.Node
	// entryNode is load.entry's node, when given.
	entryNode *yaml.Node
	// files are the paths Load checks on disk.
	files []fileUse
	// descriptorUses are the services' descriptor sets Load reads.
	descriptorUses []descriptorsUse
	// rejected are the names of services and edges declared with problems:
	// what refers to them is not reported again.
	rejected map[string]bool
}

// templateUse is one template of the file, checked by checkTemplates.
type templateUse struct {
	node *yaml.Node
	path string
	text string
	// service is the service it belongs to; empty for harness templates.
	service string
	// kind: "service", "image", "knob" or "harness".
	kind string
}

// fileUse is a file or directory the lab names.
type fileUse struct {
	node *yaml.Node
	path string
	rel  string
	dir  bool
	what string
}

func (r *reader) read(root *yaml.Node) {
	top, ok := r.object(root, "", append(topFields(), extensionFields))
	if !ok {
		return
	}
	l := r.lab
	if n, ok := r.need(top, "name", `the lab's name, like "shop"`); ok {
		if v, ok := r.str(n, "name"); ok {
			if !labNameRE.MatchString(v) {
				r.errorf(n, "name", nil, "%q: use 1 to 64 lowercase letters, digits, '-', '_' or '.'", v)
			}
			l.Name = v
		}
	}
	if n := top.get("description"); !isNull(n) {
		if v, ok := r.str(n, "description"); ok {
			l.Description = strings.TrimSpace(v)
		}
	}
	l.Root = "."
	if n := top.get("root"); !isNull(n) {
		if v, ok := r.str(n, "root"); ok {
			l.Root = v
			r.files = append(r.files, fileUse{node: resolve(n), path: "root", rel: "", dir: true, what: "the lab's root directory"})
		}
	}
	if n, ok := r.need(top, "services", "the services of the system under test, by name"); ok {
		r.services(n)
	}
	if n, ok := r.need(top, "edges", `the network paths, "caller->callee": {proxy_port: N}, with at least one from client`); ok {
		r.edges(n)
	}
	l.Proxies.Port = defaultProxiesPort
	if n := top.get("proxies"); !isNull(n) {
		if o, ok := r.object(n, "proxies", proxiesFields()); ok {
			if v := o.get("port"); !isNull(v) {
				l.Proxies.Port, _ = r.port(v, o.field("port"))
				r.portNodes[ComponentToxiproxy+"/api"] = resolve(v)
			}
		}
	}
	l.ReplicaPortStep = defaultReplicaPortStep
	if n := top.get("replica_port_step"); !isNull(n) {
		v, _ := r.integer(n, "replica_port_step", 1, 10000)
		l.ReplicaPortStep = int(v)
	}
	r.telemetry(top.get("telemetry"))
	if n, ok := r.need(top, "load", "how the k6 scripts run: scripts, auth, acks"); ok {
		r.load(n)
	}
	if n := top.get("slos"); !isNull(n) {
		if v, ok := r.str(n, "slos"); ok {
			l.SLOs = v
			r.files = append(r.files, fileUse{node: resolve(n), path: "slos", rel: v, what: "the SLO definitions"})
		}
	}
	if n := top.get("plots"); !isNull(n) {
		r.plots(n)
	}
	if n := top.get("settle"); !isNull(n) {
		r.settle(n)
	}
	if n := top.get("invariants"); !isNull(n) {
		r.invariants(n)
	}
	r.checkEntry(top)
	r.checkTemplates()
	r.checkPorts()
	r.checkFiles()
	r.loadDescriptors()
}

func (r *reader) services(n *yaml.Node) {
	o, ok := r.object(n, "services", nil)
	if !ok {
		return
	}
	if len(o.order) == 0 {
		r.errorf(o.node, "services", nil, "is empty: declare at least one service")
		return
	}
	for _, name := range o.order {
		path := o.field(name)
		k := o.keys[name]
		switch {
		case slices.Contains(reservedNames(), name):
			r.errorf(k, path, nil, "%q is reserved for the harness: name the service otherwise (reserved: %s)", name, strings.Join(reservedNames(), ", "))
			r.rejected[name] = true
			continue
		case !serviceNameRE.MatchString(name):
			r.errorf(k, path, nil, "%q: a service name is a lowercase letter, then up to 62 lowercase letters, digits or '-'", name)
			r.rejected[name] = true
			continue
		}
		s := &Service{Pos: pos(k), Name: name}
		r.service(o.get(name), path, s)
		r.lab.Services = append(r.lab.Services, s)
	}
}

func pos(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

func (r *reader) service(n *yaml.Node, path string, s *Service) {
	o, ok := r.object(n, path, serviceFields())
	if !ok {
		return
	}
	if isNull(o.node) {
		r.errorf(o.node, path, nil, "missing: the service's protocol, ports, how to run it and its readiness")
		return
	}
	if v, ok := r.need(o, "protocol", "what the service speaks on the port its edges reach"); ok {
		p, _ := r.enum(v, o.field("protocol"), []string{string(HTTP), string(GRPC)})
		s.Protocol = Protocol(p)
	}
	s.Replicas = 1
	if v := o.get("replicas"); !isNull(v) {
		x, _ := r.integer(v, o.field("replicas"), 1, 100)
		s.Replicas = max(int(x), 1)
	}
	if v, ok := r.need(o, "ports", "the listeners by name, like {public: 5051, metrics: 9082}"); ok {
		r.ports(v, o.field("ports"), s)
	}
	ports := portNames(s.Ports)
	if !o.has("local") && !o.has("compose") {
		r.errorf(o.node, path, []string{"local", "compose"}, "missing: how to run the service: local (a command) or compose (an image), or both")
	}
	if v := o.get("local"); !isNull(v) {
		s.Local = r.local(v, o.field("local"), s.Name)
	} else if o.has("local") {
		r.errorf(o.keys["local"], o.field("local"), nil, "missing: the local command and its args")
	}
	if v := o.get("compose"); !isNull(v) {
		s.Compose = r.compose(v, o.field("compose"), s.Name)
	} else if o.has("compose") {
		r.errorf(o.keys["compose"], o.field("compose"), nil, "missing: the compose image and env")
	}
	if v, ok := r.need(o, "ready", "the readiness probe: http: {port, path} or grpc: {port}"); ok {
		r.ready(v, o.field("ready"), s, ports)
	}
	if v := o.get("metrics"); !isNull(v) {
		s.Metrics = r.endpoint(v, o.field("metrics"), ports, defaultMetricsPath)
	}
	if v := o.get("faults"); !isNull(v) {
		s.Faults = r.endpoint(v, o.field("faults"), ports, defaultFaultsPath)
	}
	if v := o.get("descriptors"); !isNull(v) {
		if s.Protocol == HTTP {
			r.errorf(o.keys["descriptors"], o.field("descriptors"), nil, "applies to grpc services: an http service lists its routes in methods")
		} else {
			r.descriptors(v, o.field("descriptors"), s)
		}
	}
	if v := o.get("methods"); !isNull(v) {
		if s.Protocol == GRPC {
			r.errorf(o.keys["methods"], o.field("methods"), nil, "applies to http services: a grpc service's methods come from its descriptors")
		} else {
			r.routes(v, o.field("methods"), s)
		}
	}
	if v := o.get("knobs"); !isNull(v) {
		r.knobs(v, o.field("knobs"), s)
	}
}

func portNames(ps []Port) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

func (r *reader) ports(n *yaml.Node, path string, s *Service) {
	o, ok := r.object(n, path, nil)
	if !ok {
		return
	}
	if len(o.order) == 0 {
		r.errorf(o.node, path, nil, "is empty: name at least one listener, like public: 5051")
		return
	}
	for _, name := range o.order {
		k := o.keys[name]
		if !portNameRE.MatchString(name) {
			r.errorf(k, o.field(name), nil, "%q: a port name is a lowercase letter, then up to 31 lowercase letters, digits or '-'", name)
			continue
		}
		if num, ok := r.port(o.get(name), o.field(name)); ok {
			s.Ports = append(s.Ports, Port{Pos: pos(k), Name: name, Number: num})
			r.portNodes[s.Name+"/"+name] = resolve(o.get(name))
		}
	}
}

func (r *reader) local(n *yaml.Node, path, service string) *Local {
	o, ok := r.object(n, path, localFields())
	if !ok {
		return nil
	}
	l := &Local{KnobArg: defaultKnobArg}
	if v, ok := r.need(o, "command", `the program, like "{{.BinDir}}/store"`); ok {
		if s, ok := r.str(v, o.field("command")); ok {
			l.Command = s
			r.template(v, o.field("command"), s, service, "service")
		}
	}
	if v := o.get("args"); !isNull(v) {
		items, _ := r.list(v, o.field("args"))
		for i, it := range items {
			p := index(o.field("args"), i)
			if s, ok := r.anyStr(it, p); ok {
				l.Args = append(l.Args, s)
				r.template(it, p, s, service, "service")
			}
		}
	}
	if v := o.get("env"); !isNull(v) {
		l.Env = r.env(v, o.field("env"), service, "service")
	}
	if v := o.get("knob_arg"); !isNull(v) {
		if s, ok := r.str(v, o.field("knob_arg")); ok {
			l.KnobArg = s
			r.template(v, o.field("knob_arg"), s, service, "knob")
		}
	}
	return l
}

// env reads a mapping of environment variables whose values are templates
// of kind (none when kind is "").
func (r *reader) env(n *yaml.Node, path, service, kind string) []EnvVar {
	o, ok := r.object(n, path, nil)
	if !ok {
		return nil
	}
	var out []EnvVar
	for _, name := range o.order {
		p := o.field(name)
		if !envNameRE.MatchString(name) {
			r.errorf(o.keys[name], p, nil, "%q is not an environment variable's name: letters, digits and '_', not starting with a digit", name)
			continue
		}
		v := resolve(o.get(name))
		if isNull(v) {
			r.errorf(o.keys[name], p, nil, `missing: the value (write "" for an empty one)`)
			continue
		}
		if s, ok := r.anyStr(v, p); ok {
			out = append(out, EnvVar{Name: name, Value: s})
			if kind != "" {
				r.template(v, p, s, service, kind)
			}
		}
	}
	return out
}

func (r *reader) compose(n *yaml.Node, path, service string) *Compose {
	o, ok := r.object(n, path, composeFields())
	if !ok {
		return nil
	}
	c := &Compose{}
	if v, ok := r.need(o, "image", `the image, like "team/store:{{.ImageTag}}"`); ok {
		if s, ok := r.str(v, o.field("image")); ok {
			c.Image = s
			r.template(v, o.field("image"), s, service, "image")
		}
	}
	if v := o.get("build"); !isNull(v) {
		if b, ok := r.object(v, o.field("build"), buildFields()); ok {
			c.Build = &Build{}
			if x, ok := r.need(b, "context", "the build context, relative to the lab's root"); ok {
				if s, ok := r.str(x, b.field("context")); ok {
					c.Build.Context = s
					r.files = append(r.files, fileUse{node: resolve(x), path: b.field("context"), rel: s, dir: true, what: "the build context"})
				}
			}
			if x := b.get("dockerfile"); !isNull(x) {
				c.Build.Dockerfile, _ = r.str(x, b.field("dockerfile"))
			}
			if x := b.get("args"); !isNull(x) {
				c.Build.Args = r.env(x, b.field("args"), service, "")
			}
		}
	}
	if v := o.get("env"); !isNull(v) {
		c.Env = r.env(v, o.field("env"), service, "service")
	}
	if v := o.get("knob_env_prefix"); !isNull(v) {
		if s, ok := r.str(v, o.field("knob_env_prefix")); ok {
			if !envNameRE.MatchString(s) {
				r.errorf(resolve(v), o.field("knob_env_prefix"), nil, "%q does not start an environment variable's name: letters, digits and '_', like CHAOSLAB_ORDERS_", s)
			}
			c.KnobEnvPrefix = s
		}
	}
	return c
}

func (r *reader) ready(n *yaml.Node, path string, s *Service, ports []string) {
	o, ok := r.object(n, path, readyFields())
	if !ok {
		return
	}
	switch {
	case o.has("http") && o.has("grpc"):
		r.errorf(o.keys["grpc"], o.field("grpc"), nil, "the probe is http already: give one of http and grpc")
	case o.has("http"):
		s.Ready.HTTP = r.endpoint(o.get("http"), o.field("http"), ports, "")
	case o.has("grpc"):
		g, ok := r.object(o.get("grpc"), o.field("grpc"), grpcHealthFields())
		if !ok {
			return
		}
		s.Ready.GRPC = &GRPCHealth{}
		if v, ok := r.need(g, "port", "the port that serves grpc.health.v1"); ok {
			s.Ready.GRPC.Port, _ = r.portRef(v, g.field("port"), ports)
		}
		if v := g.get("service"); !isNull(v) {
			s.Ready.GRPC.Service, _ = r.str(v, g.field("service"))
		}
	default:
		r.errorf(o.node, path, readyFields(), "missing: a probe, http: {port, path} or grpc: {port}")
	}
}

// endpoint reads {port, path}; path defaults to def (required when def is
// empty).
func (r *reader) endpoint(n *yaml.Node, path string, ports []string, def string) *Endpoint {
	o, ok := r.object(n, path, endpointFields())
	if !ok {
		return nil
	}
	e := &Endpoint{Path: def}
	if v, ok := r.need(o, "port", "one of the service's ports, by name"); ok {
		e.Port, _ = r.portRef(v, o.field("port"), ports)
	}
	if v := o.get("path"); !isNull(v) || def == "" {
		if def == "" {
			var ok bool
			if v, ok = r.need(o, "path", `the URL path, like "/readyz"`); !ok {
				return e
			}
		}
		if s, ok := r.str(v, o.field("path")); ok {
			if !strings.HasPrefix(s, "/") || strings.ContainsAny(s, " \t\n?#") {
				r.errorf(resolve(v), o.field("path"), nil, "%q is not a URL path: start it with '/', like \"/readyz\", without spaces, query or fragment", s)
			}
			e.Path = s
		}
	}
	return e
}

// portRef reads the name of one of ports.
func (r *reader) portRef(n *yaml.Node, path string, ports []string) (string, bool) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		r.errorf(n, path, ports, "name the port (%s), not its number", strings.Join(ports, ", "))
		return "", false
	}
	s, ok := r.str(n, path)
	if !ok {
		return "", false
	}
	if !slices.Contains(ports, s) {
		r.errorf(n, path, ports, "the service has no port %q", s)
		return "", false
	}
	return s, true
}

func (r *reader) knobs(n *yaml.Node, path string, s *Service) {
	o, ok := r.object(n, path, nil)
	if !ok {
		return
	}
	for _, name := range o.order {
		k := o.keys[name]
		if !knobNameRE.MatchString(name) {
			r.errorf(k, o.field(name), nil, "%q is not a flag name: letters, digits, '-', '_' or '.'", name)
			continue
		}
		if knob := r.knob(o.get(name), o.field(name), name); knob != nil {
			knob.Pos = pos(k)
			s.Knobs = append(s.Knobs, knob)
		}
	}
}

// knob reads one knob; nil when it is unusable.
func (r *reader) knob(n *yaml.Node, path, name string) *Knob {
	o, ok := r.object(n, path, knobFields())
	if !ok {
		return nil
	}
	k := &Knob{Name: name}
	v, ok := r.need(o, "type", "the value's type")
	if !ok {
		return nil
	}
	t, ok := r.enum(v, o.field("type"), KnobTypes())
	if !ok {
		return nil
	}
	k.Type = KnobType(t)
	good := true
	bounded := k.Type == KnobInt || k.Type == KnobFloat || k.Type == KnobDuration
	for _, b := range []string{"min", "max"} {
		if !bounded && o.has(b) {
			r.errorf(o.keys[b], o.field(b), nil, "a %s knob has no bounds: %s applies to int, float and duration knobs", k.Type, b)
			good = false
		}
	}
	if bounded {
		hint := map[KnobType]string{KnobInt: "a whole number", KnobFloat: "a number", KnobDuration: `a duration like "1ms"`}[k.Type]
		mn, ok1 := r.need(o, "min", "the smallest value a scenario may set: "+hint)
		mx, ok2 := r.need(o, "max", "the largest value a scenario may set: "+hint)
		if ok1 && ok2 {
			good = r.bounds(mn, mx, o, k) && good
		} else {
			good = false
		}
	}
	if o.has("values") {
		if k.Type != KnobString {
			r.errorf(o.keys["values"], o.field("values"), nil, "values applies to string knobs only")
			good = false
		} else {
			items, _ := r.list(o.get("values"), o.field("values"))
			for i, it := range items {
				if s, ok := r.str(it, index(o.field("values"), i)); ok {
					if slices.Contains(k.Values, s) {
						r.errorf(resolve(it), index(o.field("values"), i), nil, "repeated value %q", s)
					}
					k.Values = append(k.Values, s)
				}
			}
		}
	}
	if v, ok := r.need(o, "default", "the value the service runs with when no scenario sets it"); ok && good {
		if raw, ok := r.knobValue(v, o.field("default"), k.Type); ok {
			def, err := k.Parse(raw)
			if err != nil {
				var kerr *KnobError
				errors.As(err, &kerr)
				r.errorf(resolve(v), o.field("default"), kerr.Allowed, "%s", kerr.Msg)
			}
			k.Default = def
		}
	}
	if v, ok := r.need(o, "help", "one line saying what the knob does"); ok {
		if s, ok := r.str(v, o.field("help")); ok {
			s = strings.TrimSpace(s)
			if strings.Contains(s, "\n") {
				r.errorf(resolve(v), o.field("help"), nil, "is more than one line: say it in one")
			}
			k.Help = s
		}
	}
	return k
}

// bounds reads a knob's min and max.
func (r *reader) bounds(mn, mx *yaml.Node, o object, k *Knob) bool {
	switch k.Type {
	case KnobDuration:
		a, ok1 := r.duration(mn, o.field("min"), 0, math.MaxInt64)
		b, ok2 := r.duration(mx, o.field("max"), 0, math.MaxInt64)
		if ok1 && ok2 && a > b {
			r.errorf(resolve(mx), o.field("max"), nil, "%s is below min (%s)", b, a)
			return false
		}
		k.MinDuration, k.MaxDuration = a, b
		return ok1 && ok2
	case KnobInt:
		const lim = 1 << 53 // exact in a float64
		a, ok1 := r.integer(mn, o.field("min"), -lim, lim)
		b, ok2 := r.integer(mx, o.field("max"), -lim, lim)
		if ok1 && ok2 && a > b {
			r.errorf(resolve(mx), o.field("max"), nil, "%d is below min (%d)", b, a)
			return false
		}
		k.Min, k.Max = float64(a), float64(b)
		return ok1 && ok2
	default:
		a, ok1 := r.number(mn, o.field("min"))
		b, ok2 := r.number(mx, o.field("max"))
		if ok1 && ok2 && a > b {
			r.errorf(resolve(mx), o.field("max"), nil, "%s is below min (%s)", formatFloat(b), formatFloat(a))
			return false
		}
		k.Min, k.Max = a, b
		return ok1 && ok2
	}
}

// knobValue reads a YAML value of a knob of type t into the flag's syntax.
func (r *reader) knobValue(n *yaml.Node, path string, t KnobType) (string, bool) {
	n = resolve(n)
	switch t {
	case KnobBool:
		b, ok := r.boolean(n, path)
		return strconv.FormatBool(b), ok
	case KnobInt:
		if !r.scalar(n, path, "a whole number", "!!int") {
			return "", false
		}
		var i int64
		if err := n.Decode(&i); err != nil {
			r.errorf(n, path, nil, "%q is not a whole number", n.Value)
			return "", false
		}
		return strconv.FormatInt(i, 10), true
	case KnobFloat:
		f, ok := r.number(n, path)
		return formatFloat(f), ok
	case KnobDuration:
		if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
			r.errorf(n, path, nil, "%s has no unit: write a duration like \"%ss\" or \"500ms\"", n.Value, n.Value)
			return "", false
		}
		if !r.scalar(n, path, `a duration like "1s"`, "!!str") {
			return "", false
		}
		return n.Value, true
	}
	return r.anyStr(n, path)
}

func (r *reader) edges(n *yaml.Node) {
	o, ok := r.object(n, "edges", nil)
	if !ok {
		return
	}
	services := r.lab.ServiceNames()
	callers := append([]string{Client}, services...)
	for _, name := range o.order {
		k := o.keys[name]
		path := field("edges", name)
		m := edgeRE.FindStringSubmatch(name)
		if m == nil {
			r.errorf(k, path, nil, `%q is not an edge: write "caller->callee", like "api->store" or "client->api"`, name)
			continue
		}
		e := &Edge{Pos: pos(k), Name: name, From: m[1], To: m[2], TargetPort: defaultTargetPort}
		good := true
		switch {
		case r.rejected[e.From]:
			good = false
		case !slices.Contains(callers, e.From):
			r.errorf(k, path, callers, "the caller %q is no service of the lab (nor client)", e.From)
			good = false
		}
		switch {
		case e.To == Client:
			r.errorf(k, path, services, "client calls the system; it is never called: an edge leads to a service")
			good = false
		case r.rejected[e.To]:
			good = false
		case !slices.Contains(services, e.To):
			r.errorf(k, path, services, "the callee %q is no service of the lab", e.To)
			good = false
		case e.From == e.To:
			r.errorf(k, path, nil, "a service calling itself needs no proxy: remove the edge")
			good = false
		}
		eo, ok := r.object(o.get(name), path, edgeFields())
		if !ok {
			continue
		}
		if v, ok := r.need(eo, "proxy_port", "the port the edge's Toxiproxy proxy listens on"); ok {
			if p, ok := r.port(v, eo.field("proxy_port")); ok {
				e.ProxyPort = p
				r.portNodes[ComponentToxiproxy+"/"+ProxyPortName(name)] = resolve(v)
			}
		}
		if v := eo.get("target_port"); !isNull(v) {
			e.TargetPort, _ = r.str(v, eo.field("target_port"))
		}
		if to, ok := r.lab.Service(e.To); ok && good && e.TargetPort != "" && len(to.Ports) > 0 && to.Port(e.TargetPort) == 0 {
			at := eo.node
			if v := eo.get("target_port"); v != nil {
				at = resolve(v)
			}
			r.errorf(at, eo.field("target_port"), portNames(to.Ports), "%s has no port %q for the proxy to forward to", e.To, e.TargetPort)
		}
		if !good {
			r.rejected[name] = true
			continue
		}
		r.lab.Edges = append(r.lab.Edges, e)
	}
	if len(o.order) > 0 && len(r.lab.EntryEdges()) == 0 && len(r.rejected) == 0 {
		r.errorf(o.node, "edges", nil, "no entry edge: add one from client in front of the system, like client->api: {proxy_port: 8000}")
	}
	if len(o.order) == 0 {
		r.errorf(o.node, "edges", nil, "is empty: give at least the entry edge, like client->api: {proxy_port: 8000}")
	}
}

func (r *reader) telemetry(n *yaml.Node) {
	t := &r.lab.Telemetry
	t.Prometheus.Port = defaultPrometheusPort
	t.Prometheus.ScrapeInterval = defaultScrape
	t.Jaeger.Ports = JaegerPorts()
	t.HarnessPort = defaultHarnessPort
	o, ok := r.object(n, "telemetry", telemetryFields())
	if !ok {
		return
	}
	if v := o.get("prometheus"); !isNull(v) {
		r.prometheus(v, o.field("prometheus"))
	}
	if v := o.get("jaeger"); !isNull(v) {
		r.jaeger(v, o.field("jaeger"))
	}
	if v := o.get("span_flush"); !isNull(v) {
		t.SpanFlush, _ = r.duration(v, o.field("span_flush"), minSpanFlush, maxSpanFlush)
	}
	if v := o.get("harness"); !isNull(v) {
		if h, ok := r.object(v, o.field("harness"), harnessFields()); ok {
			if p := h.get("port"); !isNull(p) {
				t.HarnessPort, _ = r.port(p, h.field("port"))
				r.portNodes[ComponentHarness+"/metrics"] = resolve(p)
			}
		}
	}
}

func (r *reader) prometheus(n *yaml.Node, path string) {
	p := &r.lab.Telemetry.Prometheus
	o, ok := r.object(n, path, prometheusFields())
	if !ok {
		return
	}
	if v := o.get("url"); !isNull(v) {
		for _, own := range []string{"port", "scrape_interval"} {
			if o.has(own) {
				r.errorf(o.keys[own], o.field(own), nil, "applies to the harness's own Prometheus only: remove it, or remove url")
			}
		}
		p.URL, _ = r.url(v, o.field("url"))
		p.Port, p.ScrapeInterval = 0, 0
		return
	}
	if v := o.get("port"); !isNull(v) {
		p.Port, _ = r.port(v, o.field("port"))
		r.portNodes[ComponentPrometheus+"/http"] = resolve(v)
	}
	if v := o.get("scrape_interval"); !isNull(v) {
		p.ScrapeInterval, _ = r.duration(v, o.field("scrape_interval"), minScrape, maxScrape)
	}
}

func (r *reader) jaeger(n *yaml.Node, path string) {
	j := &r.lab.Telemetry.Jaeger
	o, ok := r.object(n, path, jaegerFields())
	if !ok {
		return
	}
	external := o.has("otlp_grpc") || o.has("otlp_http") || o.has("query_grpc") || o.has("query_url")
	if external {
		if o.has("ports") {
			r.errorf(o.keys["ports"], o.field("ports"), nil, "applies to the harness's own Jaeger only: remove it, or remove otlp_grpc, query_grpc and query_url")
		}
		j.Ports = nil
		if v, ok := r.need(o, "otlp_grpc", "host:port where the services export spans (OTLP/gRPC)"); ok {
			j.OTLPGRPC, _ = r.hostPort(v, o.field("otlp_grpc"))
		}
		if v := o.get("otlp_http"); !isNull(v) {
			j.OTLPHTTP, _ = r.hostPort(v, o.field("otlp_http"))
		}
		if v, ok := r.need(o, "query_grpc", "host:port of its api_v2 query service"); ok {
			j.QueryGRPC, _ = r.hostPort(v, o.field("query_grpc"))
		}
		if v, ok := r.need(o, "query_url", "its HTTP query API, like http://jaeger:16686"); ok {
			j.QueryURL, _ = r.url(v, o.field("query_url"))
		}
		if j.OTLPGRPC == "" {
			j.OTLPGRPC = "invalid:0" // keeps Own() false after a problem
		}
		return
	}
	v := o.get("ports")
	if isNull(v) {
		return
	}
	po, ok := r.object(v, o.field("ports"), portNames(JaegerPorts()))
	if !ok {
		return
	}
	for _, name := range po.order {
		if num, ok := r.port(po.get(name), po.field(name)); ok {
			i := slices.IndexFunc(j.Ports, func(p Port) bool { return p.Name == name })
			j.Ports[i] = Port{Pos: pos(po.keys[name]), Name: name, Number: num}
			r.portNodes[ComponentJaeger+"/"+name] = resolve(po.get(name))
		}
	}
}

// url reads an http(s) URL.
func (r *reader) url(n *yaml.Node, path string) (string, bool) {
	s, ok := r.str(n, path)
	if !ok {
		return "", false
	}
	if err := checkURL(s); err != nil {
		r.errorf(resolve(n), path, nil, "%q %v", s, err)
		return "", false
	}
	return s, true
}

// hostPort reads host:port.
func (r *reader) hostPort(n *yaml.Node, path string) (string, bool) {
	s, ok := r.str(n, path)
	if !ok {
		return "", false
	}
	if err := checkHostPort(s); err != nil {
		r.errorf(resolve(n), path, nil, "%q %v", s, err)
		return "", false
	}
	return s, true
}

func (r *reader) load(n *yaml.Node) {
	o, ok := r.object(n, "load", loadFields())
	if !ok {
		return
	}
	l := &r.lab.Load
	if v, ok := r.need(o, "scripts", `the directory of the k6 scripts, relative to the lab's root, like "loadtests"`); ok {
		if s, ok := r.str(v, o.field("scripts")); ok {
			l.Scripts = s
			r.files = append(r.files, fileUse{node: resolve(v), path: o.field("scripts"), rel: s, dir: true, what: "the k6 scripts' directory"})
		}
	}
	if v := o.get("entry"); !isNull(v) {
		l.Entry, _ = r.str(v, o.field("entry"))
		r.entryNode = resolve(v)
	}
	l.Auth.Provider = AuthNone
	if v := o.get("auth"); !isNull(v) {
		r.auth(v, o.field("auth"))
	}
	l.Acks = AcksConsole
	if v := o.get("acks"); !isNull(v) {
		l.Acks, _ = r.enum(v, o.field("acks"), []string{AcksConsole, AcksNone})
	}
	if v := o.get("env"); !isNull(v) {
		l.Env = r.env(v, o.field("env"), "", "")
		for _, e := range l.Env {
			if slices.Contains(ScriptEnvNames(), e.Name) || strings.HasPrefix(e.Name, "K6_PROMETHEUS_RW_") {
				r.errorf(resolve(v), field(o.field("env"), e.Name), nil, "is set by the harness (the script env contract, or k6's remote write): choose another name")
			}
		}
	}
}

func (r *reader) auth(n *yaml.Node, path string) {
	o, ok := r.object(n, path, authFields())
	if !ok {
		return
	}
	a := &r.lab.Load.Auth
	v, ok := r.need(o, "provider", "how load gets its TOKEN")
	if !ok {
		return
	}
	p, ok := r.enum(v, o.field("provider"), AuthProviders())
	if !ok {
		return
	}
	a.Provider = p
	settings := map[string][]string{
		AuthNone: nil, AuthHS256: {"key_file", "subject", "ttl"},
		AuthClient: {"token_url", "client_id", "secret_file", "scopes"}, AuthCommand: {"command"},
	}[p]
	for _, f := range o.order {
		if f != "provider" && !slices.Contains(settings, f) {
			allowed := settings
			if allowed == nil {
				allowed = []string{}
			}
			r.errorf(o.keys[f], o.field(f), allowed, "the %s provider has no setting %s", p, f)
		}
	}
	switch p {
	case AuthHS256:
		a.KeyFile, a.Subject, a.TTL = defaultKeyFile, defaultSubject, defaultTTL
		if v := o.get("key_file"); !isNull(v) {
			if s, ok := r.str(v, o.field("key_file")); ok {
				if filepath.IsAbs(s) || strings.HasPrefix(filepath.Clean(s), "..") {
					r.errorf(resolve(v), o.field("key_file"), nil, "%q: the key file is inside the run dir: give a path relative to it, like \"jwt.key\"", s)
				}
				a.KeyFile = s
			}
		}
		if v := o.get("subject"); !isNull(v) {
			a.Subject, _ = r.str(v, o.field("subject"))
		}
		if v := o.get("ttl"); !isNull(v) {
			a.TTL, _ = r.duration(v, o.field("ttl"), minTTL, maxTTL)
		}
	case AuthClient:
		a.KeyFile, a.ClientID = defaultSecretFile, defaultSubject
		if v, ok := r.need(o, "token_url", `the issuer's token endpoint, like "http://{{.Addr \"issuer\" \"public\"}}/oauth2/token"`); ok {
			if s, ok := r.str(v, o.field("token_url")); ok {
				a.TokenURL = s
				r.template(resolve(v), o.field("token_url"), s, "", "harness")
			}
		}
		if v := o.get("client_id"); !isNull(v) {
			a.ClientID, _ = r.str(v, o.field("client_id"))
		}
		if v := o.get("secret_file"); !isNull(v) {
			if s, ok := r.str(v, o.field("secret_file")); ok {
				if filepath.IsAbs(s) || strings.HasPrefix(filepath.Clean(s), "..") {
					r.errorf(resolve(v), o.field("secret_file"), nil, "%q: the secret file is inside the run dir: give a path relative to it, like \"client.secret\"", s)
				}
				a.KeyFile = s
			}
		}
		if v := o.get("scopes"); !isNull(v) {
			if items, ok := r.list(v, o.field("scopes")); ok {
				for i, it := range items {
					if s, ok := r.str(it, index(o.field("scopes"), i)); ok {
						a.Scopes = append(a.Scopes, s)
					}
				}
			}
		}
	case AuthCommand:
		if v, ok := r.need(o, "command", "the program that prints the token, and its arguments"); ok {
			argv, nodes, _ := r.argv(v, o.field("command"))
			a.Command = argv
			for i, s := range argv {
				r.template(nodes[i], index(o.field("command"), i), s, "", "harness")
			}
		}
	}
}

func (r *reader) plots(n *yaml.Node) {
	items, ok := r.list(n, "plots")
	if !ok {
		return
	}
	seen := map[string]int{}
	for i, it := range items {
		path := index("plots", i)
		o, ok := r.object(it, path, plotFields())
		if !ok {
			continue
		}
		p := Plot{Pos: pos(o.node)}
		if v, ok := r.need(o, "name", `what the plot shows, like "p99 latency POST /v1/items"`); ok {
			if s, ok := r.str(v, o.field("name")); ok {
				if j, dup := seen[s]; dup {
					r.errorf(resolve(v), o.field("name"), nil, "repeated plot name: plots[%d] is %q already", j, s)
				}
				seen[s] = i
				p.Name = s
			}
		}
		if v, ok := r.need(o, "unit", `how the value reads, like "s", "ratio" or "req/s"`); ok {
			p.Unit, _ = r.str(v, o.field("unit"))
		}
		if v, ok := r.need(o, "query", "an instant PromQL query"); ok {
			p.Query, _ = r.str(v, o.field("query"))
		}
		if v := o.get("scripts"); !isNull(v) {
			scripts, _ := r.list(v, o.field("scripts"))
			for j, sn := range scripts {
				sp := index(o.field("scripts"), j)
				if s, ok := r.str(sn, sp); ok {
					if !scriptRE.MatchString(s) {
						r.errorf(resolve(sn), sp, nil, "%q: name a k6 script by its file name in the scripts' directory, like \"checkout.js\"", s)
						continue
					}
					p.Scripts = append(p.Scripts, s)
					r.files = append(r.files, fileUse{node: resolve(sn), path: sp, rel: "", what: "script:" + s})
				}
			}
		}
		r.lab.Plots = append(r.lab.Plots, p)
	}
}

// checker reads builtin | command | http of o into c; builtins are the
// registered names.
func (r *reader) checker(o object, c *Checker, builtins []string, what string) bool {
	var set []string
	for _, k := range o.order {
		if k == "builtin" || k == "command" || k == "http" {
			set = append(set, k)
		}
	}
	switch len(set) {
	case 0:
		r.errorf(o.node, o.path, []string{"builtin", "command", "http"}, "missing: how to evaluate the %s: builtin, command or http", what)
		return false
	case 1:
	default:
		r.errorf(o.keys[set[1]], o.field(set[1]), nil, "the %s is %s already: give one of builtin, command and http", what, set[0])
		return false
	}
	switch set[0] {
	case "builtin":
		v := o.get("builtin")
		s, ok := r.str(v, o.field("builtin"))
		if !ok {
			return false
		}
		if !slices.Contains(builtins, s) {
			if len(builtins) == 0 {
				r.errorf(resolve(v), o.field("builtin"), nil, "no built-in %s is registered, so there is no %q: use command or http", what, s)
			} else {
				r.errorf(resolve(v), o.field("builtin"), builtins, "unknown built-in %s %q", what, s)
			}
			return false
		}
		c.Builtin = s
	case "command":
		argv, nodes, ok := r.argv(o.get("command"), o.field("command"))
		if !ok {
			return false
		}
		c.Command = argv
		for i, s := range argv {
			r.template(nodes[i], index(o.field("command"), i), s, "", "harness")
		}
	case "http":
		v := o.get("http")
		s, ok := r.str(v, o.field("http"))
		if !ok {
			return false
		}
		c.HTTP = s
		r.template(resolve(v), o.field("http"), s, "", "harness-url")
	}
	return true
}

func (r *reader) settle(n *yaml.Node) {
	o, ok := r.object(n, "settle", settleFields())
	if !ok {
		return
	}
	s := &Settle{Timeout: defaultSettleTimeout, Interval: defaultSettleInterval}
	ok = r.checker(o, &s.Checker, r.cfg.builtins.Settle, "settle probe")
	if v := o.get("timeout"); !isNull(v) {
		s.Timeout, _ = r.duration(v, o.field("timeout"), minSettle, maxSettle)
	}
	if v := o.get("interval"); !isNull(v) {
		s.Interval, _ = r.duration(v, o.field("interval"), minSettleInterval, maxSettle)
		if s.Timeout > 0 && s.Interval > s.Timeout {
			r.errorf(resolve(v), o.field("interval"), nil, "%s is longer than the timeout (%s): the probe would run once", s.Interval, s.Timeout)
		}
	}
	if ok {
		r.lab.Settle = s
	}
}

func (r *reader) invariants(n *yaml.Node) {
	o, ok := r.object(n, "invariants", nil)
	if !ok {
		return
	}
	for _, name := range o.order {
		k := o.keys[name]
		path := o.field(name)
		if !checkNameRE.MatchString(name) {
			r.errorf(k, path, nil, "%q: an invariant's name is 1 to 64 lowercase letters, digits, '-', '_' or '.'", name)
			continue
		}
		io, ok := r.object(o.get(name), path, invariantFields())
		if !ok {
			continue
		}
		if isNull(io.node) {
			r.errorf(k, path, []string{"builtin", "command", "http"}, "missing: how to evaluate the invariant: builtin, command or http")
			continue
		}
		inv := &Invariant{Pos: pos(k), Name: name, Timeout: defaultInvariantTimeout}
		good := r.checker(io, &inv.Checker, r.cfg.builtins.Invariants, "invariant")
		if v := io.get("timeout"); !isNull(v) {
			inv.Timeout, _ = r.duration(v, io.field("timeout"), minInvariantTimeout, maxInvariantTimeout)
		}
		if good {
			r.lab.Invariants = append(r.lab.Invariants, inv)
		}
	}
}

// template records a template to check once the lab is read.
func (r *reader) template(n *yaml.Node, path, text, service, kind string) {
	r.templates = append(r.templates, templateUse{node: resolve(n), path: path, text: text, service: service, kind: kind})
}

// checkTemplates parses every template and checks what it names.
func (r *reader) checkTemplates() {
	l := r.lab
	harness := harnessVocab{ports: map[string][]string{}}
	for _, s := range l.Services {
		harness.ports[s.Name] = portNames(s.Ports)
		harness.order = append(harness.order, s.Name)
	}
	for _, t := range r.templates {
		parsed, err := parseTemplate(t.path, t.text)
		if err != nil {
			r.errorf(t.node, t.path, nil, "%v", err)
			continue
		}
		var vocab vocabulary
		switch t.kind {
		case "service", "image":
			s, ok := l.Service(t.service)
			if !ok {
				continue
			}
			var edges []string
			for _, e := range l.Calls(s.Name) {
				edges = append(edges, e.Name)
			}
			vocab = serviceVocab{service: s.Name, ports: portNames(s.Ports), edges: edges,
				auth: authVarNames(l.Load.Auth.Provider), image: t.kind == "image"}
		case "knob":
			vocab = knobVocab{}
		default:
			vocab = harness
		}
		bad := false
		for _, ref := range refs(parsed) {
			if slices.ContainsFunc(ref.args, func(a string) bool { return r.rejected[a] }) {
				continue // reported where it is declared
			}
			if p := vocab.check(ref); p != nil {
				r.errorf(t.node, t.path, p.allowed, "%s", p.msg)
				bad = true
			}
		}
		if !bad && t.kind == "harness-url" && !strings.Contains(t.text, "{{") {
			if err := checkURL(t.text); err != nil {
				r.errorf(t.node, t.path, nil, "%q %v", t.text, err)
			}
		}
	}
}

// checkEntry checks load.entry, or picks the only entry edge.
func (r *reader) checkEntry(top object) {
	l := r.lab
	entries := l.EntryEdges()
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name
	}
	switch {
	case r.entryNode != nil && l.Load.Entry != "":
		if !slices.Contains(names, l.Load.Entry) {
			r.errorf(r.entryNode, "load.entry", names, "%q is not an entry edge (one from client)", l.Load.Entry)
		}
	case len(entries) == 1:
		l.Load.Entry = entries[0].Name
	case len(entries) > 1 && top.has("load"):
		r.errorf(top.keys["load"], "load.entry", names, "missing: the lab has %d entry edges: say which one BASE_URL points at", len(entries))
	}
}

// checkPorts reports every port the plan has twice.
func (r *reader) checkPorts() {
	seen := map[int]PlannedPort{}
	for _, p := range r.lab.PortPlan() {
		if p.Number <= 0 {
			continue
		}
		prev, dup := seen[p.Number]
		if !dup {
			seen[p.Number] = p
			continue
		}
		n := r.portNodes[p.Component+"/"+p.Name]
		path := ""
		if n == nil {
			n = r.portNodes[prev.Component+"/"+prev.Name]
		}
		r.errorf(n, path, nil, "port %d is planned twice: %s and %s; give each listener its own port", p.Number, prev, p)
	}
}

// checkFiles checks, for Load, the files and directories the lab names.
func (r *reader) checkFiles() {
	if r.cfg.dir == "" {
		return
	}
	l := r.lab
	rootDir := filepath.Join(r.cfg.dir, l.Root)
	scriptsOK := false
	for _, f := range r.files {
		rel, what := f.rel, f.what
		if script, ok := strings.CutPrefix(what, "script:"); ok {
			if !scriptsOK {
				continue // the scripts' directory is reported
			}
			rel, what = filepath.Join(l.Load.Scripts, script), "the k6 script"
		}
		p := rel
		if !filepath.IsAbs(p) {
			p = filepath.Join(rootDir, rel)
		}
		if f.path == "root" {
			p = rootDir
		}
		info, err := os.Stat(p)
		switch {
		case err != nil:
			r.errorf(f.node, f.path, nil, "%s %s does not exist", what, p)
		case f.dir && !info.IsDir():
			r.errorf(f.node, f.path, nil, "%s %s is not a directory", what, p)
		case !f.dir && info.IsDir():
			r.errorf(f.node, f.path, nil, "%s %s is a directory, not a file", what, p)
		}
		if f.path == "root" && err != nil {
			return // every other path would fail the same way
		}
		if f.path == "load.scripts" {
			scriptsOK = err == nil && info.IsDir()
		}
	}
}
