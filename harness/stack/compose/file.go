package compose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/harness/lab"
)

// The files of a compose project, relative to its directory: Files writes
// them all from the lab file.
const (
	ComposeFile    = "docker-compose.yml"
	PrometheusFile = "compose/prometheus.yml"
	ToxiproxyFile  = "compose/toxiproxy.json"
	JaegerFile     = "compose/jaeger.yaml"
)

// The variables docker-compose.yml reads from the environment the compose
// stack runs docker-compose with (Config.runner).
const (
	// JWTKeyVar is the HS256 key a service gets as {{.Auth.key}}.
	JWTKeyVar = "CHAOSLAB_JWT_KEY"
	// DevJWTKey is the key when JWTKeyVar is unset (a plain
	// `docker-compose up`).
	DevJWTKey = "chaoslab-dev-key-change-me"
	// ImageTagVar is the lab's images' tag, {{.ImageTag}}.
	ImageTagVar = "CHAOSLAB_IMAGE_TAG"
	// DefaultImageTag is the tag when ImageTagVar is unset.
	DefaultImageTag = "dev"
)

// thirdPartyImage is a pinned third-party image, read from a variable
// (OfflineImages replaces it on machines without a registry).
type thirdPartyImage struct{ variable, pinned string }

// pinnedImages are the third-party images every lab's compose file runs,
// pinned (tools/README.md has the versions of the binaries the offline
// stand-ins are built from).
type pinnedImages struct{ toxiproxy, prometheus, jaeger, grafana, k6 thirdPartyImage }

func pinned() pinnedImages {
	return pinnedImages{
		toxiproxy:  thirdPartyImage{"TOXIPROXY_IMAGE", "ghcr.io/shopify/toxiproxy:2.12.0"},
		prometheus: thirdPartyImage{"PROMETHEUS_IMAGE", "prom/prometheus:v3.16.0"},
		jaeger:     thirdPartyImage{"JAEGER_IMAGE", "jaegertracing/jaeger:2.13.0"},
		grafana:    thirdPartyImage{"GRAFANA_IMAGE", "grafana/grafana:12.3.1"},
		k6:         thirdPartyImage{"K6_IMAGE", "grafana/k6:1.8.1"},
	}
}

func (i thirdPartyImage) ref() string { return "${" + i.variable + ":-" + i.pinned + "}" }

// The container-side facts of the third-party containers that the lab file
// does not choose.
const (
	// prometheusContainerPort is where Prometheus listens in its container;
	// the host port is the lab's.
	prometheusContainerPort = 9090
	// grafanaPort is Grafana's port, in its container and on the host.
	grafanaPort = 3000
	// dataDir is a service's data volume in its container, {{.DataDir}}.
	dataDir = "/data"
)

// FileOptions say where the generated files go and what they mount.
type FileOptions struct {
	// Dir is the compose project's directory, where docker-compose.yml is
	// written: the paths in the files are relative to it.
	Dir string
	// Dashboards is chaoslab's dashboards directory (provisioning/ and
	// json/), mounted into Grafana.
	Dashboards string
	// LoadScript is the k6 script the k6 service (profile load) runs, in
	// the lab's load.scripts; empty: no k6 service.
	LoadScript string
}

// File is one generated file.
type File struct {
	// Path is relative to FileOptions.Dir, with slashes (ComposeFile, …).
	Path string
	Data []byte
}

// Files returns the compose project of l: docker-compose.yml, the
// Prometheus configuration, the Toxiproxy proxies and the Jaeger
// configuration, in that order. Every service runs from its compose
// section, with its ports published on 127.0.0.1 at the lab's port plan;
// the harness's components (Toxiproxy, Prometheus, Jaeger) and Grafana and
// k6 are the same pinned containers for every lab. The output depends on l
// and opt only.
func Files(l *lab.Lab, opt FileOptions) ([]File, error) {
	g, err := newGenerator(l, opt)
	if err != nil {
		return nil, err
	}
	var files []File
	for _, f := range []struct {
		path string
		gen  func() ([]byte, error)
	}{
		{ComposeFile, g.composeFile},
		{PrometheusFile, g.prometheusFile},
		{ToxiproxyFile, g.toxiproxyFile},
		{JaegerFile, g.jaegerFile},
	} {
		b, err := f.gen()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.path, err)
		}
		files = append(files, File{Path: f.path, Data: b})
	}
	return files, nil
}

