package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/chaoslab/chaoslab/faults"

	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/stack/compose"
	"github.com/chaoslab/chaoslab/harness/stack/local"
)

// The stacks a lab can run on, as scenario files name them.
const (
	stackLocal   = scenario.StackLocal
	stackCompose = scenario.StackCompose
)

// lab is a running lab of either stack.
type lab interface {
	stack.Stack
	// RunDir keeps the lab's state and the fault ledger.
	RunDir() string
}

// labOptions are the flags that choose the stack and say where its lab
// lives: -stack (default $CHAOSLAB_STACK or local), the local lab's flags
// and the compose stack's.
type labOptions struct {
	stack   string
	local   local.Config
	compose compose.Config
}

// labFlags registers the lab flags, with CHAOSLAB_STACK, CHAOSLAB_PORT_OFFSET
// and CHAOSLAB_COMPOSE_OFFLINE as fallbacks. Prometheus loads the rule files
// matching -rules (the SLO rules generated from slo/slos.yaml) when a local
// lab starts; the compose stack mounts slo/rules.
func labFlags(fs *flag.FlagSet, env Env) *labOptions {
	o := &labOptions{stack: stackLocal, local: local.DefaultConfig(), compose: compose.DefaultConfig()}
	if s := env.Getenv("CHAOSLAB_STACK"); s != "" {
		o.stack = s
	}
	if v, err := strconv.Atoi(env.Getenv("CHAOSLAB_PORT_OFFSET")); err == nil {
		o.local.PortOffset = v
	}
	o.compose.Offline, _ = strconv.ParseBool(env.Getenv("CHAOSLAB_COMPOSE_OFFLINE"))
	fs.StringVar(&o.stack, "stack", o.stack, "where the lab runs: local (processes on 127.0.0.1) or compose (docker-compose.yml); default $CHAOSLAB_STACK or local")
	fs.StringVar(&o.local.RunDir, "run-dir", o.local.RunDir, "local: where the lab keeps its state, logs, configs and data")
	fs.StringVar(&o.local.BinDir, "bin-dir", o.local.BinDir, "local: where the service binaries are (make build)")
	fs.StringVar(&o.local.ToolsDir, "tools-dir", o.local.ToolsDir, "where jaeger, prometheus, toxiproxy-server and k6 are (make tools)")
	fs.IntVar(&o.local.PortOffset, "port-offset", o.local.PortOffset, "local: shift every lab port by N (default $CHAOSLAB_PORT_OFFSET or 0)")
	fs.DurationVar(&o.local.StopGrace, "stop-grace", o.local.StopGrace, "local: how long a component may take to exit after SIGTERM before SIGKILL")
	fs.Func("rules", "local: glob of Prometheus rule files the lab loads (default slo/rules/*.yml; \"\" for none)", func(glob string) error {
		return setRules(&o.local, glob)
	})
	_ = setRules(&o.local, filepath.Join("slo", "rules", "*.yml"))
	fs.StringVar(&o.compose.Dir, "compose-dir", o.compose.Dir, "compose: the directory of docker-compose.yml")
	fs.StringVar(&o.compose.RunDir, "compose-run-dir", o.compose.RunDir, "compose: where the lab keeps its state, JWT key and knobs override")
	fs.StringVar(&o.compose.ImageTag, "image-tag", o.compose.ImageTag, "compose: tag of the shop's images chaoslab/<service>:<tag> (make images)")
	fs.BoolVar(&o.compose.Offline, "compose-offline", o.compose.Offline, "compose: use the stand-in images built from the pinned tools (make images-offline) instead of pulling, without Grafana (default $CHAOSLAB_COMPOSE_OFFLINE)")
	return o
}

// check rejects an unknown stack.
func (o *labOptions) check() error {
	switch o.stack {
	case stackLocal, stackCompose:
		return nil
	}
	return usageErr("-stack %q: the stacks are local and compose", o.stack)
}

// up starts a lab.
func (o *labOptions) up(ctx context.Context, progress io.Writer) (lab, error) {
	if o.stack == stackCompose {
		o.compose.Progress = progress
		return compose.Up(ctx, o.compose)
	}
	o.local.Progress = progress
	l, err := local.Up(ctx, o.local)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// attach returns the running lab.
func (o *labOptions) attach() (lab, error) {
	if o.stack == stackCompose {
		return compose.Attach(o.compose)
	}
	l, err := local.Attach(o.local)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// down stops the lab.
func (o *labOptions) down(ctx context.Context, progress io.Writer) error {
	if o.stack == stackCompose {
		o.compose.Progress = progress
		return compose.Down(ctx, o.compose)
	}
	o.local.Progress = progress
	return local.Down(ctx, o.local)
}

// describe names the lab for progress lines.
func (o *labOptions) describe() string {
	if o.stack == stackCompose {
		mode := "pulling third-party images when missing"
		if o.compose.Offline {
			mode = "offline stand-in images, no Grafana"
		}
		return fmt.Sprintf("compose lab (project %s, %s)", o.compose.Project, mode)
	}
	return "local lab in " + o.local.RunDir
}

// injectorFor opens the lab's fault ledger and returns the injector that
// records every fault in it before acting; the caller closes the ledger.
func injectorFor(l lab) (*faults.Injector, *faults.Ledger, error) {
	ledger, err := faults.OpenLedger(faults.LedgerPath(l.RunDir()))
	if err != nil {
		return nil, nil, err
	}
	return faults.NewInjector(faults.StackEnv(l, &http.Client{Timeout: 10 * time.Second}), ledger), ledger, nil
}

func setRules(cfg *local.Config, glob string) error {
	cfg.RuleFiles = nil
	if glob == "" {
		return nil
	}
	files, err := filepath.Glob(glob)
	if err != nil {
		return err
	}
	cfg.RuleFiles = files
	return nil
}
