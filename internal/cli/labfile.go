package cli

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/chaoslab/chaoslab/harness/checks"
	"github.com/chaoslab/chaoslab/harness/diag"
	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/labs/shop"
	"github.com/chaoslab/chaoslab/labs/shop/invariants"
)

// defaultLabFile is the shop's lab file, the default of -lab.
var defaultLabFile = filepath.Join("labs", "shop", "lab.yaml")

// registerLabFile registers -lab on fs, the lab file that scenarios are
// checked against, into path. Each command that checks scenarios calls it
// once (suiteFlags.register for run, chaos and list; validate).
func registerLabFile(fs *flag.FlagSet, path *string) {
	fs.StringVar(path, "lab", defaultLabFile,
		"the lab file (docs/lab.md): the system the stacks run and scenarios are checked against")
}

// shopBuiltins are the names of the built-in checkers a lab file may name:
// the shop's (package labs/shop), its invariants and its settle probe.
func shopBuiltins() labfile.Builtins { return shop.Builtins(invariants.Shop{}).Names() }

// namesBuiltins reports whether l's settle probe or an invariant is a
// builtin.
func namesBuiltins(l *labfile.Lab) bool {
	if l.Settle != nil && l.Settle.Builtin != "" {
		return true
	}
	for _, inv := range l.Invariants {
		if inv.Builtin != "" {
			return true
		}
	}
	return false
}

// labChecks returns the checks of lab file l (its settle probe and
// invariants) on the running lab e, their templates rendered with vars,
// and a func that releases them. A lab that names builtins gets the
// shop's, reading the shop's services at their addresses in e.
func labChecks(l *labfile.Lab, e stack.Endpoints, vars labfile.HarnessVars) (*checks.Set, func(), error) {
	var builtins checks.Builtins
	release := func() {}
	if namesBuiltins(l) {
		addrs := map[string]string{}
		for name, svc := range e.Services {
			addrs[name] = svc.Addr
		}
		conn, err := shop.Dial(addrs)
		if err != nil {
			return nil, nil, fmt.Errorf("lab %s names the shop's built-in checkers: %w", l.Name, err)
		}
		builtins = shop.Builtins(conn.Shop)
		release = func() { _ = conn.Close() }
	}
	set, err := checks.New(l, vars, builtins)
	if err != nil {
		release()
		return nil, nil, err
	}
	return set, release, nil
}

// harnessVars are what the harness's templates of l (the auth command, a
// settle probe's or an invariant's command or URL) see of the running lab
// e, whose run directory is runDir: the services on 127.0.0.1, shifted by
// the lab's port offset.
func harnessVars(l *labfile.Lab, e stack.Endpoints, runDir string) labfile.HarnessVars {
	binDir := e.BinDir
	if binDir == "" {
		binDir = l.Path("bin")
	}
	h := l.HarnessVarsFor(l.LocalPlacement(e.PortOffset, runDir, binDir, nil), e.PrometheusURL)
	// Where the stack says a port answers wins over the port plan: a
	// remote lab's ports are its file's, not the plan's.
	for _, s := range l.Services {
		es, ok := e.Services[s.Name]
		if !ok {
			continue
		}
		type portAddr struct{ port, addr string }
		known := []portAddr{{l.TargetPort(s), es.Addr}}
		if s.Metrics != nil {
			known = append(known, portAddr{s.Metrics.Port, urlHost(es.MetricsURL)})
		}
		if s.Ready.HTTP != nil {
			known = append(known, portAddr{s.Ready.HTTP.Port, urlHost(es.ReadyURL)})
		}
		if s.Ready.GRPC != nil {
			known = append(known, portAddr{s.Ready.GRPC.Port, urlHost(es.ReadyURL)})
		}
		if s.Faults != nil {
			known = append(known, portAddr{s.Faults.Port, urlHost(es.AdminURL)})
		}
		for _, k := range known {
			if k.port != "" && k.addr != "" {
				h = h.WithAddr(s.Name, k.port, k.addr)
			}
		}
	}
	return h
}

// urlHost is the host:port of URL u ("" when it has none).
func urlHost(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return parsed.Host
}

// labPaths are where a lab file's scenarios, k6 scripts and SLO
// definitions are: the defaults of -scenarios, -loadtests and -slos.
type labPaths struct{ scenarios, loadtests, slos string }

// labDefaults returns lf's paths, relative to the working directory when
// they are below it: scenarios/ in the lab's root, load.scripts and slos
// ("" when the lab has none).
func labDefaults(lf *labfile.Lab) labPaths {
	p := labPaths{scenarios: shortPath(lf.Path("scenarios")), loadtests: shortPath(lf.Path(lf.Load.Scripts))}
	if lf.SLOs != "" {
		p.slos = shortPath(lf.Path(lf.SLOs))
	}
	return p
}

// shortPath is p relative to the working directory when it is below it.
func shortPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, abs); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// loadLabFile loads and checks the lab file at path; an invalid one is a
// usage error listing its problems (file:line:col), like an invalid scenario.
func loadLabFile(path string) (*labfile.Lab, error) {
	l, err := labfile.Load(path, labfile.WithBuiltins(shopBuiltins()))
	var verr *diag.ValidationError
	switch {
	case errors.As(err, &verr):
		return nil, usageErr("invalid lab file %s, nothing was checked or run:\n%w", path, err)
	case err != nil:
		return nil, usageErr("-lab: %v", err)
	}
	return l, nil
}
