// Package lab reads and checks lab files (docs/lab.md): one YAML file that
// declares a system under test — its services (how to run each on each
// stack, readiness, metrics, an optional fault admin API, knobs, replicas),
// its edges (each carried by a Toxiproxy proxy), its telemetry, how its load
// authenticates, its SLOs, plots, settle probe and invariants. The shop
// chaoslab ships with is one lab: labs/shop/lab.yaml.
//
// Load and Parse check everything and report every problem at once as a
// *diag.ValidationError, each as "file:line:col: field.path: what is wrong;
// allowed: …"; Load also reads the services' protobuf descriptors into
// their request-fault methods. The harness consumes the typed Lab, never
// the YAML: the stacks render each service's command and environment with
// Render*, the scenario parser checks scenarios against it
// (scenario.WithLab), and faults are validated against FaultTopology, the
// lab as package faults sees it.
package lab

import (
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/faults"
)

// Client is the caller of an entry edge: the load generator and the
// client-side faults sit in front of the system ("client->api").
const Client = "client"

// Protocol is what a service speaks on the port its edges reach.
type Protocol string

// The protocols.
const (
	HTTP Protocol = "http"
	GRPC Protocol = "grpc"
)

// Pos is where something is declared in the lab file (1-based).
type Pos struct {
	Line, Column int
}

// Lab is one checked lab file.
type Lab struct {
	// File is the path the lab was read from (as given to Load or Parse).
	File string
	// Name names the lab in reports: "shop".
	Name string
	// Description says in a sentence or two what the system is.
	Description string
	// Root is the directory the lab's relative paths (scripts, SLOs, build
	// contexts, commands) are resolved against, relative to the lab file's
	// directory; "." when the file does not say.
	Root string
	// Services in file order.
	Services []*Service
	// Edges in file order: the network paths between services, and from
	// Client to the system's entry points.
	Edges []*Edge
	// Proxies is the Toxiproxy that carries the edges.
	Proxies Proxies
	// ReplicaPortStep is what replica i adds, i times, to every port of its
	// service and to the proxy port of every edge to it: replica 1 of a
	// service on 8080 listens on 8080+step.
	ReplicaPortStep int
	// Telemetry is where metrics and traces go.
	Telemetry Telemetry
	// Load is how the k6 scripts are found, authenticate and report writes.
	Load LoadSettings
	// SLOs is the SLO definitions file (slo/slos.yaml), relative to Root;
	// empty: the lab has no SLOs.
	SLOs string
	// Plots are the series the report draws, in file order.
	Plots []Plot
	// Settle is how the harness knows in-flight work has finished after the
	// load; nil: it does not wait.
	Settle *Settle
	// Invariants are the named data checks scenarios may ask for, in file
	// order.
	Invariants []*Invariant
}

// Service is one service of the system under test.
type Service struct {
	Pos
	// Name is unique in the lab and is what scenarios, edges and templates
	// call the service.
	Name string
	// Protocol is what the service speaks on the port its edges reach.
	Protocol Protocol
	// Replicas is how many copies run (at least 1; default 1).
	Replicas int
	// Ports are the service's listeners, by name, in file order, as the
	// default port plan has them (the harness may shift them all by an
	// offset). Templates see them as .Listen.<name>.
	Ports []Port
	// Local runs the service as a process (the local stack); nil: it does
	// not run there.
	Local *Local
	// Compose runs the service as a container (the compose stack); nil: it
	// does not run there.
	Compose *Compose
	// Ready says when a started service is ready.
	Ready Ready
	// Metrics is where Prometheus scrapes the service; nil: it is not
	// scraped.
	Metrics *Endpoint
	// Faults is the fault admin API (package faultinject's protocol); nil:
	// the service has no request faults, and a scenario that asks for one
	// is an error.
	Faults *Endpoint
	// Descriptors are a gRPC service's protobuf descriptors, which Load
	// reads into Methods; nil: none.
	Descriptors *Descriptors
	// Methods are what a request fault on the service may name besides
	// "*": a gRPC service's full methods ("/store.v1.StoreService/Get"),
	// read from its Descriptors by Load (Parse reads no file: none); an
	// HTTP service's routes ("GET /v1/items/{id}"), from the file's
	// methods.
	Methods []string
	// Knobs are the flags scenarios may set, in file order.
	Knobs []*Knob
}

