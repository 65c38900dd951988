package manifests_test

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/stack/kubernetes/manifests"
)

// repoRoot is the repository's root from this package.
const repoRoot = "../../../.."

// labs are the two labs CI runs: the shop and examples/bookings.
func labs(t *testing.T) map[string]*lab.Lab {
	t.Helper()
	shop, err := lab.Load(filepath.Join(repoRoot, "labs", "shop", "lab.yaml"), lab.WithBuiltins(lab.Builtins{
		Invariants: []string{"no_lost_orders", "no_double_charge", "failed_orders_compensated", "one_shipment_per_confirmed_order", "no_orphan_shipments", "outbox_drained"}, Settle: []string{"no_pending_orders", "no_pending_work"}}))
	require.NoError(t, err)
	bookings, err := lab.Load(filepath.Join(repoRoot, "examples", "bookings", "lab.yaml"))
	require.NoError(t, err)
	return map[string]*lab.Lab{"shop": shop, "bookings": bookings}
}

// opts are fixed secrets, so that the output is stable.
func opts() manifests.Options {
	return manifests.Options{AdminToken: "admin-secret", JWTKey: "jwt-secret", LoadToken: "load-secret", Parallelism: 3}
}

func build(t *testing.T, l *lab.Lab, opt manifests.Options, dir string) []*unstructured.Unstructured {
	t.Helper()
	files, err := manifests.Render(l, opt)
	require.NoError(t, err)
	objs, err := manifests.BuildFiles(files, dir)
	require.NoError(t, err)
	return objs
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	i := slices.IndexFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == kind && o.GetName() == name })
	if i < 0 {
		return nil
	}
	return objs[i]
}

// TestBuildDecodesStrictly: both overlays of both labs build with
// kustomize, and every built-in object decodes strictly into k8s.io/api.
func TestBuildDecodesStrictly(t *testing.T) {
	for name, l := range labs(t) {
		for _, dir := range append(manifests.Overlays(), ".") {
			t.Run(name+"/"+dir, func(t *testing.T) {
				objs := build(t, l, opts(), dir)
				require.NotEmpty(t, objs)
				unchecked, err := manifests.DecodeStrict(objs)
				require.NoError(t, err)
				assert.Equal(t, []string{"TestRun/" + l.Name + "-load"}, unchecked)
				for _, o := range objs {
					assert.Equal(t, manifests.ManagedBy, o.GetLabels()[manifests.LabelManagedBy], "%s/%s", o.GetKind(), o.GetName())
					assert.Equal(t, l.Name, o.GetLabels()[manifests.LabelPartOf], "%s/%s", o.GetKind(), o.GetName())
					if o.GetKind() != "Namespace" {
						assert.Equal(t, l.Name, o.GetNamespace(), "%s/%s", o.GetKind(), o.GetName())
					}
				}
			})
		}
	}
}

// TestDeployments: a Deployment per service with the lab's replicas,
// selecting its pods by LabelService; a Service of every port but the
// fault admin port; callers reach callees through toxiproxy.
func TestDeployments(t *testing.T) {
	for name, l := range labs(t) {
		t.Run(name, func(t *testing.T) {
			objs := build(t, l, opts(), "overlays/lab")
			for _, s := range l.Services {
				dep := find(objs, "Deployment", s.Name)
				require.NotNil(t, dep, s.Name)
				replicas, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas")
				assert.Equal(t, int64(s.Replicas), replicas)
				sel, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "selector", "matchLabels")
				assert.Equal(t, s.Name, sel[manifests.LabelService])
				svc := find(objs, "Service", s.Name)
				require.NotNil(t, svc, s.Name)
				ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
				var numbers []int64
				for _, p := range ports {
					numbers = append(numbers, p.(map[string]any)["port"].(int64))
				}
				for _, p := range s.Ports {
					if s.Faults != nil && p.Name == s.Faults.Port {
						assert.NotContains(t, numbers, int64(p.Number), "%s's admin port is not exposed", s.Name)
					} else {
						assert.Contains(t, numbers, int64(p.Number))
					}
				}
				containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
				require.Len(t, containers, 1)
				c := containers[0].(map[string]any)
				text := strings.Join(toStrings(c["args"]), " ") + " " + envText(c["env"])
				for _, e := range l.Calls(s.Name) {
					if l.Replicas(e.To) > 1 {
						// Found through the registry: the callee's pods
						// advertise the edge's proxy, each as its pod.
						assert.Contains(t, text, "etcd:///chaoslab/"+e.Proxy(), "%s resolves %s through the registry", s.Name, e.To)
						continue
					}
					assert.Contains(t, text, "toxiproxy:"+itoa(e.ProxyPort), "%s reaches %s through toxiproxy", s.Name, e.To)
				}
				for _, e := range l.CalledBy(s.Name) {
					if s.Replicas > 1 {
						assert.Contains(t, text, e.Proxy()+"=toxiproxy:"+itoa(e.ProxyPort), "%s advertises its proxy on %s", s.Name, e.Name)
						assert.Contains(t, text, "=$(CHAOSLAB_K8S_POD_NAME)", "%s's pods register as themselves", s.Name)
					}
				}
				if s.Faults != nil {
					assert.Contains(t, toStrings(c["args"]), "-admin-token=$(CHAOSLAB_K8S_ADMIN_TOKEN)")
				}
			}
			tox := find(objs, "ConfigMap", l.Name+"-toxiproxy")
			require.NotNil(t, tox)
			cfg, _, _ := unstructured.NestedString(tox.Object, "data", "toxiproxy.json")
			for _, e := range l.Edges {
				assert.Contains(t, cfg, `"name": "`+e.Proxy()+`"`)
			}
			tr := find(objs, "TestRun", l.Name+"-load")
			require.NotNil(t, tr)
			par, _, _ := unstructured.NestedInt64(tr.Object, "spec", "parallelism")
			assert.Equal(t, int64(3), par)
		})
	}
}

