package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
)

// Up applies the lab's objects (cfg.Objects) in cfg.Namespace, creating it
// when it is missing, waits until every Deployment is available, starts
// the port-forwards (AccessPortForward), creates the proxies in Toxiproxy
// and waits until every service answers its readiness probe. On failure it
// deletes what it applied.
func Up(ctx context.Context, cfg Config) (l *Lab, err error) {
	if cfg, err = cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Lab == nil {
		return nil, errors.New("no lab file to run")
	}
	if cfg.Objects == nil {
		return nil, errors.New("the kubernetes stack has no renderer of the lab's objects")
	}
	if err := os.MkdirAll(cfg.RunDir, 0o755); err != nil {
		return nil, err
	}
	keyFile := filepath.Join(cfg.RunDir, cfg.Lab.Load.Auth.SecretFile())
	key, err := stack.EnsureJWTKey(keyFile)
	if err != nil {
		return nil, err
	}
	// The admin APIs' bearer token: random, written once like the key.
	adminToken, err := stack.EnsureJWTKey(filepath.Join(cfg.RunDir, "admin.token"))
	if err != nil {
		return nil, err
	}
	c, err := connect(cfg)
	if err != nil {
		return nil, err
	}
	objs, err := cfg.Objects(ctx, Render{Lab: cfg.Lab, Namespace: cfg.Namespace, Auth: cfg.Lab.Load.Auth.AuthVars(keyFile, key), AdminToken: adminToken, ImageTag: cfg.ImageTag})
	if err != nil {
		return nil, fmt.Errorf("rendering the lab's objects: %w", err)
	}
	e, fws := plan(cfg.Lab, cfg.Namespace, cfg.Access, cfg.PortOffset, keyFile, servicePorts(objs))
	e.AdminToken = adminToken
	st := State{
		StartedAt: time.Now().UTC(), Lab: cfg.Lab.Name, Kubeconfig: cfg.Kubeconfig, Context: cfg.Context,
		Namespace: cfg.Namespace, Access: cfg.Access, PortOffset: cfg.PortOffset,
		Endpoints: e, Forwards: fws, KnobPrefix: map[string]string{},
	}
	for _, s := range cfg.Lab.Services {
		if s.Compose != nil && s.Compose.KnobEnvPrefix != "" {
			st.KnobPrefix[s.Name] = s.Compose.KnobEnvPrefix
		}
	}
	l = &Lab{cfg: cfg, c: c, st: st}
	defer func() {
		if err != nil {
			l.Close()
			cfg.progress("start failed; deleting what was applied")
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if derr := Down(dctx, cfg); derr != nil {
				err = errors.Join(err, derr)
			}
			l = nil
		}
	}()
	start := time.Now()
	created, err := ensureNamespace(ctx, c, cfg.Namespace, cfg.Lab.Name)
	if err != nil {
		return nil, err
	}
	if !created {
		// A namespace that was there is not the lab's: applying the
		// rendered Namespace would label it as the lab's, and Down would
		// delete it.
		objs = slices.DeleteFunc(slices.Clone(objs), func(o *unstructured.Unstructured) bool {
			return o.GetAPIVersion() == "v1" && o.GetKind() == "Namespace" && o.GetName() == cfg.Namespace
		})
	}
	applied, deployments, err := apply(ctx, c, cfg.Namespace, cfg.Lab.Name, objs)
	// The state first: Down deletes by it what was applied, even in part.
	l.st.Applied = applied
	if werr := writeState(cfg.stateFile(), l.st); werr != nil {
		return nil, errors.Join(err, werr)
	}
	if err != nil {
		return nil, err
	}
	cfg.progress("  applied %d objects in namespace %s (server-side apply, field manager %s) in %dms", len(objs), cfg.Namespace, ManagedBy, time.Since(start).Milliseconds())
	if err := waitDeployments(ctx, c.kube, cfg.Namespace, deployments, cfg.ReadyTimeout, cfg.progress); err != nil {
		return nil, err
	}
	if cfg.Access == AccessPortForward {
		if l.fw, err = startForwards(cfg, c, fws); err != nil {
			return nil, err
		}
		cfg.progress("  %d port-forwards on 127.0.0.1 (offset %d)", len(fws), cfg.PortOffset)
	}
	if err := toxiproxy.New(e.ToxiproxyURL).Populate(ctx, e.ProxySpecs()); err != nil {
		return nil, err
	}
	readyAt := map[string]time.Time{}
	for _, svc := range e.ServiceOrder {
		if err := stack.WaitReady(ctx, e.Services[svc].ReadyURL, cfg.ReadyTimeout, nil); err != nil {
			return nil, fmt.Errorf("%s: %w (kubectl -n %s logs deployment/%s)", svc, err, cfg.Namespace, svc)
		}
		if s, ok := cfg.Lab.Service(svc); ok && s.Metrics != nil {
			readyAt[svc] = time.Now()
		}
		cfg.progress("  %-11s ready after %4dms", svc, time.Since(start).Milliseconds())
	}
	if cfg.Lab.Telemetry.Prometheus.Own() && len(readyAt) > 0 {
		if err := waitObserved(ctx, cfg, e, start, readyAt); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// waitObserved waits until the lab's Prometheus has scraped each service
// with metrics (its job named after the service, as the rendered
// prometheus.yml has it) since it answered ready: a lab is ready when what
// it does is measured.
func waitObserved(ctx context.Context, cfg Config, e stack.Endpoints, start time.Time, readyAt map[string]time.Time) error {
	cfg.progress("  %-11s waiting for its first scrape of each service", "prometheus")
	q, err := stack.NewTargetsQuerier(e.PrometheusURL)
	if err != nil {
		return err
	}
	after, err := stack.WaitScraped(ctx, q, readyAt, cfg.ReadyTimeout)
	if err != nil {
		return fmt.Errorf("%w (kubectl -n %s logs deployment/prometheus)", err, cfg.Namespace)
	}
	cfg.progress("%s", stack.ObservedReport(start, e.ServiceOrder, readyAt, after))
	return nil
}

// ensureNamespace creates namespace ns, labelled as the lab's, unless it
// exists, and reports whether it created it.
func ensureNamespace(ctx context.Context, c *clients, ns, labName string) (bool, error) {
	_, err := c.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err == nil {
		return false, nil
	}
	if !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("namespace %s: %w", ns, err)
	}
	_, err = c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labLabels(labName)}}, metav1.CreateOptions{FieldManager: ManagedBy})
	if apierrors.IsAlreadyExists(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	return true, nil
}

