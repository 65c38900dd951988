// Package compose runs the lab with docker-compose (docker-compose.yml at
// the repository's root, generated from the lab file by Files: make
// compose-file): the lab's images, Toxiproxy, Prometheus, Jaeger and
// Grafana as containers, their ports published on 127.0.0.1 at the local
// lab's default ports. It implements
// stack.Stack, so the scenario library runs on it unchanged: process faults
// become docker kill/pause/unpause, knobs recreate a service with an override
// file, and it adds container faults (stop, kill, pause, disconnect).
package compose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/stack/local"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
)

// Config says where the compose project is and how to run it.
type Config struct {
	// Lab is the lab file's system (harness/lab) that docker-compose.yml
	// runs: its services, ports and edges.
	Lab *lab.Lab
	// Dir holds docker-compose.yml (the repository's root).
	Dir string
	// Project is the compose project name (-p); default "chaoslab".
	Project string
	// RunDir keeps the state, the JWT key and the knobs override file.
	RunDir string
	// ImageTag tags the shop's images chaoslab/<service>:<tag> (make images).
	ImageTag string
	// Offline uses images built from the pinned tool binaries instead of
	// pulling the third-party ones (make images-offline), and leaves out
	// Grafana, which cannot be built from source here.
	Offline bool
	// ShopOnly starts the shop and Toxiproxy only — no Jaeger, Prometheus or
	// Grafana: enough for faults and checkouts, not for SLO checks (the
	// smoke test of CI, which cannot pull those images).
	ShopOnly bool
	// ReadyTimeout bounds the wait for every container to be ready.
	ReadyTimeout time.Duration
	// Progress receives one line per step (nil: discarded).
	Progress io.Writer
	// Environ is the environment docker and docker-compose run with (nil:
	// os.Environ).
	Environ func() []string
}

// DefaultConfig is the repository's compose project in .run/compose.
func DefaultConfig() Config {
	return Config{Dir: ".", Project: "chaoslab", RunDir: filepath.Join(".run", "compose"), ImageTag: "dev", ReadyTimeout: 2 * time.Minute}
}

// OfflineImages are the stand-ins of the third-party images that `make
// images-offline` builds from the pinned tools, by the variable
// docker-compose.yml reads each image from.
func OfflineImages() map[string]string {
	return map[string]string{
		"TOXIPROXY_IMAGE":  "chaoslab/toxiproxy:local",
		"PROMETHEUS_IMAGE": "chaoslab/prometheus:local",
		"JAEGER_IMAGE":     "chaoslab/jaeger:local",
		"K6_IMAGE":         "chaoslab/k6:local",
	}
}

func (c Config) progress(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", args...)
	}
}

// services returns the compose services the lab starts: the harness's
// components, then the lab's containers in order (dependencies first,
// each replica of a service with replicas: containers).
func (c Config) services(order []string) []string {
	if c.ShopOnly {
		return append([]string{"toxiproxy"}, order...)
	}
	s := append([]string{"jaeger", "prometheus", "toxiproxy"}, order...)
	if !c.Offline {
		s = append(s, "grafana")
	}
	return s
}

// State is what `up` leaves in RunDir/state.json for later commands.
type State struct {
	StartedAt time.Time       `json:"started_at"`
	Offline   bool            `json:"offline"`
	ShopOnly  bool            `json:"shop_only,omitempty"`
	Endpoints stack.Endpoints `json:"endpoints"`
	// Knobs are the flags each service runs with beyond its defaults.
	Knobs map[string]map[string]string `json:"knobs,omitempty"`
}

// Lab is a running compose lab.
type Lab struct {
	cfg Config
	r   runner

	mu sync.Mutex
	st State
}

func (c Config) abs() (Config, error) {
	var err error
	if c.Dir, err = filepath.Abs(c.Dir); err != nil {
		return c, err
	}
	if c.RunDir, err = filepath.Abs(c.RunDir); err != nil {
		return c, err
	}
	if c.Project == "" {
		c.Project = "chaoslab"
	}
	if c.ImageTag == "" {
		c.ImageTag = "dev"
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 2 * time.Minute
	}
	if c.Environ == nil {
		c.Environ = os.Environ
	}
	return c, nil
}