// Port is one named listener.
type Port struct {
	Pos
	Name   string
	Number int
}

// Local is how the local stack runs a service: one process per replica.
// Every string is a template (see Vars).
type Local struct {
	// Command is the program: "{{.BinDir}}/store"; relative to Root when
	// relative after rendering.
	Command string
	// Args are its arguments.
	Args []string
	// Env are extra environment variables, in file order.
	Env []EnvVar
	// KnobArg renders one knob as an argument appended to Args; its data are
	// .Flag and .Value. Default "-{{.Flag}}={{.Value}}" (Go's flag package:
	// the last occurrence of a flag wins).
	KnobArg string
}

// Compose is how the compose stack runs a service: a container per replica.
// Image and Env are templates (see Vars).
type Compose struct {
	// Image is the image: "team/store:{{.ImageTag}}".
	Image string
	// Build says how to build Image locally; nil: it is pulled or built
	// elsewhere.
	Build *Build
	// Env is the container's environment, in file order.
	Env []EnvVar
	// KnobEnvPrefix makes a knob an environment variable: prefix + the flag
	// in upper case with '-' as '_' ("CHAOSLAB_ORDERS_" + "call-timeout" →
	// CHAOSLAB_ORDERS_CALL_TIMEOUT). Empty: knobs cannot be set on compose.
	KnobEnvPrefix string
}

// Build is a docker build of a service's image.
type Build struct {
	// Context is the build context, relative to Root.
	Context string
	// Dockerfile is relative to Context; empty: Context/Dockerfile.
	Dockerfile string
	// Args are the build arguments, in file order.
	Args []EnvVar
}

// EnvVar is one environment variable (or build argument).
type EnvVar struct {
	Name, Value string
}

// Ready is a readiness probe: exactly one of HTTP and GRPC is set.
type Ready struct {
	// HTTP: GET Path on Port answers 2xx.
	HTTP *Endpoint
	// GRPC: grpc.health.v1 Check on Port answers SERVING for Service ("":
	// the server as a whole).
	GRPC *GRPCHealth
}

// GRPCHealth is a gRPC health check.
type GRPCHealth struct {
	Port    string
	Service string
}

// Endpoint is an HTTP path on one of a service's ports.
type Endpoint struct {
	// Port names one of the service's Ports.
	Port string
	// Path starts with "/".
	Path string
}

// KnobType is the type of a knob's value.
type KnobType string

// The knob types.
const (
	KnobBool     KnobType = "bool"
	KnobInt      KnobType = "int"
	KnobFloat    KnobType = "float"
	KnobDuration KnobType = "duration"
	KnobString   KnobType = "string"
)

// KnobTypes returns the knob types in the documentation's order.
func KnobTypes() []string {
	return []string{string(KnobBool), string(KnobInt), string(KnobFloat), string(KnobDuration), string(KnobString)}
}

// Knob is one service flag a scenario may set.
type Knob struct {
	Pos
	// Name is the flag's name without a dash: "call-timeout".
	Name string
	Type KnobType
	// Min and Max bound an int or float knob; MinDuration and MaxDuration a
	// duration knob (inclusive).
	Min, Max                 float64
	MinDuration, MaxDuration time.Duration
	// Values are a string knob's allowed values; empty: any string.
	Values []string
	// Default is the value the service runs with when no scenario sets it,
	// in the flag's syntax: "true", "3", "1s", "1000".
	Default string
	// Help is one line for listings and error messages.
	Help string
}

// Edge is a network path from a caller to a callee, carried by a Toxiproxy
// proxy the harness creates.
type Edge struct {
	Pos
	// Name is "from->to": "api->store", "client->api".
	Name string
	// From is a service, or Client for an entry edge.
	From string
	// To is a service.
	To string
	// ProxyPort is where the proxy listens (default plan).
	ProxyPort int
	// TargetPort names the callee's port the proxy forwards to (default
	// "public").
	TargetPort string
}

// Entry reports whether the edge leads into the system from the client.
func (e *Edge) Entry() bool { return e.From == Client }

// Proxy is the Toxiproxy proxy's name: "api->store" → "api_to_store".
func (e *Edge) Proxy() string { return strings.ReplaceAll(e.Name, "->", "_to_") }

