// Package kubernetes runs a lab on a Kubernetes cluster through client-go:
// the lab's objects (rendered elsewhere from the lab file, see Objects) are
// applied with server-side apply (field manager "chaoslab"), every object
// labelled app.kubernetes.io/managed-by=chaoslab and
// app.kubernetes.io/part-of=<lab>, and Up waits until every Deployment is
// available. It implements stack.Stack, so the scenario library runs on
// it unchanged:
//
//   - SIGKILL deletes the service's pods with no grace period (its
//     Deployment brings them back);
//   - SIGSTOP ("pause") scales the service's Deployment to 0, recording the
//     replicas it had in an annotation of the Deployment, which SIGCONT
//     scales it back to;
//   - Restart(service, flags) sets the knobs as container environment
//     variables (the lab's compose.knob_env_prefix + the flag in upper
//     snake case, lab.KnobEnvName: the mapping the compose stack's lab
//     files use), restarts the pods (a rollout) and waits for it; nil flags
//     restore the environment the Deployment had before any knob.
//
// What a fault or a knob changed is written on the Deployment itself
// (annotations, in the same update as the change), so that a new process —
// `chaoslab clean -stack kubernetes`, the next run — that finds the fault
// in the ledger restores it from the cluster and the run dir's state alone.
//
// The harness reaches the lab in one of two ways (Access): port-forwards
// from 127.0.0.1 (client-go's tools/portforward, to a ready pod of each
// Service, followed across pod restarts) at the lab's port plan shifted by
// PortOffset, as the local stack would listen; or, when the runner itself
// runs in a pod of the cluster, the Services' DNS names. Network faults go
// to the lab's Toxiproxy in the cluster, request faults to the services'
// admin APIs (reached by port-forward to the pod: no Service exposes them),
// with the bearer token Up keeps in the run dir and gives the renderer
// (Render.AdminToken, Endpoints.AdminToken).
//
// Load: the runner still runs k6 on the runner's host against
// Endpoints.GatewayURL (through the port-forward of the entry edge's
// proxy). Distributed load from the k6-operator (a TestRun) is rendered
// with the lab's other objects, not driven from here.
package kubernetes

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/stack"
)

// The ways the harness reaches the lab's endpoints (Config.Access).
const (
	// AccessPortForward forwards 127.0.0.1 ports to the pods: the runner
	// runs outside the cluster.
	AccessPortForward = "port-forward"
	// AccessInCluster uses the Services' DNS names: the runner runs in a pod
	// of the cluster.
	AccessInCluster = "in-cluster"
)

// Accesses returns the values of Config.Access.
func Accesses() []string { return []string{AccessPortForward, AccessInCluster} }

// The labels every object the stack applies carries; Down deletes by them.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPartOf    = "app.kubernetes.io/part-of"
	// ManagedBy is LabelManagedBy's value and the server-side apply field
	// manager.
	ManagedBy = "chaoslab"
)

// The annotations the stack writes on a Deployment while a fault or knobs
// are in place: what restoring it needs, written in the same update as the
// change so that a crash cannot separate them.
const (
	// AnnotationPausedReplicas holds the replicas a paused (SIGSTOP)
	// Deployment had.
	AnnotationPausedReplicas = "chaoslab.dev/paused-replicas"
	// AnnotationKnobs holds the knobs in force, JSON {flag: value}.
	AnnotationKnobs = "chaoslab.dev/knobs"
	// AnnotationKnobBase holds, for each environment variable the knobs
	// set, what the container had before (JSON {name: EnvVar or null}).
	AnnotationKnobBase = "chaoslab.dev/knob-base"
	// AnnotationRestartedAt in the pod template makes a rollout (what
	// kubectl rollout restart writes).
	AnnotationRestartedAt = "kubectl.kubernetes.io/restartedAt"
)

// Objects renders the lab's Kubernetes objects, which Up applies: the
// services' Deployments (named after the services, each with a container
// named after its service or a single one) and Services (named after the
// services, with the lab's port numbers), Toxiproxy, Prometheus and Jaeger
// (Deployments and Services named toxiproxy, prometheus, jaeger). The CLI
// wires the lab's renderer in.
type Objects func(ctx context.Context, r Render) ([]*unstructured.Unstructured, error)

// Render is what Objects renders for.
type Render struct {
	Lab *lab.Lab
	// Namespace is where the objects go.
	Namespace string
	// Auth is what the load's auth provider shares with the services
	// (lab.Auth.AuthVars: the hs256-jwt key).
	Auth map[string]string
	// AdminToken is the bearer token the services' fault admin APIs must
	// require (the harness sends it: Endpoints.AdminToken).
	AdminToken string
	// ImageTag is the services' {{.ImageTag}} (Config.ImageTag).
	ImageTag string
}

// Config says which cluster and namespace the lab runs in and how the
// harness reaches it.
type Config struct {
	// Lab is the lab file's system; Up needs it, Attach and Down read the
	// state Up left.
	Lab *lab.Lab
	// Objects renders the objects Up applies.
	Objects Objects
	// Kubeconfig is the kubeconfig file ("": $KUBECONFIG, ~/.kube/config,
	// or the in-cluster configuration when there is none).
	Kubeconfig string
	// Context is the kubeconfig context ("": its current one).
	Context string
	// REST, when set, is the cluster's client configuration, and
	// Kubeconfig and Context are not read.
	REST *rest.Config
	// Namespace is where the lab runs; default "chaoslab".
	Namespace string
	// Access is AccessPortForward (default) or AccessInCluster.
	Access string
	// PortOffset shifts the local ports of the port-forwards.
	PortOffset int
	// ImageTag tags the services' images ({{.ImageTag}}); default "dev".
	ImageTag string
	// RunDir keeps the state, the JWT key and the fault ledger.
	RunDir string
	// ReadyTimeout bounds each wait: for the Deployments to be available,
	// a rollout, a readiness probe.
	ReadyTimeout time.Duration
	// Progress receives one line per step (nil: discarded).
	Progress io.Writer

	// dial replaces the port-forwards' tunnel to the pods (tests).
	dial dialFunc
}