// generator holds what the files of one lab are made of.
type generator struct {
	l   *lab.Lab
	opt FileOptions
	// plan is the lab's port plan: component → port name → number
	// (replica 0, no offset; replica r's is port(…, r)).
	plan map[string]map[string]int
	// labFile is the lab file, relative to the project's directory.
	labFile string
}

func newGenerator(l *lab.Lab, opt FileOptions) (*generator, error) {
	var errs []error
	if !l.Telemetry.Prometheus.Own() || !l.Telemetry.Jaeger.Own() {
		errs = append(errs, errors.New("the compose stack runs the lab's own Prometheus and Jaeger: a lab with telemetry.prometheus.url or an existing Jaeger cannot be generated"))
	}
	for _, s := range l.Services {
		if s.Compose == nil {
			errs = append(errs, fmt.Errorf("service %s has no compose section: the compose stack cannot run it (give it services.%s.compose)", s.Name, s.Name))
		}
	}
	if opt.LoadScript != "" {
		if _, ok := l.Edge(l.Load.Entry); !ok {
			errs = append(errs, fmt.Errorf("the k6 service needs load.entry, an entry edge (the lab has %q)", l.Load.Entry))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	g := &generator{l: l, opt: opt, plan: map[string]map[string]int{}}
	for _, p := range l.PortPlan() {
		if p.Replica > 0 {
			continue
		}
		if g.plan[p.Component] == nil {
			g.plan[p.Component] = map[string]int{}
		}
		g.plan[p.Component][p.Name] = p.Number
	}
	g.labFile = g.rel(l.File)
	return g, nil
}

// port is the number of a component's port for its replica r (the lab's
// replica_port_step apart): a service's port, or an edge's proxy
// (lab.ProxyPortName) to the callee's replica r.
func (g *generator) port(component, name string, r int) int {
	return g.plan[component][name] + r*g.l.ReplicaPortStep
}

// instances are the compose services that run the lab services names, in
// order: a service's name, or its replicas' instance names.
func (g *generator) instances(names ...string) []string {
	var out []string
	for _, name := range names {
		if s, ok := g.l.Service(name); ok {
			out = append(out, s.Instances()...)
			continue
		}
		out = append(out, name)
	}
	return out
}

// rel is path relative to the project's directory, with slashes and
// without a leading "./" ("." for the directory itself).
func (g *generator) rel(path string) string {
	from, err1 := filepath.Abs(g.opt.Dir)
	to, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return filepath.ToSlash(path)
	}
	r, err := filepath.Rel(from, to)
	if err != nil {
		return filepath.ToSlash(to)
	}
	return filepath.ToSlash(r)
}

// mount is a bind mount of path (on the host, relative to the project) at
// target, read-only.
func (g *generator) mount(path, target string) string {
	r := g.rel(path)
	if !strings.HasPrefix(r, "/") && !strings.HasPrefix(r, "../") {
		r = "./" + strings.TrimPrefix(r, "./")
	}
	if r == "./." {
		r = "."
	}
	return r + ":" + target + ":ro"
}

// header is the comment every generated file starts with.
func (g *generator) header() string {
	return fmt.Sprintf("# Generated by `chaoslab compose-file` (make compose-file) from %s:\n# do not edit; change the lab file and regenerate.", g.labFile)
}

// published is "127.0.0.1:<host>:<container>", a port published on
// loopback only.
func published(host, container int) *yaml.Node {
	return quoted(fmt.Sprintf("127.0.0.1:%d:%d", host, container))
}

// sentinels are what the probe rendering of a service's environment gives
// the values that must not, or need to, be found in its output.
const (
	sentinelData    = "\x00data\x00"
	sentinelRunDir  = "\x00run-dir\x00"
	sentinelKeyFile = "\x00key-file\x00"
	sentinelKey     = "\x00key\x00"
	sentinelProxy   = "\x00toxiproxy\x00"
)

// renderedService is one replica's container as docker-compose.yml runs it.
type renderedService struct {
	container lab.Container
	// usesData: the environment names {{.DataDir}}, so the service gets a
	// volume there.
	usesData bool
	// edgeEnv, advertiseEnv and keyEnv are the variables that hold an
	// edge's proxy address, the replica's own proxies ({{.Advertise}}:
	// "<proxy>=<address>,…") and the JWT key.
	edgeEnv, advertiseEnv, keyEnv map[string]bool
}

// render renders replica r of service s for the compose file: docker-compose
// substitutes the image tag and the JWT key that the compose stack gives
// it, so the file holds ${…} references with defaults for a plain
// `docker-compose up`. A probe rendering with sentinel values finds which
// variables use the data directory, the proxies and the key, and rejects
// the host's run directory and the key file, which a container does not
// have.
func (g *generator) render(s *lab.Service, replica int) (renderedService, error) {
	auth := g.l.Load.Auth.AuthVars("", "${"+JWTKeyVar+":-"+DevJWTKey+"}")
	c, err := g.l.RenderCompose(s.Name, replica, g.l.ComposePlacement("", "${"+ImageTagVar+":-"+DefaultImageTag+"}", auth))
	if err != nil {
		return renderedService{}, err
	}
	probe := g.l.ComposePlacement(sentinelRunDir, "tag", g.l.Load.Auth.AuthVars(sentinelKeyFile, sentinelKey))
	probe.DataDir, probe.ProxyHost = sentinelData, sentinelProxy
	pc, err := g.l.RenderCompose(s.Name, replica, probe)
	if err != nil {
		return renderedService{}, err
	}
	out := renderedService{container: c, edgeEnv: map[string]bool{}, advertiseEnv: map[string]bool{}, keyEnv: map[string]bool{}}
	var errs []error
	for _, e := range pc.Env {
		switch {
		case strings.Contains(e.Value, sentinelRunDir):
			errs = append(errs, fmt.Errorf("services.%s.compose.env.%s: {{.RunDir}} is a directory on the host, not in the container", s.Name, e.Name))
		case strings.Contains(e.Value, sentinelKeyFile):
			errs = append(errs, fmt.Errorf("services.%s.compose.env.%s: a container has no key file: give it the key as {{.Auth.key}}", s.Name, e.Name))
		}
		out.usesData = out.usesData || strings.Contains(e.Value, sentinelData)
		out.advertiseEnv[e.Name] = strings.Contains(e.Value, "="+sentinelProxy)
		out.edgeEnv[e.Name] = strings.Contains(e.Value, sentinelProxy) && !out.advertiseEnv[e.Name]
		out.keyEnv[e.Name] = strings.Contains(e.Value, sentinelKey)
	}
	return out, errors.Join(errs...)
}

// composeFile is docker-compose.yml.
func (g *generator) composeFile() ([]byte, error) {
	l := g.l
	services := &yaml.Node{Kind: yaml.MappingNode}
	var volumes []string
	var errs []error
	for i, name := range l.StartOrder() {
		s, _ := l.Service(name)
		for r, instance := range s.Instances() {
			node, usesData, err := g.service(s, r)
			if err != nil {
				errs = append(errs, err)
				break
			}
			if usesData && r == 0 {
				volumes = append(volumes, name+"-data")
			}
			key := plain(instance)
			if r == 0 && s.Replicas > 1 {
				key.HeadComment = fmt.Sprintf("# %s runs %d replicas (%s), each on its own ports (+%d a replica)\n# and behind its own proxy on each edge to it", name, s.Replicas, strings.Join(s.Instances(), ", "), l.ReplicaPortStep)
				if usesData {
					key.HeadComment += fmt.Sprintf("; they share one data volume, %s-data", name)
				}
				key.HeadComment += "."
			}
			if r == 0 && i > 0 {
				key.HeadComment = "\n" + key.HeadComment
			}
			services.Content = append(services.Content, key, node)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, c := range g.thirdParty() {
		c.key.HeadComment = "\n" + c.key.HeadComment
		services.Content = append(services.Content, c.key, c.value)
	}
	top := mapping(kv{"services", services})
	if len(volumes) > 0 {
		vols := &yaml.Node{Kind: yaml.MappingNode}
		for _, v := range volumes {
			vols.Content = append(vols.Content, plain(v), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"})
		}
		key := plain("volumes")
		key.HeadComment = "\n# The services' data ({{.DataDir}}): `make down` removes them."
		top.Content = append(top.Content, key, vols)
	}
	return encode(g.composeHeader(), top)
}

// composeHeader is docker-compose.yml's opening comment.
func (g *generator) composeHeader() string {
	var knobs []string
	for _, s := range g.l.Services {
		if s.Compose != nil && s.Compose.KnobEnvPrefix != "" && len(s.Knobs) > 0 {
			knobs = append(knobs, fmt.Sprintf("#   %-12s %s<FLAG>", s.Name, s.Compose.KnobEnvPrefix))
		}
	}
	h := g.header() + fmt.Sprintf(`
#
# chaoslab as containers, the lab %q: the same lab as `+"`chaoslab up`"+` (local
# processes), with the same ports on 127.0.0.1, plus Grafana with the dashboards.
#
#   make up        build the lab's images (FROM scratch, no pull) and start the stack
#   make chaos STACK=compose    the scenario library against it
#   make down      stop it and remove its volumes`, g.l.Name)
	if g.opt.LoadScript != "" {
		h += fmt.Sprintf(`
#   CHAOSLAB_TOKEN=$(bin/chaoslab token -key-file .run/compose/jwt.key) \
#     docker-compose -p chaoslab --profile load run --rm --no-deps k6    the load test %s in a container`, g.opt.LoadScript)
	}
	h += `
#
# The third-party images below are pinned and PULLED from their registries the
# first time (Docker Hub, ghcr.io). On a machine without a registry, build
# stand-ins from the pinned tool binaries instead (make images-offline) and
# run without Grafana: COMPOSE_OFFLINE=1 (the *_IMAGE variables below).`
	if len(knobs) > 0 {
		h += `
#
# A knob (a service flag) is an environment variable: the service's prefix and
# the flag in upper case, '-' as '_'.
` + strings.Join(knobs, "\n") + `
# Scenario knobs recreate a service with an override file the harness writes
# (.run/compose/knobs.yml).`
	}
	return h
}

// service is the compose service of replica replica of s, and whether it
// has a data volume (the service's, which its replicas share).
func (g *generator) service(s *lab.Service, replica int) (*yaml.Node, bool, error) {
	r, err := g.render(s, replica)
	if err != nil {
		return nil, false, err
	}
	n := mapping(kv{"image", str(r.container.Image)})
	if b := s.Compose.Build; b != nil {
		build := mapping(kv{"context", str(g.rel(g.l.Path(b.Context)))})
		if b.Dockerfile != "" {
			build.Content = append(build.Content, plain("dockerfile"), str(b.Dockerfile))
		}
		if len(b.Args) > 0 {
			args := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
			for _, a := range b.Args {
				args.Content = append(args.Content, plain(a.Name), str(a.Value))
			}
			build.Content = append(build.Content, plain("args"), args)
		}
		build.Style = yaml.FlowStyle
		n.Content = append(n.Content, plain("build"), build)
	}
	n.Content = append(n.Content,
		plain("restart"), quoted("no"),
		plain("stop_grace_period"), str("10s"),
	)
	deps := []string{lab.ComponentJaeger}
	calls := g.l.Calls(s.Name)
	if len(calls) > 0 {
		deps = append(deps, lab.ComponentToxiproxy)
	}
	for _, e := range calls {
		for _, to := range g.instances(e.To) {
			if !slices.Contains(deps, to) {
				deps = append(deps, to)
			}
		}
	}
	n.Content = append(n.Content, plain("depends_on"), flow(deps...))
	if len(r.container.Env) > 0 {
		env := &yaml.Node{Kind: yaml.MappingNode}
		edgeCommented := false
		for _, e := range r.container.Env {
			key := plain(e.Name)
			switch {
			case r.edgeEnv[e.Name] && !edgeCommented:
				key.HeadComment = "# Through Toxiproxy, so that network faults apply to these edges."
				edgeCommented = true
			case r.advertiseEnv[e.Name]:
				key.HeadComment = "# Where its callers reach this replica, through its own proxy on each\n# edge to it: what it registers."
			case r.keyEnv[e.Name]:
				key.HeadComment = "# The HS256 key of bearer tokens; `chaoslab up -stack compose` sets a\n# random one and keeps it in .run/compose/jwt.key."
			}
			env.Content = append(env.Content, key, str(e.Value))
		}
		n.Content = append(n.Content, plain("environment"), env)
	}
	if r.usesData {
		n.Content = append(n.Content, plain("volumes"), flow(s.Name+"-data:"+dataDir))
	}
	ports := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, p := range s.Ports {
		num := g.port(s.Name, p.Name, replica)
		ports.Content = append(ports.Content, published(num, num))
	}
	n.Content = append(n.Content, plain("ports"), ports)
	return n, r.usesData, nil
}

// entry is the entry edge the load goes through, nil without a k6 service.
func (g *generator) entry() *lab.Edge {
	e, _ := g.l.Edge(g.l.Load.Entry)
	return e
}

// thirdParty are the containers every lab gets: Toxiproxy, Prometheus,
// Jaeger, Grafana and k6 (profile load), the same pinned images.
func (g *generator) thirdParty() []pair {
	l := g.l
	images := pinned()
	toxiPorts := []*yaml.Node{published(l.Proxies.Port, l.Proxies.Port)}
	var entries []string
	for _, e := range l.EntryEdges() {
		for r := range l.Replicas(e.To) {
			p := g.port(lab.ComponentToxiproxy, lab.ProxyPortName(e.Name), r)
			toxiPorts = append(toxiPorts, published(p, p))
		}
		entries = append(entries, e.Name)
	}
	toxiproxy := mapping(
		kv{"image", str(images.toxiproxy.ref())},
		kv{"command", flow("-host=0.0.0.0", "-port="+strconv.Itoa(l.Proxies.Port), "-config=/config/toxiproxy.json", "-proxy-metrics", "-runtime-metrics")},
		kv{"volumes", flow(g.mount(filepath.Join(g.opt.Dir, ToxiproxyFile), "/config/toxiproxy.json"))},
		kv{"ports", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: toxiPorts}},
	)
	setComment(toxiproxy, "ports", "# The API, and the proxies of the entry edges ("+strings.Join(entries, ", ")+"): the load's entry points.")

	promVolumes := []*yaml.Node{str(g.mount(filepath.Join(g.opt.Dir, PrometheusFile), "/etc/prometheus/prometheus.yml"))}
	if dir := g.rulesDir(); dir != "" {
		promVolumes = append(promVolumes, str(g.mount(dir, "/etc/prometheus/rules")))
	}
	discovery := str("--scrape.discovery-reload-interval=100ms")
	discovery.HeadComment = "# 3.12+: new targets reach the scrapers at once (first scrape ~1 s after start, not ~6 s)"
	prometheus := mapping(
		kv{"image", str(images.prometheus.ref())},
		kv{"command", seq(
			str("--config.file=/etc/prometheus/prometheus.yml"),
			discovery,
			str("--storage.tsdb.path=/prometheus"),
			str("--storage.tsdb.retention.time=1d"),
			str("--web.enable-remote-write-receiver"),
			str("--web.enable-lifecycle"),
			str("--log.level=warn"),
		)},
		kv{"volumes", seq(promVolumes...)},
		kv{"extra_hosts", flow("host.docker.internal:host-gateway")},
		kv{"ports", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{published(g.plan[lab.ComponentPrometheus]["http"], prometheusContainerPort)}}},
	)
	setComment(prometheus, "extra_hosts", "# The harness serves chaoslab_fault_active on the host while it runs\n# scenarios; Prometheus reaches it as host.docker.internal.")

	var jaegerPorts []*yaml.Node
	for _, name := range []string{"query-grpc", "query-http", "otlp-grpc", "health"} {
		p := g.plan[lab.ComponentJaeger][name]
		jaegerPorts = append(jaegerPorts, published(p, p))
	}
	jaeger := mapping(
		kv{"image", str(images.jaeger.ref())},
		kv{"command", flow("--config", "/etc/jaeger/config.yaml")},
		kv{"environment", flowMapping(kv{"OTEL_TRACES_SAMPLER", str("always_off")})},
		kv{"volumes", flow(g.mount(filepath.Join(g.opt.Dir, JaegerFile), "/etc/jaeger/config.yaml"))},
		kv{"ports", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: jaegerPorts}},
	)

	grafana := mapping(
		kv{"image", str(images.grafana.ref())},
		kv{"depends_on", flow(lab.ComponentPrometheus, lab.ComponentJaeger)},
		kv{"environment", mapping(
			kv{"GF_AUTH_ANONYMOUS_ENABLED", str("true")},
			kv{"GF_AUTH_ANONYMOUS_ORG_ROLE", str("Admin")},
			kv{"GF_AUTH_DISABLE_LOGIN_FORM", str("true")},
			kv{"GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH", str("/var/lib/grafana/dashboards/overview.json")},
		)},
		kv{"volumes", seq(
			str(g.mount(filepath.Join(g.opt.Dashboards, "provisioning"), "/etc/grafana/provisioning")),
			str(g.mount(filepath.Join(g.opt.Dashboards, "json"), "/var/lib/grafana/dashboards")),
		)},
		kv{"ports", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{published(grafanaPort, grafanaPort)}}},
	)

	out := []pair{
		{plain("toxiproxy"), toxiproxy},
		{plain("prometheus"), prometheus},
		{plain("jaeger"), jaeger},
		{plain("grafana"), grafana},
	}
	if g.opt.LoadScript != "" {
		entry := g.entry()
		env := mapping(
			kv{"BASE_URL", str(fmt.Sprintf("http://%s:%d", lab.ComponentToxiproxy, entry.ProxyPort))},
			kv{"TOKEN", str("${CHAOSLAB_TOKEN:-}")},
			kv{"K6_PROMETHEUS_RW_SERVER_URL", str(fmt.Sprintf("http://%s:%d/api/v1/write", lab.ComponentPrometheus, prometheusContainerPort))},
			kv{"K6_PROMETHEUS_RW_TREND_STATS", str("p(50),p(95),p(99),max")},
			kv{"K6_PROMETHEUS_RW_PUSH_INTERVAL", str("1s")},
			kv{"K6_PROMETHEUS_RW_STALE_MARKERS", str("true")},
		)
		for _, e := range g.l.Load.Env {
			env.Content = append(env.Content, plain(e.Name), str(e.Value))
		}
		k6 := mapping(
			kv{"image", str(images.k6.ref())},
			kv{"profiles", flow("load")},
			kv{"depends_on", flow(append(g.instances(entry.To), lab.ComponentPrometheus)...)},
			kv{"command", flow("run", "--no-usage-report", "-o", "experimental-prometheus-rw", "/loadtests/"+g.opt.LoadScript)},
			kv{"environment", env},
			kv{"volumes", flow(g.mount(g.l.Path(g.l.Load.Scripts), "/loadtests"))},
		)
		key := plain("k6")
		key.HeadComment = "# The load test " + g.opt.LoadScript + ", on demand (see the header for the token)."
		out = append(out, pair{key, k6})
	}
	return out
}