func (c Config) knobsFile() string { return filepath.Join(c.RunDir, "knobs.yml") }
func (c Config) stateFile() string { return filepath.Join(c.RunDir, "state.json") }

// runner returns the commands' runner; the JWT key and the image choice go
// to docker-compose through its environment.
func (c Config) runner(key string) runner {
	env := []string{ImageTagVar + "=" + c.ImageTag}
	if key != "" {
		env = append(env, JWTKeyVar+"="+key)
	}
	if c.Offline {
		images := OfflineImages()
		for _, k := range slices.Sorted(maps.Keys(images)) {
			env = append(env, k+"="+images[k])
		}
	}
	return runner{
		dir: c.Dir, files: []string{filepath.Join(c.Dir, ComposeFile), c.knobsFile()},
		project: c.Project, env: env, environ: c.Environ,
	}
}

// Up starts the compose lab (Prometheus first), waits until every container
// is ready, and then (unless ShopOnly) until Prometheus has scraped each
// service up since it was ready, so that a scenario's first seconds are
// measured. The images must exist (make images; make images-offline when
// Offline); the third-party ones are pulled by docker-compose when they do
// not.
func Up(ctx context.Context, cfg Config) (lab *Lab, err error) {
	if cfg, err = cfg.abs(); err != nil {
		return nil, err
	}
	if cfg.Lab == nil {
		return nil, errors.New("no lab file to run")
	}
	if err := os.MkdirAll(cfg.RunDir, 0o755); err != nil {
		return nil, err
	}
	keyFile := filepath.Join(cfg.RunDir, cfg.Lab.Load.Auth.SecretFile())
	key, err := stack.EnsureJWTKey(keyFile)
	if err != nil {
		return nil, err
	}
	r := cfg.runner(key)
	if _, err := r.docker(ctx, "info", "--format", "{{.ServerVersion}}"); err != nil {
		return nil, fmt.Errorf("the compose stack needs a running Docker engine: %w", err)
	}
	if err := cfg.checkImages(ctx, r); err != nil {
		return nil, err
	}
	gw, err := bridgeGateway(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := writeKnobs(cfg.knobsFile(), nil, nil); err != nil {
		return nil, err
	}
	st := State{StartedAt: time.Now().UTC(), Offline: cfg.Offline, ShopOnly: cfg.ShopOnly, Endpoints: endpoints(cfg.Lab, keyFile, gw)}
	lab = &Lab{cfg: cfg, r: r, st: st}
	if err := lab.writeState(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			cfg.progress("start failed; removing what was started")
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if derr := Down(dctx, cfg); derr != nil {
				err = errors.Join(err, derr)
			}
			lab = nil
		}
	}()

	start := time.Now()
	up := []string{"up", "-d", "--no-build", "--remove-orphans"}
	if cfg.ShopOnly {
		up = append(up, "--no-deps")
	}
	// Prometheus first, on its own: before 3.12 it hands its targets to its
	// scrapers only about 5 s after it starts, so that clock runs while the
	// other containers are created.
	services := cfg.services(containers(st.Endpoints, cfg.Lab.StartOrder()))
	batches := [][]string{services}
	if slices.Contains(services, "prometheus") {
		batches = [][]string{{"prometheus"}, slices.DeleteFunc(slices.Clone(services), func(s string) bool { return s == "prometheus" })}
	}
	for _, batch := range batches {
		cfg.progress("  docker-compose up -d %s", strings.Join(batch, " "))
		if _, err := r.compose(ctx, append(up, batch...)...); err != nil {
			if !cfg.Offline {
				err = fmt.Errorf("%w\n(the third-party images are pulled on first use; without a registry, build stand-ins and run without Grafana: COMPOSE_OFFLINE=1, see the README)", err)
			}
			return nil, err
		}
	}
	readyAt := map[string]time.Time{}
	for _, c := range lab.readiness() {
		if err := stack.WaitReady(ctx, c.url, cfg.ReadyTimeout, nil); err != nil {
			logs, _ := r.compose(context.WithoutCancel(ctx), "logs", "--tail", "15", c.name)
			return nil, fmt.Errorf("%s: %w; its last log lines:\n%s", c.name, err, strings.TrimSpace(logs))
		}
		if s, ok := cfg.Lab.Service(st.Endpoints.ServiceOf(c.name)); ok && s.Metrics != nil {
			readyAt[s.Name] = time.Now() // its job is scraped when each replica is
		}
		cfg.progress("  %-11s ready after %4dms", c.name, time.Since(start).Milliseconds())
	}
	// The proxies come from compose/toxiproxy.json; populating them again
	// makes sure they are there, enabled and without toxics.
	if err := toxiproxy.New(st.Endpoints.ToxiproxyURL).Populate(ctx, st.Endpoints.ProxySpecs()); err != nil {
		return nil, err
	}
	if !cfg.ShopOnly {
		if err := lab.waitObserved(ctx, start, readyAt); err != nil {
			return nil, err
		}
	}
	return lab, nil
}