// DefaultConfig is a lab in namespace chaoslab, reached by port-forward,
// its state in .run/kubernetes.
func DefaultConfig() Config {
	return Config{Namespace: "chaoslab", Access: AccessPortForward, RunDir: filepath.Join(".run", "kubernetes"), ImageTag: "dev", ReadyTimeout: 3 * time.Minute}
}

func (c Config) progress(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", args...)
	}
}

// check fills the defaults and rejects what cannot work.
func (c Config) check() (Config, error) {
	var err error
	if c.RunDir, err = filepath.Abs(c.RunDir); err != nil {
		return c, err
	}
	if c.Namespace == "" {
		c.Namespace = "chaoslab"
	}
	if c.Access == "" {
		c.Access = AccessPortForward
	}
	if c.Access != AccessPortForward && c.Access != AccessInCluster {
		return c, fmt.Errorf("kubernetes endpoints %q: one of %s and %s", c.Access, AccessPortForward, AccessInCluster)
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 3 * time.Minute
	}
	return c, nil
}

// clusterOf is c reaching the cluster the state's lab runs on: c's
// kubeconfig and context where given, else those Up used.
func (c Config) clusterOf(st State) Config {
	c.Kubeconfig = cmp.Or(c.Kubeconfig, st.Kubeconfig)
	c.Context = cmp.Or(c.Context, st.Context)
	return c
}

func (c Config) stateFile() string { return filepath.Join(c.RunDir, "state.json") }

// State is what Up leaves in RunDir/state.json for later commands: where
// the lab runs, how it is reached, and what was applied.
type State struct {
	StartedAt  time.Time `json:"started_at"`
	Lab        string    `json:"lab"`
	Kubeconfig string    `json:"kubeconfig,omitempty"`
	Context    string    `json:"context,omitempty"`
	Namespace  string    `json:"namespace"`
	Access     string    `json:"access"`
	PortOffset int       `json:"port_offset,omitempty"`
	// Endpoints are the harness's endpoints (the port-forwards' local
	// addresses, or the Services' DNS names).
	Endpoints stack.Endpoints `json:"endpoints"`
	// Forwards are the port-forwards that carry Endpoints.
	Forwards []Forward `json:"forwards,omitempty"`
	// KnobPrefix is each service's compose.knob_env_prefix (none: its
	// knobs cannot be set).
	KnobPrefix map[string]string `json:"knob_prefix,omitempty"`
	// Applied are the kinds of object Up applied, for Down.
	Applied []Resource `json:"applied,omitempty"`
}

// Forward is one port-forward: Local (127.0.0.1:port) to a pod of the
// Kubernetes Service named Service, at the port the Service's port Port
// targets — or, when the Service has no port Port, its port named
// PortName — or else at the pod's port Port (the admin API is on no
// Service).
type Forward struct {
	Local    string `json:"local"`
	Service  string `json:"service"`
	Port     int    `json:"port"`
	PortName string `json:"port_name,omitempty"`
}

// Resource is an API resource (group, version, resource) and whether it
// lives in a namespace.
type Resource struct {
	Group      string `json:"group,omitempty"`
	Version    string `json:"version"`
	Resource   string `json:"resource"`
	Namespaced bool   `json:"namespaced"`
}

// Lab is a lab running on a Kubernetes cluster.
type Lab struct {
	cfg Config
	c   *clients
	st  State

	// the port-forwards, when Access is AccessPortForward
	fw *forwards
}

// Endpoints is where the harness reaches the lab.
func (l *Lab) Endpoints() stack.Endpoints { return l.st.Endpoints }

// RunDir is where the lab keeps its state (and the fault ledger).
func (l *Lab) RunDir() string { return l.cfg.RunDir }

// Namespace is where the lab runs.
func (l *Lab) Namespace() string { return l.st.Namespace }

// Close stops the port-forwards; the lab keeps running.
func (l *Lab) Close() error {
	if l.fw != nil {
		l.fw.close()
	}
	return nil
}

func writeState(path string, st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	// 0600: the endpoints hold the admin APIs' token.
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readState reads the state Up left in cfg's run dir.
func readState(cfg Config) (State, error) {
	b, err := os.ReadFile(cfg.stateFile())
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, fmt.Errorf("no kubernetes lab in %s: start one with `chaoslab up -stack kubernetes`: %w", cfg.RunDir, err)
	}
	if err != nil {
		return State{}, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, fmt.Errorf("%s: %w", cfg.stateFile(), err)
	}
	return st, nil
}

// Attach returns the lab that Up started (its state in cfg.RunDir: the
// lab lives where Up put it) and, with AccessPortForward, starts its
// port-forwards; Close stops them.
func Attach(cfg Config) (*Lab, error) {
	l, err := attachQuiet(cfg)
	if err != nil {
		return nil, err
	}
	if l.st.Access == AccessPortForward {
		fcfg := l.cfg
		fcfg.Namespace = l.st.Namespace
		if l.fw, err = startForwards(fcfg, l.c, l.st.Forwards); err != nil {
			return nil, err
		}
	}
	return l, nil
}
