// Package local runs a lab file's system as local processes on 127.0.0.1 —
// no Docker: Jaeger, Prometheus, Toxiproxy and the lab's services, each
// caller wired to its callees through a Toxiproxy proxy per edge, all as
// the lab file renders them (ports, commands, readiness, metrics). Up
// starts them in order and waits for each to be ready; Down stops
// everything it started, even when the process that ran Up is gone (it
// reads the state file).
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
)

// Config says which lab to run, where its pieces are and how to run them.
type Config struct {
	// Lab is the lab file's system (harness/lab): Up and Restart need it.
	Lab *lab.Lab
	// RunDir holds the state file, logs, generated configs and data.
	RunDir string
	// BinDir is the lab templates' {{.BinDir}}: where its service binaries
	// are built (the shop's: make build). A relative one is relative to the
	// lab's root.
	BinDir string
	// ToolsDir holds jaeger, prometheus and toxiproxy-server (make tools).
	ToolsDir string
	// PortOffset shifts every port of the lab.
	PortOffset int
	// RuleFiles are Prometheus rule files to load (absolute or relative).
	RuleFiles []string
	// ReadyTimeout bounds the wait for each component to become ready, and
	// Up's wait for Prometheus' first scrape of the services after that.
	ReadyTimeout time.Duration
	// StopGrace is how long a component may take to exit after SIGTERM.
	StopGrace time.Duration
	// Progress receives one line per step (nil: discarded).
	Progress io.Writer
}

// DefaultConfig is the lab of a checkout of this repository.
func DefaultConfig() Config {
	return Config{
		RunDir:       ".run/lab",
		BinDir:       "bin",
		ToolsDir:     ".tools/bin",
		ReadyTimeout: 30 * time.Second,
		StopGrace:    10 * time.Second,
	}
}

// ErrRunning is returned by Up when a lab already runs in the run dir.
var ErrRunning = errors.New("a lab is already running")

// Lab is a running local lab. It implements stack.Stack.
type Lab struct {
	cfg Config
	mu  sync.Mutex
	st  *State
}

var _ stack.Stack = (*Lab)(nil)

func (c Config) progress(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", args...)
	}
}

