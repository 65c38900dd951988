package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/exitcode"
	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/slodef"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/stack/local"
)

// stackLocal runs the lab as processes on 127.0.0.1.
const stackLocal = scenario.StackLocal

// localStack is the lab as local processes (harness/stack/local).
type localStack struct {
	cfg local.Config
	// toolsDir is the shared -tools-dir, read when the lab is used.
	toolsDir *string
	// rulesSet says -rules was given: the lab's SLO rules are not generated.
	rulesSet bool
}

var (
	_ provider     = (*localStack)(nil)
	_ chaosFlagger = (*localStack)(nil)
)

func newLocalStack(toolsDir *string) *localStack {
	return &localStack{cfg: local.DefaultConfig(), toolsDir: toolsDir}
}

func (s *localStack) Name() string    { return stackLocal }
func (s *localStack) Summary() string { return "processes on 127.0.0.1" }

// Flags registers the local lab's flags; CHAOSLAB_PORT_OFFSET is
// -port-offset's fallback. Prometheus loads the rule files matching -rules
// when the lab starts; by default, the recording and alerting rules of the
// lab file's SLOs, generated into the run dir.
func (s *localStack) Flags(fs *flag.FlagSet, env Env) {
	if v, err := strconv.Atoi(env.Getenv("CHAOSLAB_PORT_OFFSET")); err == nil {
		s.cfg.PortOffset = v
	}
	fs.StringVar(&s.cfg.RunDir, "run-dir", s.cfg.RunDir, "local: where the lab keeps its state, logs, configs and data")
	fs.StringVar(&s.cfg.BinDir, "bin-dir", s.cfg.BinDir, "local: the lab file's {{.BinDir}}, where its service binaries are (the shop's: make build); relative to the lab's root")
	fs.IntVar(&s.cfg.PortOffset, "port-offset", s.cfg.PortOffset, "local: shift every lab port by N (default $CHAOSLAB_PORT_OFFSET or 0)")
	fs.DurationVar(&s.cfg.StopGrace, "stop-grace", s.cfg.StopGrace, "local: how long a component may take to exit after SIGTERM before SIGKILL")
	fs.Func("rules", "local: glob of Prometheus rule files the lab loads (default: the rules of the lab file's slos, generated into the run dir; \"\" for none)", func(glob string) error {
		s.rulesSet = true
		return setRules(&s.cfg, glob)
	})
}

// ChaosFlags keeps the lab that `chaos` starts in .run/chaos, apart from
// the one `up` starts, and registers -chaos-run-dir.
func (s *localStack) ChaosFlags(fs *flag.FlagSet) {
	s.cfg.RunDir = filepath.Join(".run", "chaos")
	fs.StringVar(&s.cfg.RunDir, "chaos-run-dir", s.cfg.RunDir, "local: run dir of the lab this command starts")
}

func (s *localStack) Describe() string { return "local lab in " + s.cfg.RunDir }

// config is the lab's configuration with the shared flags and progress.
func (s *localStack) config(progress io.Writer) local.Config {
	cfg := s.cfg
	cfg.ToolsDir = *s.toolsDir
	cfg.Progress = progress
	return cfg
}

func (s *localStack) Up(ctx context.Context, lf *labfile.Lab, progress io.Writer) (lab, error) {
	cfg := s.config(progress)
	cfg.Lab = lf
	if !s.rulesSet {
		files, err := writeSLORules(lf, filepath.Join(cfg.RunDir, "rules"))
		if err != nil {
			return nil, err
		}
		cfg.RuleFiles = files
	}
	l, err := local.Up(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (s *localStack) Attach(lf *labfile.Lab) (lab, error) {
	cfg := s.config(nil)
	cfg.Lab = lf
	l, err := local.Attach(cfg)
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (s *localStack) Down(ctx context.Context, progress io.Writer) error {
	return local.Down(ctx, s.config(progress))
}

// Status shows each process of the lab: pid, running, ready, resident memory.
func (s *localStack) Status(ctx context.Context, out io.Writer) error {
	comps, st, err := local.Status(ctx, s.config(nil))
	if errors.Is(err, fs.ErrNotExist) {
		return &exitError{code: exitcode.Infra, err: fmt.Errorf("no lab in %s: start one with `chaoslab up`", s.cfg.RunDir)}
	}
	if err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "COMPONENT\tPID\tRUNNING\tREADY\tRSS\tKNOBS")
	var total int64
	unhealthy := 0
	for _, c := range comps {
		ready := "yes"
		if c.Ready != nil {
			ready = "no: " + c.Ready.Error()
			unhealthy++
		}
		total += c.RSSBytes
		knobs := "-"
		if flags := st.Overrides[c.Name]; len(flags) > 0 {
			knobs = faults.Knobs{Flags: flags}.FlagString()
		}
		fmt.Fprintf(w, "%s\t%d\t%t\t%s\t%s\t%s\n", c.Name, c.PID, c.Running, ready, mib(c.RSSBytes), knobs)
	}
	fmt.Fprintf(w, "total\t\t\t\t%s\t\n", mib(total))
	w.Flush()
	fmt.Fprintf(out, "started %s from %s, run dir %s\n", st.StartedAt.Local().Format("15:04:05"), shortPath(st.LabFile), st.RunDir)
	if unhealthy > 0 {
		return &exitError{code: exitcode.Infra, err: fmt.Errorf("%d of %d components not ready", unhealthy, len(comps))}
	}
	return nil
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func (s *localStack) Hints(w io.Writer, e stack.Endpoints) {
	fmt.Fprintf(w, "\nlogs:   %s/logs/\nstop:   chaoslab down\n", s.cfg.RunDir)
}

// writeSLORules writes the Prometheus rules of lf's SLOs (none without
// slos) into dir, afresh, and returns their paths.
func writeSLORules(lf *labfile.Lab, dir string) ([]string, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if lf.SLOs == "" {
		return nil, nil
	}
	defs, err := slodef.Load(lf.Path(lf.SLOs))
	if err != nil {
		return nil, err
	}
	files, err := defs.Files()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, name := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(dir, filepath.Base(name))
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
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

// Capabilities: the local lab applies network faults (its Toxiproxy),
// process faults (signals to its processes), request faults (admin APIs)
// and knobs (it restarts the service); it has no containers.
func (s *localStack) Capabilities(*labfile.Lab) (scenario.Capabilities, error) {
	return scenario.Capabilities{Stack: stackLocal, Can: []scenario.Ability{
		{Kind: faults.KindNetwork, Via: "Toxiproxy"}, {Kind: faults.KindProcess, Via: "signals"},
		{Kind: faults.KindRequest, Via: "admin APIs"}, {Kind: scenario.KindKnobs, Via: "restarts"},
	}, Why: map[string]string{faults.KindContainer: "the local lab runs processes, not containers: use -stack compose"}}, nil
}
