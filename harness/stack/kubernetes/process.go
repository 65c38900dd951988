package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/stack"
)

// Signal does to a service what the signal would do to its process, the
// Kubernetes way: SIGKILL (and SIGTERM, SIGINT) delete its pods — SIGKILL
// with no grace period — and its Deployment starts new ones; SIGSTOP scales
// its Deployment to 0, recording the replicas it had on the Deployment;
// SIGCONT scales it back (a Deployment that is not paused is left alone).
func (l *Lab) Signal(ctx context.Context, service string, sig syscall.Signal) error {
	if err := l.known(service); err != nil {
		return err
	}
	// The pods the port-forwards reach are going (or coming back).
	defer l.fw.forget(service)
	switch sig {
	case syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT:
		var grace *int64
		if sig == syscall.SIGKILL {
			grace = new(int64)
		}
		return l.deletePods(ctx, service, grace)
	case syscall.SIGSTOP:
		return l.update(ctx, service, pause)
	case syscall.SIGCONT:
		return l.update(ctx, service, resume)
	}
	return fmt.Errorf("signal %v: the kubernetes stack sends only KILL, TERM, INT (pod deletion), STOP (scale to 0) and CONT (scale back)", sig)
}

// known rejects a service the lab does not have.
func (l *Lab) known(service string) error {
	if _, ok := l.st.Endpoints.Services[service]; !ok {
		return fmt.Errorf("no service %q in the lab", service)
	}
	return nil
}

// deletePods deletes the pods of service's Deployment.
func (l *Lab) deletePods(ctx context.Context, service string, grace *int64) error {
	d, err := l.deployment(ctx, service)
	if err != nil {
		return err
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return fmt.Errorf("deployment %s: %w", service, err)
	}
	pods := l.c.kube.CoreV1().Pods(l.st.Namespace)
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return fmt.Errorf("listing the pods of %s: %w", service, err)
	}
	n := 0
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		if err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: grace}); err != nil {
			return fmt.Errorf("deleting pod %s of %s: %w", p.Name, service, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("service %s has no pod to delete (namespace %s, selector %s)", service, l.st.Namespace, sel)
	}
	return nil
}

func (l *Lab) deployment(ctx context.Context, service string) (*appsv1.Deployment, error) {
	d, err := l.c.kube.AppsV1().Deployments(l.st.Namespace).Get(ctx, service, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("deployment of %s: %w", service, err)
	}
	return d, nil
}

// update changes service's Deployment with change and writes it, again
// on a conflict; change returning false leaves it as it is.
func (l *Lab) update(ctx context.Context, service string, change func(*appsv1.Deployment) (bool, error)) error {
	_, err := l.updated(ctx, service, change)
	return err
}

// updated is update returning the Deployment as written (nil: unchanged).
func (l *Lab) updated(ctx context.Context, service string, change func(*appsv1.Deployment) (bool, error)) (*appsv1.Deployment, error) {
	var out *appsv1.Deployment
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		out = nil
		d, err := l.deployment(ctx, service)
		if err != nil {
			return err
		}
		changed, err := change(d)
		if err != nil || !changed {
			return err
		}
		out, err = l.c.kube.AppsV1().Deployments(l.st.Namespace).Update(ctx, d, metav1.UpdateOptions{FieldManager: ManagedBy})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("updating the deployment of %s: %w", service, err)
	}
	return out, nil
}

// pause scales d to 0, recording its replicas; a paused one stays as it is.
func pause(d *appsv1.Deployment) (bool, error) {
	if _, ok := d.Annotations[AnnotationPausedReplicas]; ok {
		return false, nil
	}
	replicas := int32(1)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[AnnotationPausedReplicas] = strconv.Itoa(int(replicas))
	d.Spec.Replicas = new(int32)
	return true, nil
}

// resume scales a paused d back to the replicas it had.
func resume(d *appsv1.Deployment) (bool, error) {
	v, ok := d.Annotations[AnnotationPausedReplicas]
	if !ok {
		return false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return false, fmt.Errorf("annotation %s=%q of deployment %s: not a number of replicas", AnnotationPausedReplicas, v, d.Name)
	}
	replicas := int32(n)
	d.Spec.Replicas = &replicas
	delete(d.Annotations, AnnotationPausedReplicas)
	return true, nil
}

// Running reports whether the service's Deployment runs pods, or is only
// paused (a paused process is running): it exists and asks for replicas,
// or was scaled to 0 by SIGSTOP.
func (l *Lab) Running(service string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := l.deployment(ctx, service)
	if err != nil {
		return false
	}
	_, paused := d.Annotations[AnnotationPausedReplicas]
	return paused || d.Spec.Replicas == nil || *d.Spec.Replicas > 0
}

// Overrides returns the knobs the service's Deployment runs with (nil: its
// defaults), as its annotation records them, so that the fault injector's
// rollback restores the defaults of a service a crashed run left with a
// scenario's knobs.
func (l *Lab) Overrides(service string) map[string]string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := l.deployment(ctx, service)
	if err != nil {
		return nil
	}
	flags, _ := knobsOf(d)
	return flags
}

