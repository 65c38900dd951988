package kubernetes

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// pollEvery is how often the waits read the cluster.
const pollEvery = 200 * time.Millisecond

// rolledOut says whether d's latest spec is rolled out: the controller saw
// it, every replica runs it and is available, and no old pod is left.
func rolledOut(d *appsv1.Deployment) (bool, string) {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	switch {
	case s.ObservedGeneration < d.Generation:
		return false, "its controller has not seen its latest spec yet"
	case s.UpdatedReplicas < want:
		return false, fmt.Sprintf("%d of %d replicas updated", s.UpdatedReplicas, want)
	case s.Replicas > s.UpdatedReplicas:
		return false, fmt.Sprintf("%d old replicas still running", s.Replicas-s.UpdatedReplicas)
	case s.AvailableReplicas < want:
		return false, fmt.Sprintf("%d of %d replicas available", s.AvailableReplicas, want)
	}
	return true, ""
}

// waitRollout waits, at most timeout, until the rollout of Deployment d
// (as written: its generation) is complete.
func waitRollout(ctx context.Context, kube kubernetes.Interface, d *appsv1.Deployment, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	gen := d.Generation
	why := "not read yet"
	for {
		cur, err := kube.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		if err == nil {
			if cur.Generation < gen {
				cur.Generation = gen
			}
			var ok bool
			if ok, why = rolledOut(cur); ok {
				return nil
			}
		} else if ctx.Err() == nil {
			why = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deployment %s/%s not rolled out after %s: %s", d.Namespace, d.Name, timeout, why)
		case <-time.After(pollEvery):
		}
	}
}

// waitDeployments waits, at most timeout in all, until every Deployment in
// names is rolled out, with a progress line for each as it is.
func waitDeployments(ctx context.Context, kube kubernetes.Interface, ns string, names []string, timeout time.Duration, progress func(string, ...any)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	pending := map[string]string{}
	for _, n := range names {
		pending[n] = "not read yet"
	}
	for {
		for _, n := range names {
			if _, ok := pending[n]; !ok {
				continue
			}
			d, err := kube.AppsV1().Deployments(ns).Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				if ctx.Err() == nil {
					pending[n] = err.Error()
				}
				continue
			}
			ok, why := rolledOut(d)
			if !ok {
				pending[n] = why
				continue
			}
			delete(pending, n)
			progress("  %-11s available after %4dms (%d replicas)", n, time.Since(start).Milliseconds(), d.Status.AvailableReplicas)
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			var first string
			for _, n := range names {
				if why, ok := pending[n]; ok {
					first = fmt.Sprintf("deployment %s: %s", n, why)
					break
				}
			}
			return fmt.Errorf("%d of %d deployments not available after %s; %s (kubectl -n %s describe deployment tells why)", len(pending), len(names), timeout, first, ns)
		case <-time.After(pollEvery):
		}
	}
}
