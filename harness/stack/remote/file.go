package remote

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/harness/diag"
	"github.com/chaoslab/chaoslab/harness/lab"
)

// File is a remote endpoints file: where a lab that runs elsewhere answers.
// The stack reaches everything through it and starts, stops and creates
// nothing.
type File struct {
	// Path is where the file was read from.
	Path string
	// Lab is the name of the lab file the system is an instance of.
	Lab string
	// Entry is the base URL the load is sent to (the system's entry point;
	// through the entry edge's proxy, for client-side faults to apply).
	Entry string
	// Prometheus is the Prometheus HTTP API (k6 remote-writes to
	// /api/v1/write: it needs --web.enable-remote-write-receiver).
	Prometheus string
	// JaegerQueryGRPC is host:port of Jaeger's api_v2 QueryService;
	// JaegerQueryURL its HTTP query API.
	JaegerQueryGRPC string
	JaegerQueryURL  string
	// Toxiproxy is the Toxiproxy HTTP API; "" when the system has none: no
	// network faults then.
	Toxiproxy string
	// KeyFile is the hs256-jwt key the services verify the load's token
	// with (absolute), "" when the lab's auth needs none.
	KeyFile string
	// Services by name, and their names in file order.
	Services     map[string]Service
	ServiceNames []string
	// Proxies names the Toxiproxy proxy of each edge that takes network
	// faults ("caller->callee" → proxy); an edge of the lab not listed
	// takes none.
	Proxies map[string]string
	// ReplicaProxies names, for an edge to a service with replicas, the
	// proxies to its other replicas (the second on): a network fault on
	// the edge acts on each.
	ReplicaProxies map[string][]string
}

// Service is where one service of the remote lab answers.
type Service struct {
	// Addr is host:port of the service itself, for the lab's built-in
	// checks that call it ("": none can).
	Addr string
	// Metrics is its Prometheus metrics URL ("": it has none).
	Metrics string
	// Ready is its readiness URL: http(s)://… answers 200 when ready,
	// grpc://host:port/<service> asks grpc.health.v1.
	Ready string
	// Admin is the base URL of its fault admin API (the faults are at
	// Admin/faults), "" when it takes no request faults.
	Admin string
	// AdminToken is the bearer token the admin API wants ("": none), from
	// admin_token or the file admin_token_file.
	AdminToken string
	// Instances are the admin APIs of each replica of a service with
	// replicas, in the lab's order (request faults act on each).
	Instances []Instance
}

// Instance is one replica of a service with replicas of the remote lab.
type Instance struct {
	// Name is the replica's instance name ("store-1").
	Name string
	// Admin is the base URL of its fault admin API.
	Admin string
}

// The fields of a remote file, in the documentation's order.
func topFields() []string {
	return []string{"lab", "entry", "prometheus", "jaeger", "toxiproxy", "auth", "services", "edges"}
}
func jaegerFields() []string { return []string{"query_grpc", "query_http"} }
func authFields() []string   { return []string{"key_file"} }
func serviceFields() []string {
	return []string{"addr", "metrics", "ready", "admin", "admin_token", "admin_token_file", "instances"}
}
func edgeFields() []string { return []string{"proxy", "replica_proxies"} }

// LoadFile reads the remote file at path and checks it against lab file l (nil:
// against nothing, for commands that need no lab file). Relative paths in
// it (auth.key_file, admin_token_file) are relative to the file's
// directory; the files they name must exist. A file with problems returns
// a *diag.ValidationError listing all of them at file:line:col.
func LoadFile(path string, l *lab.Lab) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the remote endpoints file: %w", err)
	}
	return parse(path, data, l, filepath.Dir(path), os.ReadFile)
}

// ParseFile checks a remote file's content against lab file l (nil: nothing);
// name is where it came from, for messages. Relative paths are relative to
// dir; the token files are read with read.
func ParseFile(name string, data []byte, l *lab.Lab, dir string, read func(string) ([]byte, error)) (*File, error) {
	return parse(name, data, l, dir, read)
}

