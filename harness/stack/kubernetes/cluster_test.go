package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/stack/kubernetes/apiservertest"
	"github.com/chaoslab/chaoslab/harness/stack/kubernetes/manifests"
	"github.com/chaoslab/chaoslab/services/faultinject"
)

// The tests run against a real kube-apiserver (apiservertest: etcd and
// kube-apiserver, the pinned tools). Nothing runs the objects there — no
// kubelet, no controller manager — so fakeController plays the part of
// the Deployment and ReplicaSet controllers and the kubelet: it gives each
// Deployment its pods (ready at once), replaces them when the pod template
// changes, and writes the Deployment's status. The pods' ports are served
// by httptest servers, reached through the port-forwards' listeners (the
// tunnel to a pod is the one part replaced: it needs a kubelet).

// cluster starts an API server for the test.
func cluster(t *testing.T) *rest.Config {
	t.Helper()
	return apiservertest.New(t, apiservertest.Options{}).Config()
}

// labelApp is the test objects' selector label.
const labelApp = "app.kubernetes.io/name"

// testObjects are the objects of the test lab: a Deployment and a Service
// per service, and Toxiproxy's, with the lab's port numbers.
func testObjects(replicas map[string]int32) Objects {
	return func(ctx context.Context, r Render) ([]*unstructured.Unstructured, error) {
		var out []*unstructured.Unstructured
		add := func(name string, ports map[string]int, env []corev1.EnvVar) error {
			n := replicas[name]
			if n == 0 {
				n = 1
			}
			var cports []corev1.ContainerPort
			var sports []corev1.ServicePort
			for pname, num := range ports {
				cports = append(cports, corev1.ContainerPort{Name: pname, ContainerPort: int32(num)})
				if pname != "admin" { // the admin API is on no Service
					sports = append(sports, corev1.ServicePort{Name: pname, Port: int32(num), TargetPort: intstr.FromString(pname)})
				}
			}
			sel := map[string]string{labelApp: name}
			d := &appsv1.Deployment{
				TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: sel},
				Spec: appsv1.DeploymentSpec{
					Replicas: &n,
					Selector: &metav1.LabelSelector{MatchLabels: sel},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: sel},
						Spec: corev1.PodSpec{Containers: []corev1.Container{{
							Name: name, Image: "test/" + name + ":1", Ports: cports, Env: env,
						}}},
					},
				},
			}
			svc := &corev1.Service{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: sel},
				Spec:       corev1.ServiceSpec{Selector: sel, Ports: sports},
			}
			for _, o := range []runtime.Object{d, svc} {
				m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
				if err != nil {
					return err
				}
				out = append(out, &unstructured.Unstructured{Object: m})
			}
			return nil
		}
		for _, s := range r.Lab.Services {
			ports := map[string]int{}
			for _, p := range s.Ports {
				ports[p.Name] = p.Number
			}
			var env []corev1.EnvVar
			if s.Name == "api" {
				env = []corev1.EnvVar{{Name: "API_LISTEN", Value: "0.0.0.0:7080"}, {Name: "API_RETRIES", Value: "4"}}
			}
			if err := add(s.Name, ports, env); err != nil {
				return nil, err
			}
		}
		if err := add("toxiproxy", map[string]int{"api": 7474, "entry": 7000, "api-store": 7010}, nil); err != nil {
			return nil, err
		}
		if err := add("prometheus", map[string]int{"http": 7900}, nil); err != nil {
			return nil, err
		}
		return out, nil
	}
}

// fakeController gives every Deployment of ns its pods, like the
// Deployment controller and a kubelet would, until the test ends; the pods
// are bound to node ("": none).
func fakeController(t *testing.T, kube kubernetes.Interface, ns, node string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			reconcile(ctx, kube, ns, node)
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
}

// labelGen carries the Deployment generation a pod was made from.
const labelGen = "test.chaoslab.dev/generation"