// rulesDir is the directory of the SLOs' generated rule files (the rules/
// next to the lab's SLO definitions, where `chaoslab slo generate` writes
// them); empty when the lab has no SLOs.
func (g *generator) rulesDir() string {
	if g.l.SLOs == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(g.l.Path(g.l.SLOs)), "rules")
}

// prometheusFile is compose/prometheus.yml: each service with metrics as
// job <service> at its metrics path, addressed by its name in the compose
// network; Toxiproxy, Jaeger, Prometheus itself, and the harness on the
// host.
func (g *generator) prometheusFile() ([]byte, error) {
	l := g.l
	interval := str(l.Telemetry.Prometheus.ScrapeInterval.String())
	global := mapping(
		kv{"scrape_interval", interval},
		kv{"scrape_timeout", str(interval.Value)},
		kv{"evaluation_interval", str(interval.Value)},
		kv{"external_labels", mapping(kv{"lab", str("compose")})},
	)
	top := mapping(kv{"global", global})
	if g.rulesDir() != "" {
		top.Content = append(top.Content, plain("rule_files"), seq(str("/etc/prometheus/rules/*.yml")))
	}
	jobs := &yaml.Node{Kind: yaml.SequenceNode}
	job := func(name, path, target, comment string) {
		j := mapping(kv{"job_name", str(name)})
		if path != "" && path != "/metrics" {
			j.Content = append(j.Content, plain("metrics_path"), str(path))
		}
		j.Content = append(j.Content, plain("static_configs"), seq(mapping(kv{"targets", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{quoted(target)}}})))
		j.HeadComment = comment
		jobs.Content = append(jobs.Content, j)
	}
	hostPort := func(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
	for _, s := range l.Services {
		switch {
		case s.Metrics == nil:
		case s.Replicas > 1:
			// One target per replica, its instance label the replica's
			// instance name (not host:port), as the local lab's.
			var targets []*yaml.Node
			for r, instance := range s.Instances() {
				targets = append(targets, mapping(
					kv{"targets", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{quoted(hostPort(instance, g.port(s.Name, s.Metrics.Port, r)))}}},
					kv{"labels", flowMapping(kv{"instance", str(instance)})},
				))
			}
			j := mapping(kv{"job_name", str(s.Name)})
			if p := s.Metrics.Path; p != "" && p != "/metrics" {
				j.Content = append(j.Content, plain("metrics_path"), str(p))
			}
			j.Content = append(j.Content, plain("static_configs"), seq(targets...))
			jobs.Content = append(jobs.Content, j)
		default:
			job(s.Name, s.Metrics.Path, hostPort(s.Name, g.plan[s.Name][s.Metrics.Port]), "")
		}
	}
	job(lab.ComponentToxiproxy, "", hostPort(lab.ComponentToxiproxy, l.Proxies.Port), "")
	job(lab.ComponentJaeger, "", hostPort(lab.ComponentJaeger, l.Telemetry.Jaeger.Port("metrics")), "")
	job(lab.ComponentPrometheus, "", hostPort("localhost", prometheusContainerPort), "")
	job(lab.ComponentHarness, "", hostPort("host.docker.internal", l.Telemetry.HarnessPort),
		"# The harness (chaoslab run/chaos) on the host: up only while it runs\n# scenarios; it serves chaoslab_fault_active, the dashboards' fault windows.")
	top.Content = append(top.Content, plain("scrape_configs"), jobs)
	return encode(g.header()+"\n#\n# Prometheus of the compose stack: the same jobs as the local lab's generated\n# configuration (harness/stack/local/configs.go), addressed by service name.", top)
}

