package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"text/tabwriter"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/exitcode"
	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/stack/kubernetes"
	"github.com/chaoslab/chaoslab/harness/stack/kubernetes/manifests"
)

// stackKubernetes runs the lab on a Kubernetes cluster.
const stackKubernetes = scenario.StackKubernetes

// kubernetesStack is the lab on a Kubernetes cluster
// (harness/stack/kubernetes).
type kubernetesStack struct {
	cfg kubernetes.Config
}

var (
	_ provider     = (*kubernetesStack)(nil)
	_ chaosFlagger = (*kubernetesStack)(nil)
)

// newKubernetesStack returns the kubernetes stack; objects renders the
// lab's objects (renderManifests).
func newKubernetesStack(objects kubernetes.Objects) *kubernetesStack {
	cfg := kubernetes.DefaultConfig()
	cfg.Objects = objects
	return &kubernetesStack{cfg: cfg}
}

func (s *kubernetesStack) Name() string    { return stackKubernetes }
func (s *kubernetesStack) Summary() string { return "a Kubernetes cluster, client-go" }

// Flags registers the kubernetes lab's flags; CHAOSLAB_NAMESPACE is
// -namespace's fallback, CHAOSLAB_PORT_OFFSET -kube-port-offset's (the
// kubeconfig's own fallback, $KUBECONFIG, is client-go's).
func (s *kubernetesStack) Flags(fs *flag.FlagSet, env Env) {
	if ns := env.Getenv("CHAOSLAB_NAMESPACE"); ns != "" {
		s.cfg.Namespace = ns
	}
	if v, err := strconv.Atoi(env.Getenv("CHAOSLAB_PORT_OFFSET")); err == nil {
		s.cfg.PortOffset = v
	}
	fs.StringVar(&s.cfg.Kubeconfig, "kubeconfig", s.cfg.Kubeconfig, "kubernetes: the kubeconfig file (default $KUBECONFIG or ~/.kube/config; in a pod without one, the pod's service account)")
	fs.StringVar(&s.cfg.Context, "kube-context", s.cfg.Context, "kubernetes: the kubeconfig context (default its current one)")
	fs.StringVar(&s.cfg.Namespace, "namespace", s.cfg.Namespace, "kubernetes: the namespace the lab runs in (default $CHAOSLAB_NAMESPACE or chaoslab; created when missing)")
	fs.Func("kube-endpoints", "kubernetes: how the harness reaches the lab: port-forward (from this machine, default) or in-cluster (the runner runs in a pod: the Services' DNS names)", func(v string) error {
		if !slices.Contains(kubernetes.Accesses(), v) {
			return fmt.Errorf("%q: one of %s", v, joinList(kubernetes.Accesses(), "or"))
		}
		s.cfg.Access = v
		return nil
	})
	fs.IntVar(&s.cfg.PortOffset, "kube-port-offset", s.cfg.PortOffset, "kubernetes: shift the port-forwards' local ports (the lab's port plan on 127.0.0.1) by N (default $CHAOSLAB_PORT_OFFSET or 0)")
	fs.StringVar(&s.cfg.RunDir, "kube-run-dir", s.cfg.RunDir, "kubernetes: where the lab keeps its state, JWT key and fault ledger")
	fs.StringVar(&s.cfg.ImageTag, "kube-image-tag", s.cfg.ImageTag, "kubernetes: tag of the lab's images ({{.ImageTag}} in the lab file)")
}

// ChaosFlags keeps the lab that `chaos` starts apart from the one `up`
// starts: its own run dir (-kube-chaos-run-dir) and namespace
// (chaoslab-chaos unless -namespace says otherwise).
func (s *kubernetesStack) ChaosFlags(fs *flag.FlagSet) {
	s.cfg.RunDir = filepath.Join(".run", "kubernetes-chaos")
	if s.cfg.Namespace == kubernetes.DefaultConfig().Namespace {
		s.cfg.Namespace = "chaoslab-chaos"
	}
	fs.StringVar(&s.cfg.RunDir, "kube-chaos-run-dir", s.cfg.RunDir, "kubernetes: run dir of the lab this command starts (namespace chaoslab-chaos unless -namespace)")
}

func (s *kubernetesStack) Describe() string {
	where := "the current kubeconfig context"
	if s.cfg.Context != "" {
		where = "context " + s.cfg.Context
	}
	return fmt.Sprintf("kubernetes lab (namespace %s, %s, endpoints by %s)", s.cfg.Namespace, where, s.cfg.Access)
}

// config is the lab's configuration with progress.
func (s *kubernetesStack) config(progress io.Writer) kubernetes.Config {
	cfg := s.cfg
	cfg.Progress = progress
	return cfg
}

