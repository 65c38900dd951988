package apiservertest_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/chaoslab/chaoslab/harness/stack/kubernetes/apiservertest"
)

// TestServer starts the real etcd and kube-apiserver, lists the
// namespaces, creates one, and checks that both credentials work and that
// a client without them is refused.
func TestServer(t *testing.T) {
	srv := apiservertest.New(t, apiservertest.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	for name, cfg := range map[string]*rest.Config{"client certificate": srv.Config(), "bearer token": srv.TokenConfig()} {
		t.Run(name, func(t *testing.T) {
			cs, err := kubernetes.NewForConfig(cfg)
			require.NoError(t, err)
			list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
			require.NoError(t, err)
			var names []string
			for _, ns := range list.Items {
				names = append(names, ns.Name)
			}
			assert.Contains(t, names, "default")
			assert.Contains(t, names, "kube-system")
		})
	}

	cs := kubernetes.NewForConfigOrDie(srv.Config())
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "lab"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.True(t, slices.ContainsFunc(list.Items, func(ns corev1.Namespace) bool { return ns.Name == "lab" }))

	anon := &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: srv.Config().CAData}}
	_, err = kubernetes.NewForConfigOrDie(anon).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err), "anonymous list: %v", err)

	kc, err := os.ReadFile(srv.KubeconfigPath())
	require.NoError(t, err)
	assert.Contains(t, string(kc), srv.URL)
}

// TestStartWithoutBinaries names the make target that builds them.
func TestStartWithoutBinaries(t *testing.T) {
	_, err := apiservertest.Start(t.Context(), apiservertest.Options{ToolsDir: filepath.Join(t.TempDir(), "none")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "make tools-kube")
}

// TestStop stops both processes and removes the directory Start made.
func TestStop(t *testing.T) {
	srv, err := apiservertest.Start(t.Context(), apiservertest.Options{})
	require.NoError(t, err)
	dir := srv.Dir
	require.NoError(t, srv.Stop())
	require.NoError(t, srv.Stop(), "a second Stop")
	_, err = os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "the directory is removed: %v", err)
	hc, err := rest.HTTPClientFor(srv.Config())
	require.NoError(t, err)
	hc.Timeout = 2 * time.Second
	_, err = hc.Get(srv.URL + "/readyz")
	assert.Error(t, err, "the API server is down")
}