// ReplicaProxy returns the name of the edge's proxy to replica r of its
// callee (faults.ReplicaProxyName): Proxy for the first, "api_to_store-1".
func (e *Edge) ReplicaProxy(r int) string { return faults.ReplicaProxyName(e.Name, r) }

// Proxies is the Toxiproxy the harness starts for the edges.
type Proxies struct {
	// Port is its API's port (default 8474).
	Port int
}

// Telemetry is where the lab's metrics and traces go.
type Telemetry struct {
	Prometheus Prometheus
	Jaeger     Jaeger
	// SpanFlush is the longest the services take to make a finished span
	// queryable in Jaeger (their exporter's batch timeout plus the export);
	// trace checks wait this long after the lab settled. 0: not given (the
	// runner then waits two scrape intervals).
	SpanFlush time.Duration
	// HarnessPort is where the harness serves its own metrics while it runs
	// scenarios (chaoslab_fault_active), scraped by an own Prometheus as job
	// "chaoslab" (default 9099).
	HarnessPort int
}

// Prometheus is the lab's Prometheus: started by the harness (Own), or an
// existing one at URL.
type Prometheus struct {
	// URL of an existing Prometheus; empty: the harness starts its own.
	URL string
	// Port is the own Prometheus' HTTP port (default 9090).
	Port int
	// ScrapeInterval is the own Prometheus' scrape and rule evaluation
	// interval (default 1s).
	ScrapeInterval time.Duration
}

// Own reports whether the harness starts Prometheus.
func (p Prometheus) Own() bool { return p.URL == "" }

// Jaeger is the lab's trace store: started by the harness (Own), or an
// existing one.
type Jaeger struct {
	// Ports of the own Jaeger, by name (JaegerPorts), with the defaults for
	// those the file does not give.
	Ports []Port
	// The existing Jaeger's addresses: OTLPGRPC (host:port) is where the
	// services export spans, QueryGRPC (host:port) its api_v2 query service,
	// QueryURL its HTTP query API. All empty: the harness starts its own.
	OTLPGRPC, OTLPHTTP, QueryGRPC, QueryURL string
}

// Own reports whether the harness starts Jaeger.
func (j Jaeger) Own() bool { return j.OTLPGRPC == "" }

// Port returns the own Jaeger's port name, 0 when unknown.
func (j Jaeger) Port(name string) int {
	for _, p := range j.Ports {
		if p.Name == name {
			return p.Number
		}
	}
	return 0
}

// JaegerPorts returns the own Jaeger's ports and their defaults, in the
// documentation's order.
func JaegerPorts() []Port {
	return []Port{
		{Name: "otlp-grpc", Number: 4317}, {Name: "otlp-http", Number: 4318},
		{Name: "query-grpc", Number: 16685}, {Name: "query-http", Number: 16686},
		{Name: "health", Number: 13133}, {Name: "metrics", Number: 8888},
	}
}

// LoadSettings are how the lab's k6 scripts are run.
type LoadSettings struct {
	// Scripts is the directory of the k6 scripts scenarios name, relative to
	// Root.
	Scripts string
	// Entry is the entry edge whose proxy BASE_URL points at.
	Entry string
	// Auth makes the TOKEN every script gets.
	Auth Auth
	// Acks is how scripts report acknowledged writes: AcksConsole or
	// AcksNone.
	Acks string
	// Env are extra environment variables every script gets, in file order
	// (after the contract's: ScriptEnv).
	Env []EnvVar
}

// The acknowledged-writes protocols.
const (
	// AcksConsole: a script logs one console line per acknowledged write,
	// "ACK <id> <key>" (the system confirmed it: it must exist afterwards)
	// or "ACCEPTED <id> <key>" (the system accepted it but had not finished
	// it), and the timeline's "START <origin ms> <start ms>" line.
	AcksConsole = "console"
	// AcksNone: the scripts report no writes.
	AcksNone = "none"
)

// The words of the AcksConsole protocol.
const (
	AckWord      = "ACK"
	AcceptedWord = "ACCEPTED"
	StartWord    = "START"
)

