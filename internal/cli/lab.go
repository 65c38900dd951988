package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/faults"
	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/stack"
)

// lab is a running lab of any stack.
type lab interface {
	stack.Stack
	// RunDir keeps the lab's state and the fault ledger.
	RunDir() string
}

// provider runs the lab on one stack: what -stack chooses. Each stack has
// its own file (stack_local.go, stack_compose.go, stack_remote.go) and one line in
// newStacks; the commands see only this interface.
type provider interface {
	// Name is the -stack value, as scenario files name the stack.
	Name() string
	// Summary says in a few words where the lab runs, for -stack's help.
	Summary() string
	// Flags registers the stack's own flags on fs (their usage starts with
	// "<name>: "), with env as their fallback.
	Flags(fs *flag.FlagSet, env Env)
	// Describe names the lab for progress lines.
	Describe() string
	// Up starts the system of lab file l and waits until it is ready;
	// progress gets a line per step.
	Up(ctx context.Context, l *labfile.Lab, progress io.Writer) (lab, error)
	// Attach returns the running lab of lab file l.
	Attach(l *labfile.Lab) (lab, error)
	// Down stops the lab; nothing running is not an error.
	Down(ctx context.Context, progress io.Writer) error
	// Status writes a table of the lab's components to w and returns an
	// error (exit code 4) unless every one is ready.
	Status(ctx context.Context, w io.Writer) error
	// Hints writes, after up's endpoints, how to mint a token, read the
	// logs and stop the lab.
	Hints(w io.Writer, e stack.Endpoints)
	// Capabilities says what the stack can apply to lab file l's system:
	// the fault kinds, knobs, and the targets it cannot reach. A scenario
	// that needs more is refused before anything runs (forCapabilities).
	Capabilities(l *labfile.Lab) (scenario.Capabilities, error)
}

// chaosFlagger is a provider whose lab, when `chaos` starts it, lives apart
// from the one `up` starts; ChaosFlags moves it and registers the flag
// that says where.
type chaosFlagger interface {
	ChaosFlags(fs *flag.FlagSet)
}

// newStacks returns the table of stacks, in the order -stack's help lists
// them; the first is the default. toolsDir is the shared -tools-dir.
func newStacks(toolsDir *string) []provider {
	return []provider{
		newLocalStack(toolsDir),
		newComposeStack(),
		newKubernetesStack(renderManifests),
		newRemoteStack(),
	}
}

// defaultToolsDir is where `make tools` installs the pinned tools.
const defaultToolsDir = ".tools/bin"

// labOptions are the flags that choose the stack and say where its lab
// lives: -stack (default $CHAOSLAB_STACK or the table's first stack),
// -tools-dir, and every stack's own flags.
type labOptions struct {
	stack string
	// toolsDir holds jaeger, prometheus, toxiproxy-server and k6, whatever
	// the stack (the harness runs k6 on the host).
	toolsDir string
	stacks   []provider
	// p is the chosen stack, set by check.
	p provider
}

// labFlags registers the lab flags: -stack with CHAOSLAB_STACK as its
// fallback, -tools-dir, and each stack's own flags with their fallbacks
// (CHAOSLAB_PORT_OFFSET, CHAOSLAB_COMPOSE_OFFLINE).
func labFlags(fs *flag.FlagSet, env Env) *labOptions {
	o := &labOptions{toolsDir: defaultToolsDir}
	o.stacks = newStacks(&o.toolsDir)
	o.stack = o.stacks[0].Name()
	if s := env.Getenv("CHAOSLAB_STACK"); s != "" {
		o.stack = s
	}
	fs.StringVar(&o.stack, "stack", o.stack, "where the lab runs: "+o.stackHelp()+"; default $CHAOSLAB_STACK or "+o.stacks[0].Name())
	fs.StringVar(&o.toolsDir, "tools-dir", o.toolsDir, "where jaeger, prometheus, toxiproxy-server and k6 are (make tools)")
	for _, p := range o.stacks {
		p.Flags(fs, env)
	}
	return o
}

// chaosFlags lets each stack that keeps the lab `chaos` starts apart move it
// and register the flag that says where.
func (o *labOptions) chaosFlags(fs *flag.FlagSet) {
	for _, p := range o.stacks {
		if c, ok := p.(chaosFlagger); ok {
			c.ChaosFlags(fs)
		}
	}
}

// stackHelp lists the stacks for -stack's help: "local (processes on
// 127.0.0.1) or compose (docker-compose.yml)".
func (o *labOptions) stackHelp() string {
	items := make([]string, len(o.stacks))
	for i, p := range o.stacks {
		items[i] = p.Name() + " (" + p.Summary() + ")"
	}
	return joinList(items, "or")
}

// check chooses the stack named by -stack and rejects an unknown one.
func (o *labOptions) check() error {
	names := make([]string, len(o.stacks))
	for i, p := range o.stacks {
		if p.Name() == o.stack {
			o.p = p
			return nil
		}
		names[i] = p.Name()
	}
	return usageErr("-stack %q: the stacks are %s", o.stack, joinList(names, "and"))
}

// joinList joins items as prose: "a", "a and b", "a, b and c".
func joinList(items []string, conj string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + conj + " " + items[len(items)-1]
}

// up starts the system of lab file l on the chosen stack.
func (o *labOptions) up(ctx context.Context, l *labfile.Lab, progress io.Writer) (lab, error) {
	return o.p.Up(ctx, l, progress)
}

// attach returns the running lab of lab file l.
func (o *labOptions) attach(l *labfile.Lab) (lab, error) { return o.p.Attach(l) }

// down stops the lab.
func (o *labOptions) down(ctx context.Context, progress io.Writer) error {
	return o.p.Down(ctx, progress)
}

// stop stops the lab a command started, even when ctx was cancelled (Ctrl-C),
// within two minutes, saying so; a failure to stop is reported, not returned.
func (o *labOptions) stop(ctx context.Context, env Env) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	fmt.Fprintln(env.Stdout, "\nstopping the lab")
	if err := o.down(dctx, env.Stdout); err != nil {
		fmt.Fprintf(env.Stderr, "stopping the lab: %v\n", err)
	}
}

// describe names the lab for progress lines.
func (o *labOptions) describe() string { return o.p.Describe() }

// injectorFor opens the lab's fault ledger and returns the injector that
// records every fault in it before acting; the caller closes the ledger.
func injectorFor(l lab) (*faults.Injector, *faults.Ledger, error) {
	ledger, err := faults.OpenLedger(faults.LedgerPath(l.RunDir()))
	if err != nil {
		return nil, nil, err
	}
	return faults.NewInjector(stack.FaultEnv(l, &http.Client{Timeout: 10 * time.Second}), ledger), ledger, nil
}
