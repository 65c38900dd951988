package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/diag"
	"github.com/chaoslab/chaoslab/harness/exitcode"
	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/stack/remote"
)

// stackRemote reaches a lab that runs elsewhere through the URLs of a
// remote endpoints file; it applies only the faults those allow.
const stackRemote = scenario.StackRemote

// remoteStack is a lab already running somewhere (harness/stack/remote).
type remoteStack struct {
	cfg remote.Config
}

var _ provider = (*remoteStack)(nil)

func newRemoteStack() *remoteStack { return &remoteStack{cfg: remote.DefaultConfig()} }

func (s *remoteStack) Name() string { return stackRemote }
func (s *remoteStack) Summary() string {
	return "a lab running elsewhere, given by the URLs of -remote FILE"
}

// Flags registers the remote stack's flags; CHAOSLAB_REMOTE is -remote's
// fallback.
func (s *remoteStack) Flags(fs *flag.FlagSet, env Env) {
	s.cfg.File = env.Getenv("CHAOSLAB_REMOTE")
	fs.StringVar(&s.cfg.File, "remote", s.cfg.File, "remote: the remote endpoints file (docs/remote.md): the lab's entry, Prometheus, Jaeger, Toxiproxy and admin URLs (default $CHAOSLAB_REMOTE)")
	fs.StringVar(&s.cfg.RunDir, "remote-run-dir", s.cfg.RunDir, "remote: where the harness keeps, locally, the fault ledger of the remote lab and the copy of its JWT key")
}

func (s *remoteStack) Describe() string { return "remote lab of " + s.cfg.File }

func (s *remoteStack) config(lf *labfile.Lab, progress io.Writer) remote.Config {
	cfg := s.cfg
	cfg.Lab, cfg.Progress = lf, progress
	return cfg
}

// fileErr maps the remote file's problems (file:line:col) to exit 2.
func fileErr(err error) error {
	var verr *diag.ValidationError
	if errors.As(err, &verr) {
		return usageErr("invalid remote endpoints file, nothing was run:\n%w", err)
	}
	return err
}

func (s *remoteStack) Up(ctx context.Context, lf *labfile.Lab, progress io.Writer) (lab, error) {
	fmt.Fprintf(progress, "  nothing to start: probing the endpoints of %s\n", s.cfg.File)
	l, err := remote.Up(ctx, s.config(lf, progress))
	if err != nil {
		return nil, fileErr(err)
	}
	return l, nil
}

// Attach probes the remote lab as Up does; the interface gives it no
// context, so the probes are bounded here.
func (s *remoteStack) Attach(lf *labfile.Lab) (lab, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := remote.Attach(ctx, s.config(lf, nil))
	if err != nil {
		return nil, fileErr(err)
	}
	return l, nil
}

// Down leaves the remote lab running and rolls back what the ledger still
// lists.
func (s *remoteStack) Down(ctx context.Context, progress io.Writer) error {
	rb, err := remote.Down(ctx, s.config(nil, progress))
	for _, a := range rb.Faults {
		fmt.Fprintf(progress, "  rolled back %s (from run %s, phase %s)\n", a.Summary(), a.RunID, a.Phase)
	}
	if err != nil {
		return fileErr(err)
	}
	fmt.Fprintf(progress, "  the remote lab of %s runs on: chaoslab owns none of its processes\n", s.cfg.File)
	return nil
}

// Status probes every endpoint of the remote file.
func (s *remoteStack) Status(ctx context.Context, w io.Writer) error {
	l, err := remote.Open(s.config(nil, nil))
	if err != nil {
		return &exitError{code: exitcode.Infra, err: fileErr(err)}
	}
	checks := l.Probe(ctx)
	bad := 0
	for _, c := range checks {
		fmt.Fprintln(w, c.String())
		if c.Err != nil {
			bad++
		}
	}
	fmt.Fprintf(w, "remote lab %s of %s\n", l.File().Lab, s.cfg.File)
	if bad > 0 {
		return &exitError{code: exitcode.Infra, err: fmt.Errorf("%d of %d endpoints do not answer as they should", bad, len(checks))}
	}
	return nil
}

func (s *remoteStack) Hints(w io.Writer, _ stack.Endpoints) {
	fmt.Fprintf(w, "\nthe remote lab runs on its own: `chaoslab down -stack remote -remote %s` only rolls back what a run left\n", s.cfg.File)
}

// Capabilities are the faults the remote file's endpoints allow: network
// faults on the edges whose proxy it names, when it gives Toxiproxy;
// request faults on the services it gives an admin URL; never process
// faults, container faults or knobs that restart a service.
func (s *remoteStack) Capabilities(lf *labfile.Lab) (scenario.Capabilities, error) {
	if s.cfg.File == "" {
		return scenario.Capabilities{}, usageErr("-stack remote needs -remote FILE (or $CHAOSLAB_REMOTE): the remote endpoints file (docs/remote.md; `chaoslab remote-file` writes one for a running local lab)")
	}
	f, err := remote.LoadFile(s.cfg.File, lf)
	if err != nil {
		return scenario.Capabilities{}, usageErr("%v", fileErr(err))
	}
	name := filepath.Base(s.cfg.File)
	owns := "it owns no process of the lab (only the local and compose stacks do)"
	c := scenario.Capabilities{
		Stack: stackRemote,
		Why: map[string]string{
			faults.KindProcess: owns, scenario.KindKnobs: owns + ": write only the lab's defaults, or run the scenario on another stack",
			faults.KindContainer: owns,
		},
		Refused: map[string]map[string]string{faults.KindNetwork: {}, faults.KindRequest: {}},
	}
	if f.Toxiproxy != "" {
		c.Can = append(c.Can, scenario.Ability{Kind: faults.KindNetwork, Via: "Toxiproxy"})
		for _, e := range lf.EdgeNames() {
			if f.Proxies[e] == "" {
				c.Refused[faults.KindNetwork][e] = fmt.Sprintf("%s names no Toxiproxy proxy for it (edges.%s.proxy)", name, e)
			}
		}
	} else {
		c.Why[faults.KindNetwork] = fmt.Sprintf("%s gives no toxiproxy URL", name)
	}
	admins := 0
	for _, svc := range lf.ServiceNames() {
		if f.Services[svc].Admin == "" {
			c.Refused[faults.KindRequest][svc] = fmt.Sprintf("%s gives it no admin URL (services.%s.admin)", name, svc)
			continue
		}
		admins++
	}
	if admins > 0 {
		c.Can = append(c.Can, scenario.Ability{Kind: faults.KindRequest, Via: "admin APIs"})
	} else {
		c.Why[faults.KindRequest] = fmt.Sprintf("%s gives no service an admin URL", name)
	}
	return c, nil
}