// proxy is one proxy of compose/toxiproxy.json.
type proxy struct {
	Name     string `json:"name"`
	Listen   string `json:"listen"`
	Upstream string `json:"upstream"`
	Enabled  bool   `json:"enabled"`
}

// toxiproxyFile is compose/toxiproxy.json: a proxy per edge, listening in
// the Toxiproxy container at the edge's proxy port and forwarding to the
// callee's target port by its name, one proxy a line; an edge to a
// service with replicas has one per replica (lab.Edge.ReplicaProxy),
// each a replica_port_step further, to that replica's container.
func (g *generator) toxiproxyFile() ([]byte, error) {
	var proxies []proxy
	for _, e := range g.l.Edges {
		for _, p := range g.proxies(e) {
			proxies = append(proxies, p)
		}
	}
	var b bytes.Buffer
	b.WriteString("[\n")
	for i, p := range proxies {
		line, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		b.WriteString("  ")
		b.Write(line)
		if i < len(proxies)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	return b.Bytes(), nil
}

// proxies are the proxies of edge e in the compose network: one to each
// replica of its callee, first to last.
func (g *generator) proxies(e *lab.Edge) []proxy {
	return edgeProxies(g.l, e, g.plan[lab.ComponentToxiproxy][lab.ProxyPortName(e.Name)])
}

// edgeProxies are the proxies of edge e when its first listens on
// listenPort: replica r's listens replica_port_step·r further and forwards
// to replica r's container (its instance name) at the target port of r.
func edgeProxies(l *lab.Lab, e *lab.Edge, listenPort int) []proxy {
	to, _ := l.Service(e.To)
	var out []proxy
	for r, instance := range to.Instances() {
		out = append(out, proxy{
			Name:     e.ReplicaProxy(r),
			Listen:   "0.0.0.0:" + strconv.Itoa(listenPort+r*l.ReplicaPortStep),
			Upstream: net.JoinHostPort(instance, strconv.Itoa(to.Port(e.TargetPort)+r*l.ReplicaPortStep)),
			Enabled:  true,
		})
	}
	return out
}

// jaegerFile is compose/jaeger.yaml: Jaeger v2 with an OTLP receiver,
// memory storage and the query APIs, the local lab's configuration
// (harness/stack/local/configs.go) listening on every interface of the
// container at the lab's Jaeger ports.
func (g *generator) jaegerFile() ([]byte, error) {
	j := g.l.Telemetry.Jaeger
	endpoint := func(port string) *yaml.Node {
		return mapping(kv{"endpoint", str(net.JoinHostPort("0.0.0.0", strconv.Itoa(j.Port(port))))})
	}
	top := mapping(
		kv{"service", mapping(
			kv{"extensions", flow("jaeger_storage", "jaeger_query", "healthcheckv2")},
			kv{"pipelines", mapping(kv{"traces", mapping(
				kv{"receivers", flow("otlp")},
				kv{"processors", flow("batch")},
				kv{"exporters", flow("jaeger_storage_exporter")},
			)})},
			kv{"telemetry", mapping(
				kv{"resource", mapping(kv{"service.name", str("jaeger")})},
				kv{"metrics", mapping(
					kv{"level", str("basic")},
					kv{"readers", seq(mapping(kv{"pull", mapping(kv{"exporter", mapping(kv{"prometheus", mapping(
						kv{"host", str("0.0.0.0")},
						kv{"port", num(j.Port("metrics"))},
					)})})}))},
				)},
				kv{"logs", mapping(kv{"level", str("warn")})},
			)},
		)},
		kv{"extensions", mapping(
			kv{"jaeger_query", mapping(
				kv{"storage", mapping(kv{"traces", str("memstore")})},
				kv{"grpc", endpoint("query-grpc")},
				kv{"http", endpoint("query-http")},
			)},
			kv{"jaeger_storage", mapping(kv{"backends", mapping(kv{"memstore", mapping(kv{"memory", mapping(kv{"max_traces", num(50000)})})})})},
			kv{"healthcheckv2", mapping(
				kv{"use_v2", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"}},
				kv{"http", endpoint("health")},
			)},
		)},
		kv{"receivers", mapping(kv{"otlp", mapping(kv{"protocols", mapping(
			kv{"grpc", endpoint("otlp-grpc")},
			kv{"http", endpoint("otlp-http")},
		)})})},
		kv{"processors", mapping(kv{"batch", mapping(kv{"timeout", str("100ms")})})},
		kv{"exporters", mapping(kv{"jaeger_storage_exporter", mapping(kv{"trace_storage", str("memstore")})})},
	)
	return encode(g.header()+"\n#\n# Jaeger v2 of the compose stack: OTLP receiver, memory storage, query APIs —\n# the local lab's generated configuration (harness/stack/local/configs.go)\n# listening on every interface of the container.", top)
}

// kv is one key of a mapping and its value.
type kv struct {
	key   string
	value *yaml.Node
}

// pair is one key of a mapping as a node (with its comments) and its value.
type pair struct{ key, value *yaml.Node }

// mapping is a block mapping of pairs, in order.
func mapping(pairs ...kv) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, p := range pairs {
		n.Content = append(n.Content, plain(p.key), p.value)
	}
	return n
}

// flowMapping is a mapping on one line.
func flowMapping(pairs ...kv) *yaml.Node {
	n := mapping(pairs...)
	n.Style = yaml.FlowStyle
	return n
}

// seq is a block sequence.
func seq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Content: items}
}

