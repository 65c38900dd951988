package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	"github.com/chaoslab/chaoslab/harness/stack/kubernetes/manifests"
)

// TestManifests writes the shop's tree and builds what it wrote with
// kustomize: the top kustomization applies the overlay -telemetry chose,
// and the runners get what they fetch the load's token from the issuer
// with (the shop's provider is client-credentials): the issuer's Service
// and the Secret's key, the one the issuer gets.
func TestManifests(t *testing.T) {
	shop, err := filepath.Abs(filepath.Join("..", "..", "labs", "shop", "lab.yaml"))
	require.NoError(t, err)
	for _, tc := range []struct {
		telemetry   string
		wantJaeger  bool
		wantOverlay string
	}{
		{"own", true, "overlays/lab"},
		{"external", false, "overlays/external-telemetry"},
	} {
		t.Run(tc.telemetry, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "k8s")
			env, out, errOut := testEnv(nil)
			code := Run(t.Context(), env, []string{"manifests", "-lab", shop, "-o", dir, "-namespace", "chaos", "-parallelism", "4", "-image-tag", "v1", "-telemetry", tc.telemetry, "-otlp-grpc", "otel.obs:4317"})
			require.Equal(t, exitcode.OK, code, errOut.String())
			assert.Contains(t, out.String(), "wrote "+filepath.Join(dir, "base", "kustomization.yaml")+"\n")
			assert.Contains(t, out.String(), "apply:  kubectl apply -k "+dir)
			top, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
			require.NoError(t, err)
			assert.Contains(t, string(top), "- "+tc.wantOverlay+"\n")

			objs, err := manifests.Build(filesys.MakeFsOnDisk(), dir)
			require.NoError(t, err)
			var sawJaeger bool
			var secret map[string]any
			var testRun string
			for _, o := range objs {
				if o.GetKind() != "Namespace" {
					assert.Equal(t, "chaos", o.GetNamespace(), "%s/%s", o.GetKind(), o.GetName())
				}
				switch {
				case o.GetKind() == "Deployment" && o.GetName() == "jaeger":
					sawJaeger = true
				case o.GetKind() == "Deployment" && o.GetName() == "orders":
					assert.Contains(t, mustYAML(t, o.Object), "image: chaoslab/orders:v1")
				case o.GetKind() == "TestRun":
					testRun = mustYAML(t, o.Object)
					assert.Contains(t, testRun, "parallelism: 4")
				case o.GetKind() == "ConfigMap" && o.GetName() == "chaos-telemetry" && !tc.wantJaeger:
					assert.Contains(t, mustYAML(t, o.Object), "otlp-grpc: otel.obs:4317")
				case o.GetKind() == "Secret":
					secret = o.Object["stringData"].(map[string]any)
				}
			}
			assert.Equal(t, tc.wantJaeger, sawJaeger)
			require.NotNil(t, secret)
			assert.Len(t, secret["admin-token"], 64)
			assert.Len(t, secret["jwt-key"], 64, "the client's secret")
			assert.Empty(t, secret["load-token"], "the runners fetch it")
			assert.Contains(t, testRun, "- name: TOKEN_URL\n      value: http://issuer:8090/oauth2/token\n")
			assert.Contains(t, testRun, "- name: CLIENT_SECRET\n      valueFrom:\n        secretKeyRef:\n          key: jwt-key\n")
			info, err := os.Stat(filepath.Join(dir, "base", "secrets.yaml"))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
		})
	}
}

func TestManifestsRejects(t *testing.T) {
	shop, err := filepath.Abs(filepath.Join("..", "..", "labs", "shop", "lab.yaml"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"telemetry", []string{"-telemetry", "theirs"}, `telemetry "theirs": want own or external`},
		{"parallelism zero", []string{"-parallelism", "0"}, "-parallelism 0"},
		{"parallelism negative", []string{"-parallelism", "-2"}, "parallelism -2"},
		{"namespace", []string{"-namespace", "No_Such"}, "not a DNS label"},
		{"load script", []string{"-load-script", "missing.js"}, `load script "missing.js"`},
		{"prometheus URL", []string{"-telemetry", "external", "-prometheus-url", "prom:9090"}, "want http:// or https://"},
		{"arguments", []string{"extra"}, "unexpected arguments"},
		{"flag", []string{"-nope"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, out, errOut := testEnv(nil)
			args := append([]string{"manifests", "-lab", shop, "-o", t.TempDir()}, tc.args...)
			code := Run(t.Context(), env, args)
			assert.Equal(t, exitcode.Usage, code)
			assert.Contains(t, errOut.String(), tc.want)
			assert.NotContains(t, out.String(), "wrote")
		})
	}
	env, _, errOut := testEnv(nil)
	assert.Equal(t, exitcode.Usage, Run(t.Context(), env, []string{"manifests", "-lab", filepath.Join(t.TempDir(), "none.yaml")}))
	assert.Contains(t, errOut.String(), "-lab")
}

func TestManifestsHelp(t *testing.T) {
	env, _, errOut := testEnv(nil)
	assert.Equal(t, exitcode.OK, Run(t.Context(), env, []string{"manifests", "-help"}))
	for _, want := range []string{"kubectl apply -k DIR", "overlays/external-telemetry", "TestRun", "-parallelism", "-telemetry"} {
		assert.True(t, strings.Contains(errOut.String(), want), "help mentions %q", want)
	}
}

func mustYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