func reconcile(ctx context.Context, kube kubernetes.Interface, ns, node string) {
	ds, err := kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, d := range ds.Items {
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		gen := strconv.FormatInt(d.Generation, 10)
		sel := labels.SelectorFromSet(d.Spec.Selector.MatchLabels)
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			continue
		}
		var current int32
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				continue
			}
			if p.Labels[labelGen] != gen || current >= want {
				_ = kube.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
				continue
			}
			current++
		}
		for ; current < want; current++ {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{GenerateName: d.Name + "-", Labels: map[string]string{labelGen: gen}},
				Spec:       *d.Spec.Template.Spec.DeepCopy(),
			}
			for k, v := range d.Spec.Template.Labels {
				pod.Labels[k] = v
			}
			pod.Spec.NodeName = node
			created, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
			if err != nil {
				break
			}
			created.Status.Phase = corev1.PodRunning
			created.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
			if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				break
			}
		}
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation, Replicas: current, UpdatedReplicas: current,
			ReadyReplicas: current, AvailableReplicas: current,
		}
		_, _ = kube.AppsV1().Deployments(ns).UpdateStatus(ctx, &d, metav1.UpdateOptions{})
	}
}

// pods returns the names and the first container's env of the live pods
// of the Deployment named name.
func pods(t *testing.T, kube kubernetes.Interface, ns, name string) map[string][]corev1.EnvVar {
	t.Helper()
	list, err := kube.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: labelApp + "=" + name})
	require.NoError(t, err)
	out := map[string][]corev1.EnvVar{}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out[p.Name] = p.Spec.Containers[0].Env
		}
	}
	return out
}

// fakeToxiproxy answers the Toxiproxy API calls the stack and the sweep
// make: POST /populate and GET /proxies.
type fakeToxiproxy struct {
	mu      sync.Mutex
	proxies map[string]map[string]any
}

func (f *fakeToxiproxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/populate":
		var ps []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&ps); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.proxies = map[string]map[string]any{}
		for _, p := range ps {
			p["toxics"] = []any{}
			f.proxies[p["name"].(string)] = p
		}
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"proxies": ps})
	case r.Method == http.MethodGet && r.URL.Path == "/proxies":
		_ = json.NewEncoder(w).Encode(f.proxies)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeToxiproxy) upstreams() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for name, p := range f.proxies {
		out[name] = p["upstream"].(string)
	}
	return out
}

// pods' ports: what the forwards reach, by "service:port".
type testPorts struct {
	toxiproxy *fakeToxiproxy
	admin     *faultinject.Injector
	addrs     map[string]string
	dialled   sync.Map // "service:port" → true
}

// testAdminToken is the admin APIs' token: testConfig writes it to the run
// dir, where Up takes it from, and store's admin API requires it.
const testAdminToken = "test-admin-token"

func newTestPorts(t *testing.T) *testPorts {
	tp := &testPorts{toxiproxy: &fakeToxiproxy{}, admin: faultinject.NewInjector(prometheus.NewRegistry(), slog.New(slog.DiscardHandler)), addrs: map[string]string{}}
	ready := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" {
			io.WriteString(w, "ok")
			return
		}
		http.NotFound(w, r)
	})
	serve := func(key string, h http.Handler) {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		tp.addrs[key] = strings.TrimPrefix(srv.URL, "http://")
	}
	serve("toxiproxy:7474", tp.toxiproxy)
	serve("api:7081", ready)
	serve("store:7090", ready)
	serve("store:7091", tp.admin.AdminHandler(faultinject.WithBearerToken(testAdminToken)))
	serve("prometheus:7900", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every job scraped just now, up.
		now := time.Now().UTC().Format(time.RFC3339Nano)
		var active []map[string]any
		for _, job := range []string{"api"} {
			active = append(active, map[string]any{
				"labels": map[string]string{"job": job}, "scrapePool": job, "health": "up", "lastScrape": now,
			})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"activeTargets": active, "droppedTargets": []any{}}})
	}))
	return tp
}