// labLabels are the labels of every object of the lab.
func labLabels(labName string) map[string]string {
	return map[string]string{LabelManagedBy: ManagedBy, LabelPartOf: labName}
}

// kindOrder ranks kinds for applying: what others refer to first.
func kindOrder(kind string) int {
	switch kind {
	case "Namespace":
		return 0
	case "CustomResourceDefinition":
		return 1
	case "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding":
		return 2
	case "ConfigMap", "Secret", "PersistentVolumeClaim":
		return 3
	case "Service":
		return 4
	}
	return 5
}

// apply applies objs with server-side apply, each labelled as the lab's and
// put in ns when it is namespaced and names none, and returns the kinds it
// applied and the names of the Deployments.
func apply(ctx context.Context, c *clients, ns, labName string, objs []*unstructured.Unstructured) ([]Resource, []string, error) {
	sorted := slices.Clone(objs)
	slices.SortStableFunc(sorted, func(a, b *unstructured.Unstructured) int { return kindOrder(a.GetKind()) - kindOrder(b.GetKind()) })
	seen := map[Resource]bool{}
	var resources []Resource
	var deployments []string
	for _, obj := range sorted {
		obj = obj.DeepCopy()
		gvk := obj.GroupVersionKind()
		m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return resources, deployments, fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		lbls := obj.GetLabels()
		if lbls == nil {
			lbls = map[string]string{}
		}
		maps.Copy(lbls, labLabels(labName))
		obj.SetLabels(lbls)
		namespaced := m.Scope.Name() == meta.RESTScopeNameNamespace
		res := Resource{Group: m.Resource.Group, Version: m.Resource.Version, Resource: m.Resource.Resource, Namespaced: namespaced}
		if !seen[res] {
			seen[res] = true
			resources = append(resources, res)
		}
		ri := c.dyn.Resource(m.Resource)
		var err2 error
		opts := metav1.ApplyOptions{FieldManager: ManagedBy, Force: true}
		if namespaced {
			if obj.GetNamespace() == "" {
				obj.SetNamespace(ns)
			}
			_, err2 = ri.Namespace(obj.GetNamespace()).Apply(ctx, obj.GetName(), obj, opts)
		} else {
			_, err2 = ri.Apply(ctx, obj.GetName(), obj, opts)
		}
		if err2 != nil {
			return resources, deployments, fmt.Errorf("applying %s %s: %w", gvk.Kind, obj.GetName(), err2)
		}
		if gvk.Group == "apps" && gvk.Kind == "Deployment" && obj.GetNamespace() == ns {
			deployments = append(deployments, obj.GetName())
		}
	}
	return resources, deployments, nil
}