func parse(name string, data []byte, l *lab.Lab, dir string, read func(string) ([]byte, error)) (*File, error) {
	d := &decoder{file: name, dir: dir, read: read}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	empty := func() {
		d.errorf(nil, "", nil, "the file is empty: a remote endpoints file needs %s", strings.Join(requiredTop(), ", "))
	}
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		empty()
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
		d.errorf(&extra, "", nil, `a remote endpoints file holds one YAML document: remove the "---" and what follows`)
	}
	if len(doc.Content) == 0 {
		empty()
		return nil, d.result()
	}
	f := &File{Path: name, Services: map[string]Service{}, Proxies: map[string]string{}}
	d.read1(doc.Content[0], f, l)
	if err := d.result(); err != nil {
		return nil, err
	}
	return f, nil
}

func requiredTop() []string { return []string{"lab", "entry", "prometheus", "jaeger", "services"} }

// decoder reads yaml.Nodes into a File, collecting every problem with its
// position (as harness/lab and harness/scenario do).
type decoder struct {
	file     string
	dir      string
	read     func(string) ([]byte, error)
	problems []diag.Problem
}

// errorf records a problem at n (nil: the top of the file) for the field
// at path.
func (d *decoder) errorf(n *yaml.Node, path string, allowed []string, format string, args ...any) {
	p := diag.Problem{File: d.file, Field: path, Msg: fmt.Sprintf(format, args...), Allowed: allowed, Line: 1, Column: 1}
	if n != nil && n.Line > 0 {
		p.Line, p.Column = n.Line, max(n.Column, 1)
	}
	d.problems = append(d.problems, p)
}

func (d *decoder) result() error {
	if len(d.problems) == 0 {
		return nil
	}
	diag.SortByPosition(d.problems)
	return &diag.ValidationError{Problems: d.problems}
}

// mapping is a YAML mapping: its keys in file order, with their key and
// value nodes.
type mapping struct {
	node  *yaml.Node
	path  string
	order []string
	keys  map[string]*yaml.Node
	vals  map[string]*yaml.Node
}

func (m mapping) get(key string) *yaml.Node { return m.vals[key] }

// at is where to report a problem with key: the key, or the mapping when
// it is absent.
func (m mapping) at(key string) *yaml.Node {
	if k := m.keys[key]; k != nil {
		return k
	}
	return m.node
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// describe names what n is, for "want X, got Y".
func describe(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}

// mapping reads n as a mapping whose keys are among allowed (nil: any),
// reporting unknown and repeated keys.
func (d *decoder) mapping(n *yaml.Node, path string, allowed []string) (mapping, bool) {
	n = resolve(n)
	m := mapping{node: n, path: path, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}}
	if isNull(n) {
		return m, true
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, allowed, "want a mapping of field: value, got %s", describe(n))
		return m, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, allowed, "want a field name, got %s", describe(k))
			continue
		}
		name := k.Value
		switch {
		case allowed != nil && !slices.Contains(allowed, name):
			d.errorf(k, join(path, name), allowed, "unknown field")
			continue
		case m.keys[name] != nil:
			d.errorf(k, join(path, name), nil, "repeated field: line %d has it already", m.keys[name].Line)
			continue
		}
		m.keys[name], m.vals[name] = k, v
		m.order = append(m.order, name)
	}
	return m, true
}

// str reads the string at key of m; required says the field must be there.
func (d *decoder) str(m mapping, key string, required bool, hint string) (string, *yaml.Node, bool) {
	n := resolve(m.get(key))
	path := join(m.path, key)
	switch {
	case n == nil && required:
		d.errorf(m.at(key), path, nil, "missing: %s", hint)
		return "", nil, false
	case n == nil:
		return "", nil, true
	case n.Kind != yaml.ScalarNode || isNull(n) || n.ShortTag() != "!!str":
		d.errorf(n, path, nil, "want a string (%s), got %s", hint, describe(n))
		return "", n, false
	case strings.TrimSpace(n.Value) == "":
		d.errorf(n, path, nil, "is empty: %s", hint)
		return "", n, false
	}
	return strings.TrimSpace(n.Value), n, true
}

// httpURL reads an http(s) URL with a host at key of m.
func (d *decoder) httpURL(m mapping, key string, required bool, hint string) string {
	v, n, ok := d.str(m, key, required, hint)
	if !ok || v == "" {
		return ""
	}
	if err := checkHTTPURL(v); err != nil {
		d.errorf(n, join(m.path, key), nil, "%q: %v: %s", v, err, hint)
		return ""
	}
	return strings.TrimSuffix(v, "/")
}

