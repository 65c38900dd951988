package kubernetes

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/chaoslab/chaoslab/harness/lab"
)

func testLab(t *testing.T) *lab.Lab {
	t.Helper()
	l, err := lab.Load(filepath.Join("testdata", "lab.yaml"))
	require.NoError(t, err)
	return l
}

func deploymentWithEnv(env ...corev1.EnvVar) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "sidecar"}, {Name: "api", Env: env}},
		}}},
	}
}

func TestSetKnobs(t *testing.T) {
	names := map[string]string{"retries": "API_RETRIES", "call-timeout": "API_CALL_TIMEOUT"}
	listen := corev1.EnvVar{Name: "API_LISTEN", Value: "0.0.0.0:7080"}
	tests := []struct {
		name string
		env  []corev1.EnvVar
		// steps: the flags of each Restart in turn
		steps   []map[string]string
		wantEnv []corev1.EnvVar
		knobs   map[string]string
	}{
		{
			name:    "knobs are added after the lab's variables",
			env:     []corev1.EnvVar{listen},
			steps:   []map[string]string{{"retries": "0"}},
			wantEnv: []corev1.EnvVar{listen, {Name: "API_RETRIES", Value: "0"}},
			knobs:   map[string]string{"retries": "0"},
		},
		{
			name:    "defaults remove what the knobs added",
			env:     []corev1.EnvVar{listen},
			steps:   []map[string]string{{"retries": "0", "call-timeout": "5ms"}, nil},
			wantEnv: []corev1.EnvVar{listen},
		},
		{
			name:    "defaults restore a variable the lab itself set",
			env:     []corev1.EnvVar{listen, {Name: "API_RETRIES", Value: "4"}},
			steps:   []map[string]string{{"retries": "0"}, nil},
			wantEnv: []corev1.EnvVar{listen, {Name: "API_RETRIES", Value: "4"}},
		},
		{
			name: "new knobs replace the old ones, and the first base is kept",
			env:  []corev1.EnvVar{listen, {Name: "API_RETRIES", Value: "4"}},
			steps: []map[string]string{
				{"retries": "0"},
				{"call-timeout": "5ms"},
			},
			wantEnv: []corev1.EnvVar{listen, {Name: "API_RETRIES", Value: "4"}, {Name: "API_CALL_TIMEOUT", Value: "5ms"}},
			knobs:   map[string]string{"call-timeout": "5ms"},
		},
		{
			name: "changes then defaults give back the lab's environment",
			env:  []corev1.EnvVar{listen, {Name: "API_RETRIES", Value: "4"}},
			steps: []map[string]string{
				{"retries": "0"},
				{"call-timeout": "5ms", "retries": "1"},
				nil,
			},
			wantEnv: []corev1.EnvVar{listen, {Name: "API_RETRIES", Value: "4"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := deploymentWithEnv(tt.env...)
			for _, flags := range tt.steps {
				require.NoError(t, setKnobs(d, "api", flags, names))
			}
			assert.Equal(t, tt.wantEnv, d.Spec.Template.Spec.Containers[1].Env)
			assert.Empty(t, d.Spec.Template.Spec.Containers[0].Env, "the other container is left alone")
			knobs, base := knobsOf(d)
			assert.Equal(t, tt.knobs, knobs)
			if tt.knobs == nil {
				assert.Nil(t, base)
				assert.NotContains(t, d.Annotations, AnnotationKnobBase)
			}
		})
	}
}

func TestSetKnobsNeedsTheServicesContainer(t *testing.T) {
	d := deploymentWithEnv()
	err := setKnobs(d, "store", map[string]string{"x": "1"}, map[string]string{"x": "STORE_X"})
	assert.ErrorContains(t, err, "none is named store")
}

func TestPauseResume(t *testing.T) {
	three := int32(3)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api"}, Spec: appsv1.DeploymentSpec{Replicas: &three}}

	changed, err := resume(d)
	require.NoError(t, err)
	assert.False(t, changed, "resuming what is not paused changes nothing")

	changed, err = pause(d)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, int32(0), *d.Spec.Replicas)
	assert.Equal(t, "3", d.Annotations[AnnotationPausedReplicas])

	changed, err = pause(d)
	require.NoError(t, err)
	assert.False(t, changed, "pausing again keeps the replicas recorded the first time")
	assert.Equal(t, "3", d.Annotations[AnnotationPausedReplicas])

	changed, err = resume(d)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, int32(3), *d.Spec.Replicas)
	assert.NotContains(t, d.Annotations, AnnotationPausedReplicas)

	d.Annotations = map[string]string{AnnotationPausedReplicas: "many"}
	_, err = resume(d)
	assert.ErrorContains(t, err, "not a number of replicas")
}