// defaultResources are what Down deletes when the state says nothing.
func defaultResources() []Resource {
	return []Resource{
		{Group: "apps", Version: "v1", Resource: "deployments", Namespaced: true},
		{Version: "v1", Resource: "services", Namespaced: true},
		{Version: "v1", Resource: "configmaps", Namespaced: true},
		{Version: "v1", Resource: "secrets", Namespaced: true},
		{Version: "v1", Resource: "serviceaccounts", Namespaced: true},
	}
}

// Down deletes the lab's objects — every object of the kinds Up applied
// (or, without its state, the usual kinds) labelled as the lab's — and the
// state. Nothing running is not an error. A namespace Up created goes too.
func Down(ctx context.Context, cfg Config) error {
	cfg, err := cfg.check()
	if err != nil {
		return err
	}
	st, err := readState(cfg)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if cfg.Lab == nil {
			cfg.progress("  no kubernetes lab in %s", cfg.RunDir)
			return nil
		}
		st = State{Lab: cfg.Lab.Name, Namespace: cfg.Namespace, Kubeconfig: cfg.Kubeconfig, Context: cfg.Context}
	case err != nil:
		return err
	}
	cfg = cfg.clusterOf(st)
	c, err := connect(cfg)
	if err != nil {
		return err
	}
	resources := st.Applied
	if len(resources) == 0 {
		resources = defaultResources()
	}
	sel := labels.SelectorFromSet(labLabels(st.Lab)).String()
	start := time.Now()
	n := 0
	var errs []error
	bg := metav1.DeletePropagationBackground
	for _, r := range resources {
		gvr := schema.GroupVersionResource{Group: r.Group, Version: r.Version, Resource: r.Resource}
		var ri interface {
			List(context.Context, metav1.ListOptions) (*unstructured.UnstructuredList, error)
			Delete(context.Context, string, metav1.DeleteOptions, ...string) error
		}
		if r.Namespaced {
			ri = c.dyn.Resource(gvr).Namespace(st.Namespace)
		} else {
			ri = c.dyn.Resource(gvr)
		}
		list, err := ri.List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			errs = append(errs, fmt.Errorf("listing %s: %w", r.Resource, err))
			continue
		}
		for _, item := range list.Items {
			if err := ri.Delete(ctx, item.GetName(), metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("deleting %s %s: %w", r.Resource, item.GetName(), err))
				continue
			}
			n++
		}
	}
	// The namespace, when Up created it (it carries the lab's labels).
	if ns, err := c.kube.CoreV1().Namespaces().Get(ctx, st.Namespace, metav1.GetOptions{}); err == nil && labels.SelectorFromSet(labLabels(st.Lab)).Matches(labels.Set(ns.Labels)) {
		if err := c.kube.CoreV1().Namespaces().Delete(ctx, st.Namespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting namespace %s: %w", st.Namespace, err))
		} else {
			n++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	cfg.progress("  deleted %d objects of lab %s (namespace %s, %s) in %dms", n, st.Lab, st.Namespace, strings.ReplaceAll(sel, ",", ", "), time.Since(start).Milliseconds())
	if err := os.Remove(cfg.stateFile()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