func checkHTTPURL(v string) error {
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("want an http:// or https:// URL")
	case u.Host == "":
		return errors.New("the URL has no host")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("the URL has a query or fragment")
	}
	return nil
}

// hostPort reads host:port at key of m.
func (d *decoder) hostPort(m mapping, key string, required bool, hint string) string {
	v, n, ok := d.str(m, key, required, hint)
	if !ok || v == "" {
		return ""
	}
	if host, port, err := net.SplitHostPort(v); err != nil || host == "" || port == "" {
		d.errorf(n, join(m.path, key), nil, "%q: want host:port (no scheme): %s", v, hint)
		return ""
	}
	return v
}

// path reads a file name at key of m, resolved against the file's
// directory; the file must exist when the decoder can read files.
func (d *decoder) path(m mapping, key, hint string) (string, *yaml.Node) {
	v, n, ok := d.str(m, key, false, hint)
	if !ok || v == "" {
		return "", nil
	}
	if !filepath.IsAbs(v) {
		v = filepath.Join(d.dir, v)
	}
	abs, err := filepath.Abs(v)
	if err == nil {
		v = abs
	}
	return v, n
}

// read1 reads the top of the file into f, checking it against l.
func (d *decoder) read1(root *yaml.Node, f *File, l *lab.Lab) {
	top, ok := d.mapping(root, "", topFields())
	if !ok {
		return
	}
	if isNull(top.node) {
		d.errorf(top.node, "", nil, "the file is empty: a remote endpoints file needs %s", strings.Join(requiredTop(), ", "))
		return
	}
	if v, n, ok := d.str(top, "lab", true, "the name of the lab file the system runs (its name: field)"); ok {
		f.Lab = v
		if l != nil && v != l.Name {
			d.errorf(n, "lab", []string{l.Name}, "the file describes lab %q, but the lab file %s is lab %q: use the remote file of that lab, or give its lab file with -lab", v, l.File, l.Name)
		}
	}
	f.Entry = d.httpURL(top, "entry", true, "the base URL the load is sent to, like http://shop.example:8000")
	f.Prometheus = d.httpURL(top, "prometheus", true, "the Prometheus HTTP API, like http://prometheus.example:9090")
	if n := top.get("jaeger"); n == nil {
		d.errorf(top.node, "jaeger", jaegerFields(), "missing: Jaeger's query APIs, {query_grpc: host:16685, query_http: http://host:16686}")
	} else if jm, ok := d.mapping(n, "jaeger", jaegerFields()); ok {
		f.JaegerQueryGRPC = d.hostPort(jm, "query_grpc", true, "host:port of Jaeger's api_v2 QueryService (gRPC, 16685 by default)")
		f.JaegerQueryURL = d.httpURL(jm, "query_http", true, "Jaeger's HTTP query API, like http://jaeger.example:16686")
	}
	f.Toxiproxy = d.httpURL(top, "toxiproxy", false, "the Toxiproxy HTTP API, like http://toxiproxy.example:8474; leave it out when the system has none (no network faults then)")
	if n := top.get("auth"); n != nil {
		if am, ok := d.mapping(n, "auth", authFields()); ok {
			var kn *yaml.Node
			f.KeyFile, kn = d.path(am, "key_file", "the file holding the lab's shared secret: the HS256 key the services verify tokens with (hs256-jwt), or the client's secret at the issuer (client-credentials)")
			if f.KeyFile != "" && d.read != nil {
				if _, err := d.read(f.KeyFile); err != nil {
					d.errorf(kn, "auth.key_file", nil, "%v", err)
				}
			}
		}
	}
	if l != nil && l.Load.Auth.Provider == lab.AuthHS256 && f.KeyFile == "" {
		d.errorf(top.at("auth"), "auth.key_file", nil, "missing: lab %s signs the load's token with an HS256 key (load.auth.provider hs256-jwt): give the key its services verify tokens with", l.Name)
	}
	if l != nil && l.Load.Auth.Provider == lab.AuthClient && f.KeyFile == "" {
		d.errorf(top.at("auth"), "auth.key_file", nil, "missing: lab %s fetches the load's token from its issuer (load.auth.provider client-credentials): give the client's secret", l.Name)
	}
	d.services(top, f, l)
	d.edges(top, f, l)
}