func (s *kubernetesStack) Up(ctx context.Context, lf *labfile.Lab, progress io.Writer) (lab, error) {
	if s.cfg.Objects == nil {
		return nil, errors.New("the kubernetes stack has no renderer of the lab's objects")
	}
	cfg := s.config(progress)
	cfg.Lab = lf
	l, err := kubernetes.Up(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (s *kubernetesStack) Attach(lf *labfile.Lab) (lab, error) {
	cfg := s.config(nil)
	cfg.Lab = lf
	l, err := kubernetes.Attach(cfg)
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (s *kubernetesStack) Down(ctx context.Context, progress io.Writer) error {
	return kubernetes.Down(ctx, s.config(progress))
}

// Status shows each Deployment of the lab: its replicas, readiness and
// knobs.
func (s *kubernetesStack) Status(ctx context.Context, out io.Writer) error {
	comps, st, err := kubernetes.Status(ctx, s.config(nil))
	if errors.Is(err, fs.ErrNotExist) {
		return &exitError{code: exitcode.Infra, err: fmt.Errorf("no kubernetes lab in %s: start one with `chaoslab up -stack kubernetes`", s.cfg.RunDir)}
	}
	if err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "DEPLOYMENT\tDESIRED\tREADY\tAVAILABLE\tSTATE\tKNOBS")
	unhealthy := 0
	for _, c := range comps {
		state := "ready"
		if c.NotReady != "" {
			state = "no: " + c.NotReady
			unhealthy++
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%s\t%s\n", c.Name, c.Desired, c.Ready, c.Available, state, c.KnobString())
	}
	w.Flush()
	fmt.Fprintf(out, "lab %s in namespace %s, started %s, endpoints by %s\n", st.Lab, st.Namespace, st.StartedAt.Local().Format("15:04:05"), st.Access)
	if len(comps) == 0 {
		return &exitError{code: exitcode.Infra, err: fmt.Errorf("no deployment of lab %s in namespace %s", st.Lab, st.Namespace)}
	}
	if unhealthy > 0 {
		return &exitError{code: exitcode.Infra, err: fmt.Errorf("%d of %d deployments not ready", unhealthy, len(comps))}
	}
	return nil
}

func (s *kubernetesStack) Hints(w io.Writer, e stack.Endpoints) {
	if s.cfg.Access == kubernetes.AccessPortForward {
		fmt.Fprint(w, "\nports:  the port-forwards above live as long as a chaoslab command runs; run, chaos and clean open their own")
	}
	fmt.Fprintf(w, "\nlogs:   kubectl -n %s logs deployment/<service>\nstop:   chaoslab down -stack kubernetes\n", s.cfg.Namespace)
}

// renderManifests renders the lab's objects with the manifests package
// (the kustomize tree of the lab overlay, built in memory), its Secret
// holding the stack's admin token and JWT key. The k6-operator's TestRun is
// left out: the runner runs k6 itself, through the port-forward; apply the
// tree with kubectl for distributed load.
func renderManifests(_ context.Context, r kubernetes.Render) ([]*unstructured.Unstructured, error) {
	files, err := manifests.Render(r.Lab, manifests.Options{Namespace: r.Namespace, ImageTag: r.ImageTag, AdminToken: r.AdminToken, JWTKey: r.Auth["key"]})
	if err != nil {
		return nil, err
	}
	objs, err := manifests.BuildFiles(files, "")
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool {
		return o.GroupVersionKind().Group == "k6.io" && o.GetKind() == "TestRun"
	}), nil
}

// Capabilities: everything but container faults, which need containers the
// stack controls (Docker's), not pods; knobs only on services whose knobs
// are environment variables (compose.knob_env_prefix).
func (s *kubernetesStack) Capabilities(lf *labfile.Lab) (scenario.Capabilities, error) {
	c := scenario.Capabilities{Stack: stackKubernetes, Can: []scenario.Ability{
		{Kind: faults.KindNetwork, Via: "Toxiproxy in the cluster"}, {Kind: faults.KindProcess, Via: "pod deletion, scaling to 0"},
		{Kind: faults.KindRequest, Via: "admin APIs through port-forwards"}, {Kind: scenario.KindKnobs, Via: "rollouts with env"},
	}, Why: map[string]string{faults.KindContainer: "the kubernetes stack runs pods, not Docker containers: use -stack compose"}}
	if lf == nil {
		return c, nil
	}
	for _, svc := range lf.Services {
		if svc.Compose == nil || svc.Compose.KnobEnvPrefix == "" {
			if c.Refused == nil {
				c.Refused = map[string]map[string]string{scenario.KindKnobs: {}}
			}
			c.Refused[scenario.KindKnobs][svc.Name] = "the lab gives it no compose.knob_env_prefix, and the kubernetes stack sets knobs as environment variables"
		}
	}
	return c, nil
}