func (tp *testPorts) dial(ctx context.Context, fw Forward) (net.Conn, error) {
	key := fmt.Sprintf("%s:%d", fw.Service, fw.Port)
	tp.dialled.Store(key, true)
	addr, ok := tp.addrs[key]
	if !ok {
		return nil, fmt.Errorf("nothing listens on %s in the test", key)
	}
	return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
}

// testConfig is a lab of the test lab file in namespace ns of rc.
func testConfig(t *testing.T, rc *rest.Config, ns string, tp *testPorts) Config {
	cfg := DefaultConfig()
	cfg.Lab = testLab(t)
	cfg.REST = rc
	cfg.Namespace = ns
	cfg.RunDir = t.TempDir()
	cfg.PortOffset = 500
	cfg.ReadyTimeout = 20 * time.Second
	cfg.Objects = testObjects(map[string]int32{"store": 2})
	cfg.dial = tp.dial
	require.NoError(t, os.WriteFile(filepath.Join(cfg.RunDir, "admin.token"), []byte(testAdminToken+"\n"), 0o600))
	return cfg
}

func envOf(t *testing.T, kube kubernetes.Interface, ns, name string) []corev1.EnvVar {
	t.Helper()
	d, err := kube.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return d.Spec.Template.Spec.Containers[0].Env
}