// waitObserved waits until Prometheus has scraped each service (its job in
// compose/prometheus.yml has the service's name) since the service answered
// ready, and reports both times: a lab is ready when what it does is
// measured.
func (l *Lab) waitObserved(ctx context.Context, start time.Time, readyAt map[string]time.Time) error {
	l.cfg.progress("  %-11s waiting for its first scrape of each service (before 3.12 it hands its targets to its scrapers only about 5 s after it starts)", "prometheus")
	q, err := stack.NewTargetsQuerier(l.st.Endpoints.PrometheusURL)
	if err != nil {
		return err
	}
	after, err := stack.WaitScraped(ctx, q, readyAt, l.cfg.ReadyTimeout)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for Prometheus' first scrapes: %w", ctx.Err())
		}
		logs, _ := l.r.compose(context.WithoutCancel(ctx), "logs", "--tail", "15", "prometheus")
		return fmt.Errorf("%w; its last log lines:\n%s", err, strings.TrimSpace(logs))
	}
	l.cfg.progress("%s", stack.ObservedReport(start, l.st.Endpoints.ServiceOrder, readyAt, after))
	return nil
}

// checkImages fails early, naming the make target, when an image that
// cannot be pulled is missing.
func (c Config) checkImages(ctx context.Context, r runner) error {
	want, err := c.images()
	if err != nil {
		return err
	}
	var missing []string
	for _, img := range want {
		if _, err := r.docker(ctx, "image", "inspect", "--format", "{{.Id}}", img); err != nil {
			missing = append(missing, img)
		}
	}
	if len(missing) > 0 {
		how := "`make images`"
		if c.Offline {
			how += " and `make images-offline`"
		}
		return fmt.Errorf("missing images %s: build them with %s", strings.Join(missing, ", "), how)
	}
	return nil
}

// images are the images Up runs that cannot be pulled, sorted: the lab's
// services' (only the image is rendered: the auth values are left empty),
// and the offline stand-ins when Offline.
func (c Config) images() ([]string, error) {
	var want []string
	p := c.Lab.ComposePlacement(c.RunDir, c.ImageTag, c.Lab.Load.Auth.AuthVars("", ""))
	for _, s := range c.Lab.StartOrder() {
		img, err := c.Lab.RenderCompose(s, 0, p)
		if err != nil {
			return nil, err
		}
		want = append(want, img.Image)
	}
	if c.Offline {
		images := OfflineImages() // by variable: <SERVICE>_IMAGE
		for _, svc := range c.services(nil) {
			if img, ok := images[strings.ToUpper(svc)+"_IMAGE"]; ok {
				want = append(want, img)
			}
		}
	}
	return slices.Sorted(slices.Values(want)), nil
}

// bridgeGateway is the host's address on Docker's default bridge, which
// containers reach as host.docker.internal (host-gateway): the harness
// serves its metrics there. Some engines leave the bridge's gateway out of
// its IPAM config; the docker0 interface's address is the same one.
func bridgeGateway(ctx context.Context, r runner) (string, error) {
	out, err := r.docker(ctx, "network", "inspect", "bridge", "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}")
	if err != nil {
		return "", err
	}
	for _, f := range strings.Fields(out) {
		if ip := net.ParseIP(f); ip != nil && ip.To4() != nil {
			return f, nil
		}
	}
	if ifc, err := net.InterfaceByName("docker0"); err == nil {
		if addrs, err := ifc.Addrs(); err == nil {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
					return ipn.IP.String(), nil
				}
			}
		}
	}
	return "", fmt.Errorf("found no host address on Docker's bridge network (no IPAM gateway, no docker0 interface): the harness could not serve its metrics to the compose Prometheus")
}