// flow is a sequence of strings on one line.
func flow(items ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, s := range items {
		n.Content = append(n.Content, str(s))
	}
	return n
}

// setComment puts a comment above key of mapping m.
func setComment(m *yaml.Node, key, comment string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i].HeadComment = comment
		}
	}
}

// plain is a key.
func plain(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// yaml11Special matches the plain scalars that YAML 1.1 (PyYAML, which
// docker-compose v1 reads the file with) does not read as strings: booleans,
// null, and numbers, sexagesimal ones included.
func yaml11Special(s string) bool {
	re := regexp.MustCompile(`^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|~|null|Null|NULL|` +
		`[-+]?(?:0b[01_]+|0[0-7_]+|(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|[1-9][0-9_]*(?::[0-5]?[0-9])+)|` +
		`[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?|` +
		`[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	return re.MatchString(s)
}

// str is a string value, quoted when YAML 1.1 or 1.2 would read it as
// something else.
func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if s == "" || yaml11Special(s) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// quoted is a string value in double quotes.
func quoted(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.DoubleQuotedStyle}
}

// num is an integer value.
func num(i int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}
}

// encode writes a YAML document with a header comment, indented by two.
func encode(header string, top *yaml.Node) ([]byte, error) {
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: header, Content: []*yaml.Node{top}}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	// A blank line before a key ("\n" as its comment) comes out indented.
	return regexp.MustCompile(`(?m)[ \t]+$`).ReplaceAll(b.Bytes(), nil), nil
}