// Up starts the lab file's system: Prometheus, Jaeger, Toxiproxy (with a
// proxy per edge), then its services dependencies first, each waited for
// until ready,
// and then waits until Prometheus has scraped each service (up) since it was
// ready, so that a scenario's first seconds are measured. On any failure, or
// when ctx is cancelled, everything started is stopped.
func Up(ctx context.Context, cfg Config) (lab *Lab, err error) {
	start := time.Now()
	runDir, err := filepath.Abs(cfg.RunDir)
	if err != nil {
		return nil, err
	}
	cfg.RunDir = runDir
	if err := os.MkdirAll(filepath.Join(runDir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("creating run dir: %w", err)
	}
	if old, err := ReadState(runDir); err == nil {
		if running := old.Running(); len(running) > 0 {
			return nil, fmt.Errorf("%w in %s since %s (%d processes, e.g. %s pid %d): see `chaoslab status`, or stop it with `chaoslab down`",
				ErrRunning, runDir, old.StartedAt.Format(time.RFC3339), len(running), running[0].Name, running[0].PID)
		}
		cfg.progress("removing the state of a lab that is no longer running")
		if err := removeState(runDir); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}

	l := cfg.Lab
	if l == nil {
		return nil, errors.New("no lab file to run")
	}
	tools, err := locateTools(cfg)
	if err != nil {
		return nil, err
	}
	binDir, err := filepath.Abs(l.Path(cfg.BinDir))
	if err != nil {
		return nil, err
	}
	// A fresh lab starts with fresh data.
	for _, d := range []string{"data", "prometheus"} {
		if err := os.RemoveAll(filepath.Join(runDir, d)); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(runDir, "data"), 0o755); err != nil {
		return nil, err
	}
	auth, keyFile, err := authVars(l, runDir)
	if err != nil {
		return nil, err
	}
	pl, err := planFor(l, cfg, runDir, binDir, auth, keyFile)
	if err != nil {
		return nil, err
	}
	ports := pl.ports
	ephemeral := EphemeralPorts()
	if in := ports.InRange(ephemeral); len(in) > 0 {
		cfg.progress("warning: %s lie in the kernel's ephemeral range %s: an outgoing connection can take one before the lab starts; ports below %d cannot collide",
			portList(in), ephemeral, ephemeral.Low)
	}
	if err := ports.CheckFree(ephemeral); err != nil {
		return nil, err
	}

	st := &State{StartedAt: time.Now().UTC(), RunDir: runDir, LabFile: l.File, Ports: ports, ServiceArgs: map[string][]string{}}
	st.Endpoints = pl.endpoints
	lab = &Lab{cfg: cfg, st: st}
	if err := st.write(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			cfg.progress("start failed; stopping what was started")
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if derr := Down(stopCtx, cfg); derr != nil {
				err = errors.Join(err, derr)
			}
			lab = nil
		}
	}()

	ruleFiles, err := absPaths(cfg.RuleFiles)
	if err != nil {
		return nil, err
	}
	if l.Telemetry.Prometheus.Own() {
		if err := writeFile(filepath.Join(runDir, "prometheus.yml"), prometheusConfig(l, ports, l.Telemetry.Prometheus.ScrapeInterval, ruleFiles)); err != nil {
			return nil, err
		}
		// Prometheus first: before 3.12 it hands its (static, known) targets
		// to its scrapers only about 5 s after it starts (discovery batches),
		// so that clock runs while the rest of the lab starts.
		if _, err := lab.startComponent(ctx, "prometheus", tools["prometheus"], prometheusArgs(runDir, ports), nil, "",
			st.Endpoints.PrometheusURL+"/-/ready"); err != nil {
			return nil, err
		}
	}
	if l.Telemetry.Jaeger.Own() {
		if err := writeFile(filepath.Join(runDir, "jaeger.yaml"), jaegerConfig(ports)); err != nil {
			return nil, err
		}
		// Jaeger traces itself to the default OTLP port, which is its own
		// receiver here, and on SIGTERM (receiver gone) waits 10 s for that
		// export to time out. Its tracer honours only the sampler variable
		// (OTEL_SDK_DISABLED leaves it on): sample nothing.
		if _, err := lab.startComponent(ctx, "jaeger", tools["jaeger"],
			[]string{"--config", filepath.Join(runDir, "jaeger.yaml")},
			[]string{"OTEL_TRACES_SAMPLER=always_off"}, "",
			"http://"+st.Endpoints.JaegerHealthAddr+"/status"); err != nil {
			return nil, err
		}
	}
	if _, err := lab.startComponent(ctx, "toxiproxy", tools["toxiproxy-server"], []string{
		"-host", "127.0.0.1", "-port", fmt.Sprint(ports["toxiproxy"]["api"]), "-proxy-metrics", "-runtime-metrics",
	}, nil, "", st.Endpoints.ToxiproxyURL+"/version"); err != nil {
		return nil, err
	}
	specs := st.Endpoints.ProxySpecs()
	if err := toxiproxy.New(st.Endpoints.ToxiproxyURL).Populate(ctx, specs); err != nil {
		return nil, err
	}
	cfg.progress("  %-11s %d proxies: %s", "toxiproxy", len(specs), strings.Join(st.Endpoints.EdgeOrder(), ", "))

	readyAt := map[string]time.Time{}
	for _, svc := range pl.services {
		st.ServiceArgs[svc.name] = svc.args
		ready, err := lab.startComponent(ctx, svc.name, svc.command, svc.args, svc.env, svc.dir, svc.ready)
		if err != nil {
			return nil, err
		}
		if s, _ := l.Service(svc.serviceName()); s.Metrics != nil {
			readyAt[svc.serviceName()] = ready // the job is scraped when each replica is
		}
	}
	if !l.Telemetry.Prometheus.Own() {
		cfg.progress("  %-11s not waiting for the first scrapes: the lab's Prometheus is %s, not the harness's", "prometheus", st.Endpoints.PrometheusURL)
		return lab, nil
	}
	if err := lab.waitObserved(ctx, start, readyAt); err != nil {
		return nil, err
	}
	return lab, nil
}

// prometheusArgs are Prometheus' flags in the lab. The hidden
// --scrape.discovery-reload-interval lets the scrape manager take a
// discovery batch within 100 ms, not at its next 5 s tick. Since 3.12 the
// discovery manager sends its first batch within about 100 ms too, so the
// services are first scraped about 1 s after Prometheus starts, not 6 s.
// Before 3.12 discovery sends every 5 s and the flag changes nothing
// measurable; 2.42 (Debian's, CI's) accepts it and clamps it to 5 s.
func prometheusArgs(runDir string, ports Ports) []string {
	return []string{
		"--config.file=" + filepath.Join(runDir, "prometheus.yml"),
		"--storage.tsdb.path=" + filepath.Join(runDir, "prometheus"),
		"--storage.tsdb.retention.time=1d",
		"--web.listen-address=" + ports.Addr("prometheus", "http"),
		"--web.enable-remote-write-receiver",
		"--web.enable-lifecycle",
		"--scrape.discovery-reload-interval=100ms",
		"--log.level=warn",
	}
}