// endpoints are the local lab's endpoints at offset 0 — docker-compose.yml
// publishes the lab's ports on 127.0.0.1, each replica's at its own — but
// for the proxies, which listen inside the compose network and reach each
// service (each replica) by its name, and the harness's metrics, served on
// the Docker bridge's address (bridgeGW) where compose/prometheus.yml
// scrapes them as host.docker.internal.
func endpoints(l *lab.Lab, keyFile, bridgeGW string) stack.Endpoints {
	p := local.PortsFor(l, 0)
	e := local.EndpointsFor(l, p, keyFile)
	e.HarnessMetricsAddr = net.JoinHostPort(bridgeGW, strconv.Itoa(p[lab.ComponentHarness]["metrics"]))
	for _, edge := range l.Edges {
		var se stack.Edge
		for r, px := range edgeProxies(l, edge, p[lab.ComponentToxiproxy][lab.ProxyPortName(edge.Name)]) {
			re := stack.Edge{Name: edge.Name, Proxy: px.Name, Listen: px.Listen, Upstream: px.Upstream}
			if r == 0 {
				se = re
				continue
			}
			se.Replicas = append(se.Replicas, re)
		}
		e.Edges[edge.Name] = se
	}
	return e
}

// known says whether name is a lab service or one replica of one.
func known(e stack.Endpoints, name string) bool {
	_, ok := e.Instance(name)
	return ok
}

// containers are the compose services of the lab services names, in order
// (each service's replicas in its place).
func containers(e stack.Endpoints, names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, e.Members(n)...)
	}
	return out
}

type check struct{ name, url string }

// readiness lists what must answer 200 before the lab is up, in start
// order: each container, each replica of a service with replicas.
func (l *Lab) readiness() []check {
	e := l.Endpoints()
	urls := map[string]string{
		"jaeger":     "http://" + e.JaegerHealthAddr + "/status",
		"prometheus": e.PrometheusURL + "/-/ready",
		"toxiproxy":  e.ToxiproxyURL + "/version",
		"grafana":    "http://127.0.0.1:3000/api/health",
	}
	for name, svc := range e.Services {
		urls[name] = svc.ReadyURL
		for _, i := range svc.Instances {
			urls[i.Name] = i.ReadyURL
		}
	}
	var out []check
	for _, svc := range l.cfg.services(containers(e, e.ServiceOrder)) {
		out = append(out, check{svc, urls[svc]})
	}
	return out
}

// Down stops and removes the compose lab's containers, network and volumes.
// Nothing running is not an error.
func Down(ctx context.Context, cfg Config) error {
	cfg, err := cfg.abs()
	if err != nil {
		return err
	}
	if err := writeKnobs(cfg.knobsFile(), nil, nil); err != nil {
		return err
	}
	start := time.Now()
	if _, err := cfg.runner("").compose(ctx, "down", "-v", "--remove-orphans", "--timeout", "10"); err != nil {
		return err
	}
	cfg.progress("  compose project %s removed in %dms", cfg.Project, time.Since(start).Milliseconds())
	if err := os.Remove(cfg.stateFile()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Attach returns the compose lab that `up` started.
func Attach(cfg Config) (*Lab, error) {
	cfg, err := cfg.abs()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(cfg.stateFile())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no compose lab in %s: start one with `chaoslab up -stack compose` (make up)", cfg.RunDir)
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.stateFile(), err)
	}
	cfg.Offline, cfg.ShopOnly = st.Offline, st.ShopOnly
	key, err := os.ReadFile(st.Endpoints.JWTKeyFile)
	if err != nil {
		return nil, err
	}
	return &Lab{cfg: cfg, r: cfg.runner(strings.TrimSpace(string(key))), st: st}, nil
}

// Endpoints is where the lab listens, from the host.
func (l *Lab) Endpoints() stack.Endpoints {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.Endpoints
}

// RunDir is where the lab keeps its state (and the fault ledger).
func (l *Lab) RunDir() string { return l.cfg.RunDir }

func (l *Lab) writeState() error {
	l.mu.Lock()
	b, err := json.MarshalIndent(l.st, "", "  ")
	l.mu.Unlock()
	if err != nil {
		return err
	}
	tmp := l.cfg.stateFile() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, l.cfg.stateFile())
}
