package cli

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/exitcode"
	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/stack/kubernetes"
	"github.com/chaoslab/chaoslab/harness/stack/kubernetes/apiservertest"
)

func TestKubernetesStackFlags(t *testing.T) {
	tests := []struct {
		name      string
		vars      map[string]string
		args      []string
		chaos     bool
		namespace string
		runDir    string
		access    string
		offset    int
	}{
		{name: "defaults", namespace: "chaoslab", runDir: ".run/kubernetes", access: kubernetes.AccessPortForward},
		{name: "chaos keeps its lab apart", chaos: true, namespace: "chaoslab-chaos", runDir: ".run/kubernetes-chaos", access: kubernetes.AccessPortForward},
		{name: "CHAOSLAB_NAMESPACE", vars: map[string]string{"CHAOSLAB_NAMESPACE": "team-a", "CHAOSLAB_PORT_OFFSET": "500"}, chaos: true,
			namespace: "team-a", runDir: ".run/kubernetes-chaos", access: kubernetes.AccessPortForward, offset: 500},
		{name: "flags", args: []string{"-namespace", "x", "-kube-endpoints", "in-cluster", "-kube-port-offset", "7", "-kube-run-dir", "/tmp/k"},
			namespace: "x", runDir: "/tmp/k", access: kubernetes.AccessInCluster, offset: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _, _ := testEnv(tt.vars)
			s := newKubernetesStack(nil)
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			s.Flags(fs, env)
			if tt.chaos {
				s.ChaosFlags(fs)
			}
			require.NoError(t, fs.Parse(tt.args))
			assert.Equal(t, tt.namespace, s.cfg.Namespace)
			assert.Equal(t, tt.runDir, s.cfg.RunDir)
			assert.Equal(t, tt.access, s.cfg.Access)
			assert.Equal(t, tt.offset, s.cfg.PortOffset)
			assert.Contains(t, s.Describe(), "namespace "+tt.namespace)
		})
	}
}

func TestKubernetesUpNeedsARenderer(t *testing.T) {
	_, err := newKubernetesStack(nil).Up(t.Context(), nil, nil)
	assert.ErrorContains(t, err, "no renderer of the lab's objects")
}

// TestRenderManifests renders the shop for the stack: the objects the
// stack needs, named as it finds them, without the TestRun, the Secret
// holding the stack's admin token.
func TestRenderManifests(t *testing.T) {
	lf, err := loadLabFile(libraryLab)
	require.NoError(t, err)
	objs, err := renderManifests(t.Context(), kubernetes.Render{Lab: lf, Namespace: "lab1", AdminToken: "tok", ImageTag: "v7", Auth: map[string]string{"key": "k"}})
	require.NoError(t, err)
	images, _, _ := unstructured.NestedSlice(objs[slices.IndexFunc(objs, func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "Deployment" && o.GetName() == lf.StartOrder()[0]
	})].Object, "spec", "template", "spec", "containers")
	require.NotEmpty(t, images)
	assert.Contains(t, images[0].(map[string]any)["image"], ":v7", "the image tag")
	kinds := map[string]bool{}
	var secret *unstructured.Unstructured
	for _, o := range objs {
		kinds[o.GetKind()+"/"+o.GetName()] = true
		assert.NotEqual(t, "TestRun", o.GetKind(), "the runner runs k6 itself")
		if o.GetKind() == "Secret" {
			secret = o
		}
	}
	for _, want := range append(lf.StartOrder(), "toxiproxy", "prometheus", "jaeger") {
		assert.True(t, kinds["Deployment/"+want], "a Deployment named %s", want)
		assert.True(t, kinds["Service/"+want], "a Service named %s", want)
	}
	require.NotNil(t, secret)
	data, _, _ := unstructured.NestedStringMap(secret.Object, "stringData")
	if len(data) == 0 {
		data, _, _ = unstructured.NestedStringMap(secret.Object, "data")
		assert.Contains(t, data, "admin-token")
	} else {
		assert.Equal(t, "tok", data["admin-token"])
	}
}

func TestKubernetesHints(t *testing.T) {
	var b strings.Builder
	s := newKubernetesStack(nil)
	s.Hints(&b, stack.Endpoints{JWTKeyFile: "/run/jwt.key"})
	assert.NotContains(t, b.String(), "token:", "runUp prints the token command, as the lab's auth provider makes it")
	assert.Contains(t, b.String(), "kubectl -n chaoslab logs deployment/<service>")
	assert.Contains(t, b.String(), "port-forwards above live as long as a chaoslab command runs")
}

// TestKubernetesStatus runs `chaoslab status -stack kubernetes` against a
// real API server, through a kubeconfig file: a table per Deployment of
// the lab, exit 4 until every one is ready.
func TestKubernetesStatus(t *testing.T) {
	srv := apiservertest.New(t, apiservertest.Options{})
	kube := k8s.NewForConfigOrDie(srv.Config())
	ctx := t.Context()
	ns := "status"
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	runDir := t.TempDir()
	st := kubernetes.State{StartedAt: time.Now(), Lab: "notes", Namespace: ns, Access: kubernetes.AccessPortForward}
	b, err := json.Marshal(st)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(runDir, "state.json"), b, 0o644))

	one := int32(1)
	sel := map[string]string{"app": "api"}
	d, err := kube.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Labels: map[string]string{kubernetes.LabelManagedBy: kubernetes.ManagedBy, kubernetes.LabelPartOf: "notes"},
			Annotations: map[string]string{kubernetes.AnnotationKnobs: `{"retries":"0"}`}},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: sel}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: sel},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "notes/api:1"}}},
		}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	args := []string{"status", "-stack", "kubernetes", "-kubeconfig", srv.KubeconfigPath(), "-kube-run-dir", runDir}
	env, out, errOut := testEnv(nil)
	assert.Equal(t, exitcode.Infra, Run(ctx, env, args))
	assert.Contains(t, out.String(), "DEPLOYMENT")
	assert.Regexp(t, `api\s+1\s+0\s+0\s+no: .*\s+-retries=0`, out.String())
	assert.Contains(t, errOut.String(), "1 of 1 deployments not ready")

	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	_, err = kube.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	require.NoError(t, err)
	env, out, errOut = testEnv(nil)
	assert.Equal(t, exitcode.OK, Run(ctx, env, args), errOut.String())
	assert.Regexp(t, `api\s+1\s+1\s+1\s+ready\s+-retries=0`, out.String())
	assert.Contains(t, out.String(), "lab notes in namespace status")
}

func TestKubernetesCapabilities(t *testing.T) {
	lf, err := labfile.Load(filepath.Join("..", "..", "harness", "stack", "kubernetes", "testdata", "lab.yaml"))
	require.NoError(t, err)
	c, err := newKubernetesStack(nil).Capabilities(lf)
	require.NoError(t, err)
	var kinds []string
	for _, a := range c.Can {
		kinds = append(kinds, a.Kind)
	}
	assert.Equal(t, []string{faults.KindNetwork, faults.KindProcess, faults.KindRequest, scenario.KindKnobs}, kinds)
	assert.Contains(t, c.Why[faults.KindContainer], "use -stack compose")
	assert.Contains(t, c.Refused[scenario.KindKnobs]["store"], "no compose.knob_env_prefix", "store's knobs cannot be environment variables")
	assert.NotContains(t, c.Refused[scenario.KindKnobs], "api", "api's can")
}