func TestRolledOut(t *testing.T) {
	two := int32(2)
	tests := []struct {
		name   string
		gen    int64
		status appsv1.DeploymentStatus
		ok     bool
		why    string
	}{
		{"complete", 2, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}, true, ""},
		{"not observed", 3, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}, false, "not seen its latest spec"},
		{"updating", 2, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 1, AvailableReplicas: 2}, false, "1 of 2 replicas updated"},
		{"old pods left", 2, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 2, AvailableReplicas: 2}, false, "1 old replicas"},
		{"not available", 2, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 1}, false, "1 of 2 replicas available"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: tt.gen}, Spec: appsv1.DeploymentSpec{Replicas: &two}, Status: tt.status}
			ok, why := rolledOut(d)
			assert.Equal(t, tt.ok, ok)
			if tt.why != "" {
				assert.Contains(t, why, tt.why)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	l := testLab(t)
	t.Run("port-forward", func(t *testing.T) {
		e, fws := plan(l, "lab1", AccessPortForward, 500, "/run/jwt.key", nil)
		assert.Equal(t, "http://127.0.0.1:7500", e.GatewayURL, "the entry proxy, forwarded at its planned port + offset")
		assert.Equal(t, "http://127.0.0.1:7974", e.ToxiproxyURL)
		assert.Equal(t, "http://127.0.0.1:8400", e.PrometheusURL)
		assert.Equal(t, "127.0.0.1:8185", e.JaegerQueryGRPC)
		assert.Equal(t, "http://127.0.0.1:7591/faults", e.Services["store"].AdminURL+"/faults", "the admin API, forwarded to the pod")
		assert.Equal(t, "http://127.0.0.1:7581/ready", e.Services["api"].ReadyURL)
		assert.Equal(t, 500, e.PortOffset)
		assert.Equal(t, "0.0.0.0:7010", e.Edges["api->store"].Listen, "proxies listen in Toxiproxy's pod")
		assert.Equal(t, "store:7090", e.Edges["api->store"].Upstream, "and reach the callee's Service")
		assert.Contains(t, fws, Forward{Local: "127.0.0.1:7591", Service: "store", Port: 7091, PortName: "admin"})
		assert.Contains(t, fws, Forward{Local: "127.0.0.1:7500", Service: "toxiproxy", Port: 7000, PortName: "proxy client->api"})
		assert.Contains(t, fws, Forward{Local: "127.0.0.1:7974", Service: "toxiproxy", Port: 7474, PortName: "api"})
		assert.NotContains(t, fws, Forward{Local: "127.0.0.1:7510", Service: "toxiproxy", Port: 7010, PortName: "proxy api->store"}, "an inner edge's proxy is for the services only")
		local := map[string]bool{}
		for _, f := range fws {
			assert.False(t, local[f.Local], "%s forwarded twice", f.Local)
			local[f.Local] = true
		}
	})
	t.Run("in-cluster", func(t *testing.T) {
		// Prometheus's Service has port 9090 named http, not the lab's 7900.
		prom := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "prometheus"},
			"spec": map[string]any{"ports": []any{map[string]any{"name": "http", "port": int64(9090)}}},
		}}
		e, fws := plan(l, "lab1", AccessInCluster, 500, "/run/jwt.key", servicePorts([]*unstructured.Unstructured{prom}))
		assert.Empty(t, fws)
		assert.Equal(t, "http://toxiproxy.lab1.svc:7000", e.GatewayURL)
		assert.Equal(t, "http://toxiproxy.lab1.svc:7474", e.ToxiproxyURL)
		assert.Equal(t, "http://prometheus.lab1.svc:9090", e.PrometheusURL, "the Service's port of that name")
		assert.Equal(t, "jaeger.lab1.svc:7685", e.JaegerQueryGRPC)
		assert.Equal(t, "http://store.lab1.svc:7091", e.Services["store"].AdminURL)
		assert.Equal(t, "http://api.lab1.svc:7081/ready", e.Services["api"].ReadyURL)
		assert.Equal(t, "0.0.0.0:7099", e.HarnessMetricsAddr)
	})
}

func TestPodFor(t *testing.T) {
	ready := func(name string, lbls map[string]string, ports ...corev1.ContainerPort) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: lbls},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: ports}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		}
	}
	sel := map[string]string{"app": "x"}
	notReady := ready("a-starting", sel)
	notReady.Status.Conditions = nil
	kube := fake.NewClientset(
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns"}, Spec: corev1.ServiceSpec{Selector: sel, Ports: []corev1.ServicePort{
			{Name: "public", Port: 7080, TargetPort: intstr.FromString("web")},
			{Name: "http", Port: 9090, TargetPort: intstr.FromInt32(9091)},
			{Name: "plain", Port: 7070},
		}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "empty", Namespace: "ns"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "none"}}},
		notReady,
		ready("b-ready", sel, corev1.ContainerPort{Name: "web", ContainerPort: 8080}),
	)
	c := &clients{kube: kube}
	tests := []struct {
		name     string
		service  string
		port     int
		portName string
		wantPort int
		wantErr  string
	}{
		{name: "the Service's port, its target named", service: "x", port: 7080, wantPort: 8080},
		{name: "by name when the number is not the Service's", service: "x", port: 7900, portName: "http", wantPort: 9091},
		{name: "a port without target port", service: "x", port: 7070, wantPort: 7070},
		{name: "a port on no Service goes to the pod's", service: "x", port: 7091, portName: "admin", wantPort: 7091},
		{name: "no ready pod", service: "empty", port: 1, wantErr: "none of its 0 pods is ready"},
		{name: "no Service", service: "nope", port: 1, wantErr: `services "nope" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod, port, err := podFor(t.Context(), c, "ns", tt.service, tt.port, tt.portName)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "b-ready", pod, "the ready pod")
			assert.Equal(t, tt.wantPort, port)
		})
	}
}
