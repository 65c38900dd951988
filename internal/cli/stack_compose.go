package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/exitcode"
	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/stack/compose"
)

// stackCompose runs the lab with docker-compose; it alone applies
// container faults.
const stackCompose = scenario.StackCompose

// composeStack is the lab under docker-compose (harness/stack/compose).
type composeStack struct {
	cfg compose.Config
}

var _ provider = (*composeStack)(nil)

func newComposeStack() *composeStack {
	return &composeStack{cfg: compose.DefaultConfig()}
}

func (s *composeStack) Name() string    { return stackCompose }
func (s *composeStack) Summary() string { return "docker-compose.yml" }

// Flags registers the compose lab's flags; CHAOSLAB_COMPOSE_OFFLINE is
// -compose-offline's fallback.
func (s *composeStack) Flags(fs *flag.FlagSet, env Env) {
	s.cfg.Offline, _ = strconv.ParseBool(env.Getenv("CHAOSLAB_COMPOSE_OFFLINE"))
	fs.StringVar(&s.cfg.Dir, "compose-dir", s.cfg.Dir, "compose: the directory of docker-compose.yml")
	fs.StringVar(&s.cfg.RunDir, "compose-run-dir", s.cfg.RunDir, "compose: where the lab keeps its state, JWT key and knobs override")
	fs.StringVar(&s.cfg.ImageTag, "image-tag", s.cfg.ImageTag, "compose: tag of the shop's images chaoslab/<service>:<tag> (make images)")
	fs.BoolVar(&s.cfg.Offline, "compose-offline", s.cfg.Offline, "compose: use the stand-in images built from the pinned tools (make images-offline) instead of pulling, without Grafana (default $CHAOSLAB_COMPOSE_OFFLINE)")
}

func (s *composeStack) Describe() string {
	mode := "pulling third-party images when missing"
	if s.cfg.Offline {
		mode = "offline stand-in images, no Grafana"
	}
	return fmt.Sprintf("compose lab (project %s, %s)", s.cfg.Project, mode)
}

// config is the lab's configuration with progress.
func (s *composeStack) config(progress io.Writer) compose.Config {
	cfg := s.cfg
	cfg.Progress = progress
	return cfg
}

func (s *composeStack) Up(ctx context.Context, lf *labfile.Lab, progress io.Writer) (lab, error) {
	cfg := s.config(progress)
	cfg.Lab = lf
	l, err := compose.Up(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (s *composeStack) Attach(lf *labfile.Lab) (lab, error) {
	cfg := s.config(nil)
	cfg.Lab = lf
	l, err := compose.Attach(cfg)
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (s *composeStack) Down(ctx context.Context, progress io.Writer) error {
	return compose.Down(ctx, s.config(progress))
}

// Status shows each container of the compose lab: state and readiness.
func (s *composeStack) Status(ctx context.Context, out io.Writer) error {
	comps, st, err := compose.Status(ctx, s.config(nil))
	if err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "CONTAINER\tSTATE\tREADY")
	unhealthy := 0
	for _, c := range comps {
		ready := "yes"
		if c.Ready != nil {
			ready = "no: " + c.Ready.Error()
			unhealthy++
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", c.Name, c.State, ready)
	}
	w.Flush()
	fmt.Fprintf(out, "compose project %s, started %s\n", s.cfg.Project, st.StartedAt.Local().Format("15:04:05"))
	if unhealthy > 0 {
		return &exitError{code: exitcode.Infra, err: fmt.Errorf("%d of %d containers not ready", unhealthy, len(comps))}
	}
	return nil
}

func (s *composeStack) Hints(w io.Writer, e stack.Endpoints) {
	if !s.cfg.Offline {
		fmt.Fprintln(w, "\nGrafana: http://127.0.0.1:3000 (anonymous admin; dashboards in the chaoslab folder)")
	}
	fmt.Fprintf(w, "\nlogs:   docker-compose -p %s logs <service>\nstop:   chaoslab down -stack compose (make down)\n", s.cfg.Project)
}

// Capabilities: the compose lab applies every kind of fault, and knobs (it
// recreates the service's container).
func (s *composeStack) Capabilities(*labfile.Lab) (scenario.Capabilities, error) {
	return scenario.Capabilities{Stack: stackCompose, Can: []scenario.Ability{
		{Kind: faults.KindNetwork, Via: "Toxiproxy"}, {Kind: faults.KindProcess, Via: "docker kill, pause"},
		{Kind: faults.KindRequest, Via: "admin APIs"}, {Kind: faults.KindContainer, Via: "docker"},
		{Kind: scenario.KindKnobs, Via: "recreated containers"},
	}}, nil
}
