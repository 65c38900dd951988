package manifests_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/chaoslab/chaoslab/harness/stack/kubernetes/apiservertest"
	"github.com/chaoslab/chaoslab/harness/stack/kubernetes/manifests"
)

// applier applies objects server-side, as chaoslab (field manager), to a
// real kube-apiserver.
type applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newApplier(t *testing.T, srv *apiservertest.Server) *applier {
	t.Helper()
	cfg := srv.Config()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	require.NoError(t, err)
	return &applier{dyn: dynamic.NewForConfigOrDie(cfg), mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
}

// apply applies o; dryRun: the API server validates, admits and merges it
// (server-side apply, strict field validation) without storing it.
func (a *applier) apply(ctx context.Context, o *unstructured.Unstructured, dryRun bool) error {
	gvk := o.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface = a.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = a.dyn.Resource(m.Resource).Namespace(o.GetNamespace())
	}
	b, err := json.Marshal(o.Object)
	if err != nil {
		return err
	}
	opts := metav1.PatchOptions{FieldManager: "chaoslab", Force: ptr(true), FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err = ri.Patch(ctx, o.GetName(), types.ApplyPatchType, b, opts)
	return err
}

// installCRD installs the vendored TestRun CRD and waits until it serves.
func (a *applier) installCRD(ctx context.Context, t *testing.T) {
	t.Helper()
	crd, err := manifests.TestRunCRD()
	require.NoError(t, err)
	require.NoError(t, a.apply(ctx, crd, false), "installing the TestRun CRD")
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	require.Eventually(t, func() bool {
		got, err := a.dyn.Resource(gvr).Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err != nil {
			return false
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conds {
			c := c.(map[string]any)
			if c["type"] == "Established" && c["status"] == "True" {
				return true
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond, "the TestRun CRD is established")
	a.mapper.Reset()
	require.Eventually(t, func() bool {
		_, err := a.mapper.RESTMapping(schema.GroupKind{Group: "k6.io", Kind: "TestRun"}, "v1alpha1")
		if err != nil {
			a.mapper.Reset()
		}
		return err == nil
	}, 30*time.Second, 200*time.Millisecond, "TestRun is discoverable")
}

// TestTheAPIServerAcceptsTheManifests: a real kube-apiserver (v1.37,
// tools-kube) with the k6-operator's TestRun CRD accepts every object
// kustomize builds from both labs' overlays, by a server-side dry-run
// apply; the namespace is applied for real first.
func TestTheAPIServerAcceptsTheManifests(t *testing.T) {
	srv := apiservertest.New(t, apiservertest.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	a := newApplier(t, srv)
	a.installCRD(ctx, t)

	for name, l := range labs(t) {
		for _, overlay := range manifests.Overlays() {
			t.Run(name+"/"+overlay, func(t *testing.T) {
				opt := opts()
				opt.Namespace = name + "-" + map[string]string{"overlays/lab": "own", "overlays/external-telemetry": "ext"}[overlay]
				objs := build(t, l, opt, overlay)
				kinds := map[string]int{}
				for _, o := range objs {
					dry := o.GetKind() != "Namespace"
					if !assert.NoError(t, a.apply(ctx, o, dry), "%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName()) {
						continue
					}
					kinds[o.GetKind()]++
				}
				assert.Equal(t, len(l.Services)+1+map[bool]int{true: 2, false: 0}[overlay == "overlays/lab"], kinds["Deployment"])
				assert.Equal(t, 1, kinds["TestRun"])
				t.Logf("accepted: %v", kinds)
			})
		}
	}

	// A dry-run stores nothing: no Deployment exists.
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	list, err := a.dyn.Resource(gvr).Namespace("shop-own").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list.Items)

	// The API server does reject what is wrong, so the test can fail.
	base := build(t, labs(t)["shop"], opts(), "overlays/lab")
	// A custom resource that does not fit its CRD's schema fails server-side
	// apply's typed merge, which kube-apiserver answers with 500 (not 422)
	// naming the field; a built-in object fails validation, 422.
	for _, tc := range []struct {
		name    string
		kind    string
		object  string
		wantMsg string
		break_  func(o *unstructured.Unstructured)
	}{
		{"TestRun parallelism not a number", "TestRun", "shop-load", ".spec.parallelism: expected numeric", func(o *unstructured.Unstructured) {
			require.NoError(t, unstructured.SetNestedField(o.Object, "three", "spec", "parallelism"))
		}},
		{"TestRun unknown field", "TestRun", "shop-load", ".spec.paralelism: field not declared in schema", func(o *unstructured.Unstructured) {
			require.NoError(t, unstructured.SetNestedField(o.Object, int64(3), "spec", "paralelism"))
		}},
		{"Deployment selector not matching its pods", "Deployment", "orders", "`selector` does not match template `labels`", func(o *unstructured.Unstructured) {
			require.NoError(t, unstructured.SetNestedField(o.Object, "other", "spec", "selector", "matchLabels", manifests.LabelService))
		}},
		{"Service port out of range", "Service", "orders", "spec.ports[0].port", func(o *unstructured.Unstructured) {
			ports, _, _ := unstructured.NestedSlice(o.Object, "spec", "ports")
			ports[0].(map[string]any)["port"] = int64(70000)
			require.NoError(t, unstructured.SetNestedSlice(o.Object, ports, "spec", "ports"))
		}},
	} {
		t.Run("rejects/"+tc.name, func(t *testing.T) {
			o := find(base, tc.kind, tc.object)
			require.NotNil(t, o)
			o = o.DeepCopy()
			o.SetNamespace("shop-own")
			tc.break_(o)
			err := a.apply(ctx, o, true)
			require.Error(t, err)
			assert.ErrorContains(t, err, tc.wantMsg)
			if tc.kind != "TestRun" {
				assert.True(t, apierrors.IsInvalid(err), "want 422 Invalid, got %v", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