// services reads services: one entry per service of the lab.
func (d *decoder) services(top mapping, f *File, l *lab.Lab) {
	n := top.get("services")
	if n == nil {
		d.errorf(top.node, "services", labServices(l), "missing: where each service of the lab answers (ready, metrics, admin)")
		return
	}
	var names []string
	if l != nil {
		names = l.ServiceNames()
	}
	sm, ok := d.mapping(n, "services", names)
	if !ok {
		return
	}
	for _, name := range sm.order {
		path := join("services", name)
		m, ok := d.mapping(sm.get(name), path, serviceFields())
		if !ok {
			continue
		}
		var ls *lab.Service
		if l != nil {
			ls, _ = l.Service(name)
		}
		s := Service{}
		s.Addr = d.hostPort(m, "addr", false, "host:port where the service itself answers")
		wantMetrics := ls != nil && ls.Metrics != nil
		s.Metrics = d.httpURL(m, "metrics", wantMetrics, "its Prometheus metrics URL, like http://host:9081/metrics")
		if v, n, ok := d.str(m, "ready", true, "its readiness URL: http(s)://… answering 200, or grpc://host:port/<service> for grpc.health.v1"); ok {
			if err := checkReadyURL(v); err != nil {
				d.errorf(n, join(path, "ready"), nil, "%q: %v", v, err)
			} else {
				s.Ready = v
			}
		}
		s.Admin = strings.TrimSuffix(d.httpURL(m, "admin", false, "the base URL of its fault admin API (the faults are at <admin>/faults)"), "/faults")
		if s.Admin != "" && ls != nil && ls.Faults == nil {
			d.errorf(m.at("admin"), join(path, "admin"), nil, "service %s has no fault admin API in lab %s (no faults: at %s:%d): remove admin", name, l.Name, l.File, ls.Pos.Line)
		}
		d.token(m, path, &s)
		d.instances(m, path, ls, &s)
		f.Services[name] = s
		f.ServiceNames = append(f.ServiceNames, name)
	}
	if l != nil {
		var missing []string
		for _, name := range l.ServiceNames() {
			if _, ok := f.Services[name]; !ok {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			d.errorf(top.at("services"), "services", nil, "lab %s has services %s that the file does not list: give each its ready URL (and metrics, admin)", l.Name, strings.Join(missing, ", "))
		}
	}
}

// instances reads the admin API of each replica of a service with
// replicas that takes request faults: the file must list every one, or a
// request fault would act on some replicas only.
func (d *decoder) instances(m mapping, path string, ls *lab.Service, s *Service) {
	n := m.get("instances")
	want := ls != nil && ls.Replicas > 1 && s.Admin != ""
	if n == nil {
		if want {
			d.errorf(m.at("admin"), join(path, "instances"), ls.Instances(), "service %s runs %d replicas: give each replica's admin API (instances: {%s: {admin: …}, …}), or a request fault would act on one of them only", ls.Name, ls.Replicas, ls.Instance(0))
		}
		return
	}
	var allowed []string
	if ls != nil {
		allowed = ls.Instances()
	}
	im, ok := d.mapping(n, join(path, "instances"), allowed)
	if !ok {
		return
	}
	for _, name := range im.order {
		r, ok := d.mapping(im.get(name), join(join(path, "instances"), name), []string{"admin"})
		if !ok {
			continue
		}
		admin := strings.TrimSuffix(d.httpURL(r, "admin", true, "the base URL of the replica's fault admin API"), "/faults")
		s.Instances = append(s.Instances, Instance{Name: name, Admin: admin})
	}
	if want && len(s.Instances) != ls.Replicas && len(im.order) == len(s.Instances) {
		d.errorf(n, join(path, "instances"), ls.Instances(), "service %s runs %d replicas: give each one's admin API", ls.Name, ls.Replicas)
	}
}

// token reads admin_token or admin_token_file, which need admin.
func (d *decoder) token(m mapping, path string, s *Service) {
	tok, tn, _ := d.str(m, "admin_token", false, "the bearer token of its admin API")
	file, fn := d.path(m, "admin_token_file", "a file holding the bearer token of its admin API")
	switch {
	case tok != "" && file != "":
		d.errorf(fn, join(path, "admin_token_file"), nil, "give admin_token or admin_token_file, not both")
		return
	case (tok != "" || file != "") && s.Admin == "" && m.get("admin") == nil:
		at := tn
		if at == nil {
			at = fn
		}
		d.errorf(at, path, nil, "a token without admin: the token is for the fault admin API at admin")
		return
	}
	s.AdminToken = tok
	if file != "" && d.read != nil {
		b, err := d.read(file)
		switch {
		case err != nil:
			d.errorf(fn, join(path, "admin_token_file"), nil, "%v", err)
		case strings.TrimSpace(string(b)) == "":
			d.errorf(fn, join(path, "admin_token_file"), nil, "%s is empty: it holds the admin API's bearer token", file)
		default:
			s.AdminToken = strings.TrimSpace(string(b))
		}
	}
}

// checkReadyURL accepts http(s):// and grpc://host:port[/service].
func checkReadyURL(v string) error {
	if rest, ok := strings.CutPrefix(v, "grpc://"); ok {
		addr, _, _ := strings.Cut(rest, "/")
		if host, port, err := net.SplitHostPort(addr); err != nil || host == "" || port == "" {
			return errors.New("want grpc://host:port/<service> (grpc.health.v1; an empty service asks for the whole server)")
		}
		return nil
	}
	if err := checkHTTPURL(v); err != nil {
		return fmt.Errorf("%v, or grpc://host:port/<service>", err)
	}
	return nil
}

// edges reads edges: the Toxiproxy proxy of each edge that takes network
// faults; they need toxiproxy.
func (d *decoder) edges(top mapping, f *File, l *lab.Lab) {
	n := top.get("edges")
	if n == nil {
		return
	}
	if f.Toxiproxy == "" && top.get("toxiproxy") == nil {
		d.errorf(top.at("edges"), "edges", nil, "edges name Toxiproxy proxies, and the file gives no toxiproxy: add its API URL, or remove edges")
		return
	}
	var names []string
	if l != nil {
		names = l.EdgeNames()
	}
	em, ok := d.mapping(n, "edges", names)
	if !ok {
		return
	}
	proxies := map[string]string{} // proxy → edge, for duplicates
	for _, name := range em.order {
		m, ok := d.mapping(em.get(name), join("edges", name), edgeFields())
		if !ok {
			continue
		}
		p, pn, ok := d.str(m, "proxy", true, "the name of the Toxiproxy proxy that carries the edge (it must exist: the stack never creates one)")
		if !ok {
			continue
		}
		if other, dup := proxies[p]; dup {
			d.errorf(pn, join(join("edges", name), "proxy"), nil, "proxy %q carries edge %s already: each edge has its own proxy", p, other)
			continue
		}
		proxies[p] = name
		f.Proxies[name] = p
		d.replicaProxies(m, name, f, l)
	}
}

// replicaProxies reads the proxies to the other replicas of an edge's
// callee: the file must list them for a callee with replicas, or a
// network fault on the edge would act on its first replica only.
func (d *decoder) replicaProxies(m mapping, edge string, f *File, l *lab.Lab) {
	path := join(join("edges", edge), "replica_proxies")
	want := 0
	if l != nil {
		if e, ok := l.Edge(edge); ok {
			want = l.Replicas(e.To) - 1
		}
	}
	n := resolve(m.get("replica_proxies"))
	if n == nil {
		if want > 0 {
			d.errorf(m.at("proxy"), path, nil, "the callee of %s runs %d replicas: name the proxies to the other %d (replica_proxies: [...]), or a network fault on the edge would act on the first only", edge, want+1, want)
		}
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, nil, "want a list of proxy names, got %s", describe(n))
		return
	}
	var names []string
	for _, c := range n.Content {
		c = resolve(c)
		if c.Kind != yaml.ScalarNode || strings.TrimSpace(c.Value) == "" {
			d.errorf(c, path, nil, "want a proxy name, got %s", describe(c))
			continue
		}
		names = append(names, strings.TrimSpace(c.Value))
	}
	if l != nil && len(names) != want {
		d.errorf(n, path, nil, "the callee of %s runs %d replicas: name the proxies to the other %d, not %d", edge, want+1, want, len(names))
	}
	if f.ReplicaProxies == nil {
		f.ReplicaProxies = map[string][]string{}
	}
	f.ReplicaProxies[edge] = names
}

func labServices(l *lab.Lab) []string {
	if l == nil {
		return nil
	}
	return l.ServiceNames()
}