func TestUpFaultsAndDown(t *testing.T) {
	rc := cluster(t)
	kube := kubernetes.NewForConfigOrDie(rc)
	ns := "lab-up"
	fakeController(t, kube, ns, "")
	tp := newTestPorts(t)
	cfg := testConfig(t, rc, ns, tp)
	var progress strings.Builder
	cfg.Progress = &progress

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	l, err := Up(ctx, cfg)
	require.NoError(t, err, progress.String())
	t.Cleanup(func() { l.Close() })

	t.Run("up applied the objects with the lab's labels, server-side", func(t *testing.T) {
		for _, name := range []string{"api", "store", "toxiproxy"} {
			d, err := kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			require.NoError(t, err)
			assert.Equal(t, ManagedBy, d.Labels[LabelManagedBy])
			assert.Equal(t, "kube-notes", d.Labels[LabelPartOf])
			var applied bool
			for _, mf := range d.ManagedFields {
				applied = applied || (mf.Manager == ManagedBy && mf.Operation == metav1.ManagedFieldsOperationApply)
			}
			assert.True(t, applied, "deployment %s was applied by field manager %s", name, ManagedBy)
			assert.Contains(t, progress.String(), name)
		}
		nsObj, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, "kube-notes", nsObj.Labels[LabelPartOf], "the namespace Up created is the lab's")
		assert.Contains(t, progress.String(), "available after")
		assert.Contains(t, progress.String(), "ready after")
		_, ok := tp.dialled.Load("prometheus:7900")
		assert.True(t, ok, "up waited for Prometheus' first scrape of api, through its port-forward")
	})
	t.Run("the proxies reach the callees by their Services' names", func(t *testing.T) {
		assert.Equal(t, map[string]string{"client_to_api": "api:7080", "api_to_store": "store:7090"}, tp.toxiproxy.upstreams())
		_, ok := tp.dialled.Load("toxiproxy:7474")
		assert.True(t, ok, "Toxiproxy's API was reached through its port-forward")
	})
	t.Run("SIGKILL deletes the pods and the deployment brings new ones", func(t *testing.T) {
		before := pods(t, kube, ns, "store")
		require.Len(t, before, 2)
		require.NoError(t, l.Signal(ctx, "store", 9))
		for name := range before {
			_, err := kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			assert.True(t, apierrors.IsNotFound(err), "pod %s deleted at once (grace 0): %v", name, err)
		}
		assert.Eventually(t, func() bool {
			now := pods(t, kube, ns, "store")
			for name := range now {
				if _, old := before[name]; old {
					return false
				}
			}
			return len(now) == 2
		}, 10*time.Second, 50*time.Millisecond)
		assert.True(t, l.Running("store"))
	})
	t.Run("SIGSTOP scales to 0 and SIGCONT back to the replicas it had", func(t *testing.T) {
		require.NoError(t, l.Signal(ctx, "store", 19))
		d, err := kube.AppsV1().Deployments(ns).Get(ctx, "store", metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, int32(0), *d.Spec.Replicas)
		assert.Equal(t, "2", d.Annotations[AnnotationPausedReplicas])
		assert.True(t, l.Running("store"), "a paused service runs, as a stopped process does")
		assert.Eventually(t, func() bool { return len(pods(t, kube, ns, "store")) == 0 }, 10*time.Second, 50*time.Millisecond)

		comps, _, err := Status(ctx, cfg)
		require.NoError(t, err)
		require.Len(t, comps, 4) // api, prometheus, store, toxiproxy
		assert.Equal(t, "store", comps[2].Name)
		assert.Contains(t, comps[2].NotReady, "paused by chaoslab (scaled to 0 from 2)")
		assert.Empty(t, comps[0].NotReady, "api is ready")

		require.NoError(t, l.Signal(ctx, "store", 18))
		d, err = kube.AppsV1().Deployments(ns).Get(ctx, "store", metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, int32(2), *d.Spec.Replicas)
		assert.NotContains(t, d.Annotations, AnnotationPausedReplicas)
		require.NoError(t, l.Signal(ctx, "store", 18), "resuming what runs changes nothing")
	})
	t.Run("Restart with knobs rolls the env out and nil restores the lab's", func(t *testing.T) {
		original := envOf(t, kube, ns, "api")
		require.NoError(t, l.Restart(ctx, "api", map[string]string{"retries": "0", "call-timeout": "5ms"}))
		env := envOf(t, kube, ns, "api")
		assert.Contains(t, env, corev1.EnvVar{Name: "API_RETRIES", Value: "0"})
		assert.Contains(t, env, corev1.EnvVar{Name: "API_CALL_TIMEOUT", Value: "5ms"})
		assert.Equal(t, map[string]string{"retries": "0", "call-timeout": "5ms"}, l.Overrides("api"))
		// Restart returned once rolled out: every pod runs the knobs.
		for name, penv := range pods(t, kube, ns, "api") {
			assert.Contains(t, penv, corev1.EnvVar{Name: "API_RETRIES", Value: "0"}, "pod %s", name)
		}

		require.NoError(t, l.Restart(ctx, "api", nil))
		assert.Equal(t, original, envOf(t, kube, ns, "api"))
		assert.Nil(t, l.Overrides("api"))
		for name, penv := range pods(t, kube, ns, "api") {
			assert.Equal(t, original, penv, "pod %s", name)
		}
	})
	t.Run("knobs need the service's env prefix", func(t *testing.T) {
		err := l.Restart(ctx, "store", map[string]string{"x": "1"})
		assert.ErrorContains(t, err, "no compose.knob_env_prefix")
		assert.ErrorContains(t, l.Signal(ctx, "nope", 9), `no service "nope"`)
	})
	t.Run("down deletes what up applied", func(t *testing.T) {
		require.NoError(t, l.Close())
		require.NoError(t, Down(ctx, cfg))
		list, err := kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, list.Items)
		svcs, err := kube.CoreV1().Services(ns).List(ctx, metav1.ListOptions{LabelSelector: LabelPartOf + "=kube-notes"})
		require.NoError(t, err)
		assert.Empty(t, svcs.Items)
		_, err = Attach(cfg)
		assert.ErrorContains(t, err, "no kubernetes lab in")
		require.NoError(t, Down(ctx, cfg), "nothing running is not an error")
	})
}