// Auth is how load authenticates: a provider by name and its settings.
type Auth struct {
	// Provider is one of AuthProviders: "none", "hs256-jwt",
	// "client-credentials", "command".
	Provider string
	// KeyFile holds the secret the load shares with the services, relative
	// to the run dir: the signing key (hs256-jwt, key_file) or the client's
	// secret (client-credentials, secret_file). The harness writes a
	// random one there when it is missing.
	KeyFile string
	// TokenURL (client-credentials) is the issuer's token endpoint, a
	// harness template.
	TokenURL string
	// ClientID (client-credentials) is the client the load authenticates
	// as.
	ClientID string
	// Scopes (client-credentials) are the scopes it asks for.
	Scopes []string
	// Subject (hs256-jwt) is the token's sub claim.
	Subject string
	// TTL (hs256-jwt) is how long a token is valid.
	TTL time.Duration
	// Command (command) prints the token on its standard output; every item
	// is a template (see HarnessVars).
	Command []string
}

// The auth providers.
const (
	AuthNone    = "none"
	AuthHS256   = "hs256-jwt"
	AuthClient  = "client-credentials"
	AuthCommand = "command"
)

// AuthProviders returns the auth providers' names.
func AuthProviders() []string { return []string{AuthNone, AuthHS256, AuthClient, AuthCommand} }

// SharesSecret reports whether the provider shares a secret file with the
// services (hs256-jwt's key, client-credentials' client secret).
func (a Auth) SharesSecret() bool { return a.Provider == AuthHS256 || a.Provider == AuthClient }

// SecretFile is the name of the shared secret's file in the run dir
// (KeyFile, or the hs256-jwt default for a provider that shares none).
func (a Auth) SecretFile() string {
	if a.KeyFile == "" {
		return defaultKeyFile
	}
	return a.KeyFile
}

// Plot is one series the report draws over a run.
type Plot struct {
	Pos
	// Name is unique in the lab: "p99 latency POST /v1/items".
	Name string
	// Unit is how the value reads: "s", "ratio", "req/s".
	Unit string
	// Query is an instant PromQL query, sampled every second over the run.
	Query string
	// Scripts restricts the plot to scenarios whose load runs one of these
	// scripts; empty: every scenario.
	Scripts []string
}

// ForScript reports whether the plot is drawn for a scenario whose load runs
// script.
func (p Plot) ForScript(script string) bool {
	return len(p.Scripts) == 0 || slices.Contains(p.Scripts, script)
}

// Checker is how a settle probe or an invariant is evaluated: exactly one of
// its fields is set.
type Checker struct {
	// Builtin names a checker registered in Go (WithBuiltins).
	Builtin string
	// Command is an argv; every item is a template (see HarnessVars). It
	// prints its JSON answer on its standard output and exits 0.
	Command []string
	// HTTP is a URL template; the harness POSTs the run to it and reads the
	// JSON answer.
	HTTP string
}

// Kind is "builtin", "command" or "http".
func (c Checker) Kind() string {
	switch {
	case c.Builtin != "":
		return "builtin"
	case c.Command != nil:
		return "command"
	default:
		return "http"
	}
}

// Settle is the probe the harness polls after the load until in-flight work
// has finished (SettleStatus.Pending is 0) or Timeout passes.
type Settle struct {
	Checker
	// Timeout bounds the wait (default 15s).
	Timeout time.Duration
	// Interval is the time between two probes (default 250ms).
	Interval time.Duration
}

// Invariant is a named data check after a run; scenarios ask for it by name
// (checks.invariants).
type Invariant struct {
	Pos
	Name string
	Checker
	// Timeout bounds one evaluation (default 30s).
	Timeout time.Duration
}

// Dir is the directory the lab's relative paths resolve against.
func (l *Lab) Dir() string { return filepath.Join(filepath.Dir(l.File), l.Root) }

// Path resolves a path of the lab file (relative to Root).
func (l *Lab) Path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(l.Dir(), p)
}

// Service returns the service named name.
func (l *Lab) Service(name string) (*Service, bool) {
	i := slices.IndexFunc(l.Services, func(s *Service) bool { return s.Name == name })
	if i < 0 {
		return nil, false
	}
	return l.Services[i], true
}

// Edge returns the edge named name ("api->store").
func (l *Lab) Edge(name string) (*Edge, bool) {
	i := slices.IndexFunc(l.Edges, func(e *Edge) bool { return e.Name == name })
	if i < 0 {
		return nil, false
	}
	return l.Edges[i], true
}

