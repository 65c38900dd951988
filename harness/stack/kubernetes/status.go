package kubernetes

import (
	"context"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/chaoslab/chaoslab/faults"
)

// Component is one Deployment of the lab as `status` shows it.
type Component struct {
	Name string
	// Desired, Ready and Available are its replicas.
	Desired, Ready, Available int32
	// Paused is the replicas a SIGSTOP scaled it down from (0: not paused).
	Paused int
	// Knobs are the flags it runs with beyond its defaults.
	Knobs map[string]string
	// NotReady says why it is not ready; "" when it is.
	NotReady string
}

// KnobString is the knobs as flags, "-" for none.
func (c Component) KnobString() string {
	if len(c.Knobs) == 0 {
		return "-"
	}
	return faults.Knobs{Flags: c.Knobs}.FlagString()
}

// Status reports every Deployment of the lab that Up started: its
// replicas, whether a fault paused it, its knobs.
func Status(ctx context.Context, cfg Config) ([]Component, State, error) {
	l, err := attachQuiet(cfg)
	if err != nil {
		return nil, State{}, err
	}
	list, err := l.c.kube.AppsV1().Deployments(l.st.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(labLabels(l.st.Lab)).String()})
	if err != nil {
		return nil, l.st, fmt.Errorf("listing the lab's deployments in %s: %w", l.st.Namespace, err)
	}
	items := list.Items
	slices.SortFunc(items, func(a, b appsv1.Deployment) int { return strings.Compare(a.Name, b.Name) })
	var out []Component
	for i := range items {
		d := &items[i]
		c := Component{Desired: 1, Name: d.Name, Ready: d.Status.ReadyReplicas, Available: d.Status.AvailableReplicas}
		if d.Spec.Replicas != nil {
			c.Desired = *d.Spec.Replicas
		}
		c.Knobs, _ = knobsOf(d)
		if v, ok := d.Annotations[AnnotationPausedReplicas]; ok {
			fmt.Sscan(v, &c.Paused)
			c.NotReady = fmt.Sprintf("paused by chaoslab (scaled to 0 from %d)", c.Paused)
		} else if ok, why := rolledOut(d); !ok {
			c.NotReady = why
		}
		out = append(out, c)
	}
	return out, l.st, nil
}

// attachQuiet is Attach without port-forwards.
func attachQuiet(cfg Config) (*Lab, error) {
	cfg, err := cfg.check()
	if err != nil {
		return nil, err
	}
	st, err := readState(cfg)
	if err != nil {
		return nil, err
	}
	cfg = cfg.clusterOf(st)
	c, err := connect(cfg)
	if err != nil {
		return nil, err
	}
	return &Lab{cfg: cfg, c: c, st: st}, nil
}