// TestExternalTelemetry: the overlay drops Prometheus and Jaeger and
// points the telemetry ConfigMap at the given URLs.
func TestExternalTelemetry(t *testing.T) {
	l := labs(t)["shop"]
	opt := opts()
	opt.External = manifests.External{OTLPGRPC: "collector.obs:4317", OTLPHTTP: "collector.obs:4318", PrometheusURL: "http://prom.obs:9090/"}
	objs := build(t, l, opt, "overlays/external-telemetry")
	for _, c := range []string{"prometheus", "jaeger"} {
		assert.Nil(t, find(objs, "Deployment", c))
		assert.Nil(t, find(objs, "Service", c))
		assert.Nil(t, find(objs, "ConfigMap", l.Name+"-"+c))
	}
	cm := find(objs, "ConfigMap", l.Name+"-telemetry")
	require.NotNil(t, cm)
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	assert.Equal(t, "collector.obs:4317", data["otlp-grpc"])
	assert.Equal(t, "http://prom.obs:9090/api/v1/write", data["prometheus-remote-write"])
	own := build(t, l, opt, "overlays/lab")
	assert.NotNil(t, find(own, "Deployment", "prometheus"))
}

func TestRenderRejects(t *testing.T) {
	l := labs(t)["shop"]
	for _, tc := range []struct {
		name string
		opt  manifests.Options
		want string
	}{
		{"namespace", manifests.Options{Namespace: "Not_A_Label"}, "not a DNS label"},
		{"parallelism", manifests.Options{Parallelism: -1}, "parallelism"},
		{"telemetry", manifests.Options{Telemetry: "theirs"}, `telemetry "theirs"`},
		{"script", manifests.Options{LoadScript: "nope.js"}, `load script "nope.js"`},
		{"image tag", manifests.Options{ImageTag: "a:b"}, "image tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := manifests.Render(l, tc.opt)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func toStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, e := range list {
		out = append(out, e.(string))
	}
	return out
}

func envText(v any) string {
	var b strings.Builder
	list, _ := v.([]any)
	for _, e := range list {
		m := e.(map[string]any)
		if s, ok := m["value"].(string); ok {
			b.WriteString(m["name"].(string) + "=" + s + " ")
		}
	}
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

// DecodeStrict rejects what k8s.io/api does not have, so that
// TestBuildDecodesStrictly can fail.
func TestDecodeStrictRejects(t *testing.T) {
	objs := build(t, labs(t)["bookings"], opts(), "overlays/lab")
	for _, tc := range []struct {
		name, kind, object, want string
		break_                   func(o *unstructured.Unstructured)
	}{
		{"unknown field", "Deployment", "desk", `unknown field "spec.replica"`, func(o *unstructured.Unstructured) {
			require.NoError(t, unstructured.SetNestedField(o.Object, int64(2), "spec", "replica"))
		}},
		{"wrong type", "Service", "desk", "spec.ports", func(o *unstructured.Unstructured) {
			require.NoError(t, unstructured.SetNestedField(o.Object, "7080", "spec", "ports"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := find(objs, tc.kind, tc.object).DeepCopy()
			tc.break_(o)
			_, err := manifests.DecodeStrict([]*unstructured.Unstructured{o})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