// Invariant returns the invariant named name.
func (l *Lab) Invariant(name string) (*Invariant, bool) {
	i := slices.IndexFunc(l.Invariants, func(v *Invariant) bool { return v.Name == name })
	if i < 0 {
		return nil, false
	}
	return l.Invariants[i], true
}

// ServiceNames returns the services' names in file order.
func (l *Lab) ServiceNames() []string {
	out := make([]string, len(l.Services))
	for i, s := range l.Services {
		out[i] = s.Name
	}
	return out
}

// EdgeNames returns the edges' names in file order.
func (l *Lab) EdgeNames() []string {
	out := make([]string, len(l.Edges))
	for i, e := range l.Edges {
		out[i] = e.Name
	}
	return out
}

// InvariantNames returns the invariants' names in file order.
func (l *Lab) InvariantNames() []string {
	out := make([]string, len(l.Invariants))
	for i, v := range l.Invariants {
		out[i] = v.Name
	}
	return out
}

// Knobs returns the knobs of service in file order; nil for an unknown
// service.
func (l *Lab) Knobs(service string) []*Knob {
	s, ok := l.Service(service)
	if !ok {
		return nil
	}
	return s.Knobs
}

// KnobNames returns the names of service's knobs in file order; nil for an
// unknown service.
func (l *Lab) KnobNames(service string) []string {
	s, ok := l.Service(service)
	if !ok {
		return nil
	}
	out := make([]string, len(s.Knobs))
	for i, k := range s.Knobs {
		out[i] = k.Name
	}
	return out
}

// Instance returns the name of the service's replica r
// (faults.InstanceName): "store" for a service of one replica, "store-1".
func (s *Service) Instance(r int) string { return faults.InstanceName(s.Name, s.Replicas, r) }

// Instances returns the names of the service's replicas, in order: its
// name alone when it runs one.
func (s *Service) Instances() []string {
	out := make([]string, max(s.Replicas, 1))
	for r := range out {
		out[r] = s.Instance(r)
	}
	return out
}

// Knob returns service's knob flag.
func (s *Service) Knob(flag string) (*Knob, bool) {
	i := slices.IndexFunc(s.Knobs, func(k *Knob) bool { return k.Name == flag })
	if i < 0 {
		return nil, false
	}
	return s.Knobs[i], true
}

// Port returns the number of the port named name, 0 when there is none.
func (s *Service) Port(name string) int {
	for _, p := range s.Ports {
		if p.Name == name {
			return p.Number
		}
	}
	return 0
}

// TargetPort names the port of s its edges' proxies forward to: the
// target_port of the first edge that calls it, else "public", else its
// first port ("" when it has none).
func (l *Lab) TargetPort(s *Service) string {
	target := "public"
	for _, edge := range l.Edges {
		if edge.To == s.Name {
			target = edge.TargetPort
			break
		}
	}
	if s.Port(target) == 0 && len(s.Ports) > 0 {
		target = s.Ports[0].Name
	}
	return target
}

// Calls returns the edges the service is the caller of, in file order.
func (l *Lab) Calls(service string) []*Edge {
	var out []*Edge
	for _, e := range l.Edges {
		if e.From == service {
			out = append(out, e)
		}
	}
	return out
}

// CalledBy returns the edges that lead to the service, in file order.
func (l *Lab) CalledBy(service string) []*Edge {
	var out []*Edge
	for _, e := range l.Edges {
		if e.To == service {
			out = append(out, e)
		}
	}
	return out
}

// Replicas returns how many replicas of service the lab runs: 1 for a
// name that is not a service (the client).
func (l *Lab) Replicas(service string) int {
	if s, ok := l.Service(service); ok {
		return max(s.Replicas, 1)
	}
	return 1
}

// EntryEdges returns the edges from Client, in file order.
func (l *Lab) EntryEdges() []*Edge { return l.Calls(Client) }

// StartOrder returns the services' names with every service after the
// services it calls (dependencies first), ties in file order. A call cycle
// is started in file order from where it is entered.
func (l *Lab) StartOrder() []string {
	seen := map[string]bool{}
	var out []string
	var visit func(string)
	visit = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		for _, e := range l.Calls(name) {
			visit(e.To)
		}
		out = append(out, name)
	}
	for _, s := range l.Services {
		visit(s.Name)
	}
	return out
}