// Restart restarts the service's pods (a rollout) with flags overriding
// its defaults as environment variables (nil: the environment it had
// before any knob), and waits until the rollout is complete and the
// service answers its readiness probe. A paused service is resumed.
func (l *Lab) Restart(ctx context.Context, service string, flags map[string]string) error {
	if err := l.known(service); err != nil {
		return err
	}
	names := map[string]string{}
	if len(flags) > 0 {
		prefix := l.st.KnobPrefix[service]
		if prefix == "" {
			return fmt.Errorf("service %s takes no knobs on the kubernetes stack: the lab gives it no compose.knob_env_prefix", service)
		}
		for flag := range flags {
			names[flag] = lab.KnobEnvName(prefix, flag)
		}
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	d, err := l.updated(ctx, service, func(d *appsv1.Deployment) (bool, error) {
		if _, err := resume(d); err != nil {
			return false, err
		}
		if err := setKnobs(d, service, flags, names); err != nil {
			return false, err
		}
		if d.Spec.Template.Annotations == nil {
			d.Spec.Template.Annotations = map[string]string{}
		}
		d.Spec.Template.Annotations[AnnotationRestartedAt] = now
		return true, nil
	})
	if err != nil {
		return err
	}
	if err := waitRollout(ctx, l.c.kube, d, l.cfg.ReadyTimeout); err != nil {
		return fmt.Errorf("restarting %s: %w", service, err)
	}
	l.fw.forget(service) // its pods are new
	if l.probes() {
		return stack.WaitReady(ctx, l.st.Endpoints.Services[service].ReadyURL, l.cfg.ReadyTimeout, nil)
	}
	return nil
}

// probes reports whether the harness can reach the services' readiness
// probes from here (port-forwards, or in the cluster).
func (l *Lab) probes() bool { return l.fw != nil || l.st.Access == AccessInCluster }

// container is the container of service in d: the one named after it, or
// the only one.
func container(d *appsv1.Deployment, service string) (*corev1.Container, error) {
	cs := d.Spec.Template.Spec.Containers
	for i := range cs {
		if cs[i].Name == service {
			return &cs[i], nil
		}
	}
	if len(cs) == 1 {
		return &cs[0], nil
	}
	return nil, fmt.Errorf("deployment %s has %d containers and none is named %s: which one runs the service?", d.Name, len(cs), service)
}

// knobsOf returns the knobs d runs with and what their variables were
// before (nil: absent), from its annotations.
func knobsOf(d *appsv1.Deployment) (map[string]string, map[string]*corev1.EnvVar) {
	var flags map[string]string
	var base map[string]*corev1.EnvVar
	if v, ok := d.Annotations[AnnotationKnobs]; ok {
		_ = json.Unmarshal([]byte(v), &flags)
	}
	if v, ok := d.Annotations[AnnotationKnobBase]; ok {
		_ = json.Unmarshal([]byte(v), &base)
	}
	if len(flags) == 0 {
		flags = nil
	}
	return flags, base
}

// setKnobs gives service's container in d the environment it had before
// any knob, then flags as the variables names gives each, and records both
// in d's annotations (none when flags is empty).
func setKnobs(d *appsv1.Deployment, service string, flags, names map[string]string) error {
	c, err := container(d, service)
	if err != nil {
		return err
	}
	_, base := knobsOf(d)
	if base == nil {
		base = map[string]*corev1.EnvVar{}
	}
	// Back to the environment before any knob.
	for _, name := range slices.Sorted(maps.Keys(base)) {
		c.Env = setEnv(c.Env, name, base[name])
	}
	if len(flags) == 0 {
		delete(d.Annotations, AnnotationKnobs)
		delete(d.Annotations, AnnotationKnobBase)
		return nil
	}
	for _, flag := range slices.Sorted(maps.Keys(flags)) {
		name := names[flag]
		if _, ok := base[name]; !ok {
			base[name] = lookupEnv(c.Env, name)
		}
		c.Env = setEnv(c.Env, name, &corev1.EnvVar{Name: name, Value: flags[flag]})
	}
	fb, err := json.Marshal(flags)
	if err != nil {
		return err
	}
	bb, err := json.Marshal(base)
	if err != nil {
		return err
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[AnnotationKnobs] = string(fb)
	d.Annotations[AnnotationKnobBase] = string(bb)
	return nil
}

// lookupEnv returns a copy of the variable name of env (nil: absent).
func lookupEnv(env []corev1.EnvVar, name string) *corev1.EnvVar {
	for _, e := range env {
		if e.Name == name {
			return e.DeepCopy()
		}
	}
	return nil
}

// setEnv sets the variable name of env to v, in place; nil v removes it.
func setEnv(env []corev1.EnvVar, name string, v *corev1.EnvVar) []corev1.EnvVar {
	for i, e := range env {
		if e.Name == name {
			if v == nil {
				return slices.Delete(env, i, i+1)
			}
			env[i] = *v
			return env
		}
	}
	if v == nil {
		return env
	}
	return append(env, *v)
}