// TestRollbackAfterCrash changes the lab through the fault injector —
// knobs and a pause on one service, a request fault on another — drops every Go object as a crashed
// runner would, and has a new Lab, built from the run dir alone, roll the
// ledger back: the cluster's objects are as the lab's were. Everything the
// harness reaches (Toxiproxy, readiness, the admin API) goes through real
// port-forwards, the API server's, to a fake kubelet.
func TestRollbackAfterCrash(t *testing.T) {
	rc := cluster(t)
	kube := kubernetes.NewForConfigOrDie(rc)
	ns := "lab-crash"
	tp := newTestPorts(t)
	// The real port-forward path: the API server's pods/portforward to a
	// fake kubelet, which serves the pods' ports from tp.
	kubelet, node := startKubelet(t, kube, tp)
	fakeController(t, kube, ns, node)
	cfg := testConfig(t, rc, ns, tp)
	cfg.dial = nil
	cfg.Objects = testObjects(map[string]int32{"api": 2})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	l, err := Up(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() }) // the next test listens on the same ports
	apiEnv := envOf(t, kube, ns, "api")

	// The run that crashes.
	func() {
		ledger, err := faults.OpenLedger(faults.LedgerPath(l.RunDir()))
		require.NoError(t, err)
		defer ledger.Close()
		inj := faults.NewInjector(stack.FaultEnv(l, nil), ledger)
		_, err = inj.ApplyKnobs(ctx, "run-1", "knobs-off", "api", map[string]string{"retries": "0"})
		require.NoError(t, err)
		_, err = inj.Apply(ctx, "run-1", "api-pause", "fault", faults.Spec{Process: &faults.ProcessFault{Service: "api", Action: faults.ActionPause}})
		require.NoError(t, err)
		_, err = inj.Apply(ctx, "run-1", "store-errors", "fault", faults.Spec{Request: &faults.RequestFault{Service: "store", Method: "*", HTTPStatus: 503, Probability: 1}})
		require.NoError(t, err)
		require.NoError(t, l.Close())
	}()
	d, err := kube.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(0), *d.Spec.Replicas, "the crashed run left api paused")
	require.Contains(t, envOf(t, kube, ns, "api"), corev1.EnvVar{Name: "API_RETRIES", Value: "0"}, "and api with its knobs")
	require.Len(t, tp.admin.List(), 1, "and a request fault in store")

	// `chaoslab clean -stack kubernetes`: a new process, the run dir only.
	fresh := DefaultConfig()
	fresh.RunDir, fresh.REST, fresh.ReadyTimeout = cfg.RunDir, rc, 20*time.Second
	l2, err := Attach(fresh)
	require.NoError(t, err)
	t.Cleanup(func() { l2.Close() })
	ledger, err := faults.OpenLedger(faults.LedgerPath(l2.RunDir()))
	require.NoError(t, err)
	defer ledger.Close()
	rb, err := faults.NewInjector(stack.FaultEnv(l2, nil), ledger).RollbackPending(ctx)
	require.NoError(t, err)
	assert.Len(t, rb.Faults, 2)
	require.Len(t, rb.Knobs, 1)
	assert.Equal(t, "api", rb.Knobs[0].Service)

	a, err := kube.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(2), *a.Spec.Replicas, "api is back at the replicas it had before the pause")
	assert.NotContains(t, a.Annotations, AnnotationPausedReplicas)
	assert.Equal(t, apiEnv, a.Spec.Template.Spec.Containers[0].Env, "api runs with the lab's environment again (API_RETRIES=4, the lab's own)")
	assert.NotContains(t, a.Annotations, AnnotationKnobs)
	assert.NotContains(t, a.Annotations, AnnotationKnobBase)
	assert.Empty(t, tp.admin.List(), "the request fault is gone")
	pending, err := ledger.Pending()
	require.NoError(t, err)
	assert.Empty(t, pending)
	knobs, err := ledger.PendingKnobs()
	require.NoError(t, err)
	assert.Empty(t, knobs)
	kubelet.mu.Lock()
	defer kubelet.mu.Unlock()
	for _, port := range []string{"7474", "7081", "7090", "7091", "7900"} {
		assert.Positive(t, kubelet.served[port], "port %s was reached through the API server's port-forward", port)
	}
}