// waitObserved waits until Prometheus has scraped each service (its job has
// the service's name) since the service was ready, and reports both times:
// a lab is ready when what it does is measured.
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
		log := filepath.Join(l.st.RunDir, "logs", "prometheus.log")
		return fmt.Errorf("%w; last lines of %s:\n%s", err, log, tail(log, 15))
	}
	l.cfg.progress("%s", stack.ObservedReport(start, l.st.Endpoints.ServiceOrder, readyAt, after))
	return nil
}

// startComponent spawns a component in dir ("": the harness's), records
// it, and waits until ready; it returns when the component answered ready
// (stack.Probe of readyURL). env is added to the component's environment.
func (l *Lab) startComponent(ctx context.Context, name, path string, args, env []string, dir, readyURL string) (time.Time, error) {
	start := time.Now()
	logPath := filepath.Join(l.st.RunDir, "logs", name+".log")
	p, wait, err := spawn(name, path, args, env, dir, logPath)
	if err != nil {
		return time.Time{}, err
	}
	go wait() // reap the child if this process outlives it
	p.Ready = readyURL
	l.mu.Lock()
	l.st.Procs = append(l.st.Procs, p)
	err = l.st.write()
	l.mu.Unlock()
	if err != nil {
		return time.Time{}, err
	}
	if err := waitReady(ctx, p, l.cfg.ReadyTimeout); err != nil {
		return time.Time{}, err
	}
	ready := time.Now()
	l.cfg.progress("  %-11s ready in %4dms  (pid %d, log %s)", name, ready.Sub(start).Milliseconds(), p.PID, relPath(logPath))
	return ready, nil
}

// waitReady waits until the component is ready; the error of a component
// that exits or does not get ready carries its last log lines.
func waitReady(ctx context.Context, p Proc, timeout time.Duration) error {
	err := stack.WaitReady(ctx, p.Ready, timeout, func() error {
		if !p.Alive() {
			return errors.New("exited during start")
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("starting %s: %w", p.Name, ctx.Err())
	}
	return fmt.Errorf("%s: %w; last lines of %s:\n%s", p.Name, err, p.Log, tail(p.Log, 15))
}

// Attach returns the lab running in cfg.RunDir.
func Attach(cfg Config) (*Lab, error) {
	runDir, err := filepath.Abs(cfg.RunDir)
	if err != nil {
		return nil, err
	}
	cfg.RunDir = runDir
	st, err := ReadState(runDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no lab in %s: start one with `chaoslab up`", runDir)
	}
	if err != nil {
		return nil, err
	}
	if len(st.Running()) == 0 {
		return nil, fmt.Errorf("the lab in %s is not running any more: `chaoslab down` cleans up, `chaoslab up` starts a new one", runDir)
	}
	return &Lab{cfg: cfg, st: st}, nil
}

// Endpoints is where the lab listens.
func (l *Lab) Endpoints() stack.Endpoints {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.Endpoints
}

// RunDir is where the lab keeps its state, logs, data (and the fault ledger).
func (l *Lab) RunDir() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.RunDir
}

// State returns a copy of the lab's state.
func (l *Lab) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := *l.st
	s.Procs = append([]Proc(nil), l.st.Procs...)
	if l.st.Overrides != nil {
		s.Overrides = make(map[string]map[string]string, len(l.st.Overrides))
		for svc, flags := range l.st.Overrides {
			s.Overrides[svc] = maps.Clone(flags)
		}
	}
	return s
}

// Signal sends sig to a service's process: to each replica's, for a
// service with replicas, or to one replica's by its instance name.
func (l *Lab) Signal(_ context.Context, service string, sig syscall.Signal) error {
	l.mu.Lock()
	var procs []Proc
	for _, name := range l.st.members(service) {
		if i, ok := l.st.proc(name); ok {
			procs = append(procs, l.st.Procs[i])
		}
	}
	l.mu.Unlock()
	if len(procs) == 0 {
		return fmt.Errorf("no process %q in the lab", service)
	}
	var errs []error
	for _, p := range procs {
		errs = append(errs, p.Signal(sig))
	}
	return errors.Join(errs...)
}