// renderedObjects are the test lab's objects as the manifests package
// renders them (what the CLI wires in), without the k6-operator's TestRun.
func renderedObjects(ctx context.Context, r Render) ([]*unstructured.Unstructured, error) {
	files, err := manifests.Render(r.Lab, manifests.Options{Namespace: r.Namespace, AdminToken: r.AdminToken, JWTKey: r.Auth["key"]})
	if err != nil {
		return nil, err
	}
	objs, err := manifests.BuildFiles(files, "")
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == "TestRun" }), nil
}

// TestUpWithTheRenderedManifests runs the stack on the objects the lab's
// renderer makes: they apply, their Deployments, Services, containers and
// selector are the ones the faults find, and the knobs land in the
// rendered container's environment.
func TestUpWithTheRenderedManifests(t *testing.T) {
	rc := cluster(t)
	kube := kubernetes.NewForConfigOrDie(rc)
	ns := "lab-rendered"
	// A namespace of the team's: the lab goes in it, and it stays theirs.
	_, err := kube.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	fakeController(t, kube, ns, "")
	tp := newTestPorts(t)
	cfg := testConfig(t, rc, ns, tp)
	cfg.Objects = renderedObjects
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	l, err := Up(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	for _, name := range []string{"api", "store", "toxiproxy", "prometheus", "jaeger"} {
		_, err := kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		assert.NoError(t, err, "deployment %s", name)
	}
	secret, err := kube.CoreV1().Secrets(ns).Get(ctx, ns+"-secrets", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, testAdminToken, string(secret.Data[manifests.SecretAdminToken]), "the services require the token the harness sends")

	original := envOf(t, kube, ns, "api")
	require.NoError(t, l.Restart(ctx, "api", map[string]string{"retries": "0"}))
	assert.Contains(t, envOf(t, kube, ns, "api"), corev1.EnvVar{Name: "API_RETRIES", Value: "0"})
	require.NoError(t, l.Restart(ctx, "api", nil))
	assert.Equal(t, original, envOf(t, kube, ns, "api"))

	require.NoError(t, l.Signal(ctx, "store", 9))
	require.NoError(t, l.Signal(ctx, "store", 19))
	assert.Eventually(t, func() bool { return len(pods(t, kube, ns, "store")) == 0 }, 10*time.Second, 50*time.Millisecond)
	require.NoError(t, l.Signal(ctx, "store", 18))
	assert.Eventually(t, func() bool { return len(pods(t, kube, ns, "store")) == 1 }, 10*time.Second, 50*time.Millisecond)

	require.NoError(t, Down(ctx, cfg))
	list, err := kube.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: LabelPartOf + "=kube-notes"})
	require.NoError(t, err)
	assert.Empty(t, list.Items, "down deleted the rendered ConfigMaps too")
	nsObj, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Nil(t, nsObj.DeletionTimestamp, "the team's namespace is not deleted")
	assert.NotContains(t, nsObj.Labels, LabelPartOf, "nor labelled as the lab's")
}

// startKubelet starts a fake kubelet that serves tp's ports of any pod
// (by port number) and registers it as Node node-1, whose name it returns.
func startKubelet(t *testing.T, kube kubernetes.Interface, tp *testPorts) (*fakeKubelet, string) {
	t.Helper()
	k := &fakeKubelet{backends: map[string]string{}, conns: map[string][]httpstream.Connection{}}
	for key, addr := range tp.addrs {
		_, port, _ := strings.Cut(key, ":")
		k.backends["*:"+port] = addr
	}
	ks := httptest.NewTLSServer(k)
	t.Cleanup(ks.Close)
	_, portStr, err := net.SplitHostPort(ks.Listener.Addr().String())
	require.NoError(t, err)
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)
	node, err := kube.CoreV1().Nodes().Create(t.Context(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	_, err = kube.CoreV1().Nodes().UpdateStatus(t.Context(), node, metav1.UpdateOptions{})
	require.NoError(t, err)
	return k, node.Name
}