// Restart stops a service and starts it again with flags overriding its
// lab defaults, then waits until it is ready: a service with replicas one
// replica after the other (a rolling restart), or one replica by its
// instance name. The state file records each new process with its
// overrides (State.Overrides) as soon as it is spawned.
func (l *Lab) Restart(ctx context.Context, service string, flags map[string]string) error {
	l.mu.Lock()
	members := l.st.members(service)
	l.mu.Unlock()
	for _, name := range members {
		if err := l.restart(ctx, name, flags); err != nil {
			return err
		}
	}
	return nil
}

// restart restarts the process name (a service's, or one replica's).
func (l *Lab) restart(ctx context.Context, name string, flags map[string]string) error {
	l.mu.Lock()
	i, ok := l.st.proc(name)
	var p Proc
	if ok {
		p = l.st.Procs[i]
	}
	service := l.st.serviceOf(name)
	args := append([]string(nil), l.st.ServiceArgs[name]...)
	l.mu.Unlock()
	if !ok || args == nil {
		return fmt.Errorf("no service %q in the lab", name)
	}
	if err := p.Stop(ctx, l.cfg.StopGrace); err != nil {
		return err
	}
	if len(flags) > 0 {
		if l.cfg.Lab == nil {
			return fmt.Errorf("restarting %s with knobs: no lab file to render them with", name)
		}
		knobArgs, err := l.cfg.Lab.KnobArgs(service, flags)
		if err != nil {
			return err
		}
		args = append(args, knobArgs...) // the last occurrence of a flag wins
	}
	l.mu.Lock()
	l.st.Procs = append(l.st.Procs[:i], l.st.Procs[i+1:]...)
	if len(flags) == 0 {
		delete(l.st.Overrides, name)
	} else {
		if l.st.Overrides == nil {
			l.st.Overrides = map[string]map[string]string{}
		}
		l.st.Overrides[name] = maps.Clone(flags)
	}
	l.mu.Unlock()
	// startComponent writes the state with the new process and its overrides.
	_, err := l.startComponent(ctx, name, p.Path, args, p.Env, p.Dir, p.Ready)
	return err
}

// Down stops every process the lab in cfg.RunDir started (SIGTERM, then
// SIGKILL after cfg.StopGrace), newest first, and removes the state file.
// Nothing running is not an error.
func Down(ctx context.Context, cfg Config) error {
	runDir, err := filepath.Abs(cfg.RunDir)
	if err != nil {
		return err
	}
	st, err := ReadState(runDir)
	if errors.Is(err, fs.ErrNotExist) {
		cfg.progress("no lab running in %s", runDir)
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for i := len(st.Procs) - 1; i >= 0; i-- {
		p := st.Procs[i]
		if !p.Alive() {
			continue
		}
		start := time.Now()
		if err := p.Stop(ctx, cfg.StopGrace); err != nil {
			errs = append(errs, err)
			continue
		}
		cfg.progress("  %-11s stopped in %4dms (pid %d)", p.Name, time.Since(start).Milliseconds(), p.PID)
	}
	if left := st.Running(); len(left) > 0 {
		for _, p := range left {
			errs = append(errs, fmt.Errorf("%s (pid %d) is still running", p.Name, p.PID))
		}
		return errors.Join(errs...)
	}
	if err := removeState(runDir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// locateTools finds the harness's own components (Jaeger, Prometheus,
// Toxiproxy) and says which make target provides a missing one.
func locateTools(cfg Config) (map[string]string, error) {
	bins := map[string]string{}
	var missing []string
	for _, t := range []string{"jaeger", "prometheus", "toxiproxy-server"} {
		p, err := filepath.Abs(filepath.Join(cfg.ToolsDir, t))
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
		bins[t] = p
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing tools: %s (run `make tools`)", strings.Join(missing, ", "))
	}
	return bins, nil
}

// authVars creates what the lab's load auth provider shares with the
// services: for hs256-jwt and client-credentials, the secret's file in the
// run dir (a random secret, written once) and the secret; keyFile is ""
// for another provider.
func authVars(l *lab.Lab, runDir string) (vars map[string]string, keyFile string, err error) {
	if !l.Load.Auth.SharesSecret() {
		return l.Load.Auth.AuthVars("", ""), "", nil
	}
	keyFile = filepath.Join(runDir, l.Load.Auth.KeyFile)
	key, err := stack.EnsureJWTKey(keyFile)
	if err != nil {
		return nil, "", err
	}
	return l.Load.Auth.AuthVars(keyFile, key), keyFile, nil
}

func writeFile(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func absPaths(paths []string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		out = append(out, abs)
	}
	return out, nil
}

func relPath(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return p
}
