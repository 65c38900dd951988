//go:build tools

package local

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The generated Prometheus config is accepted by the real promtool.
func TestPrometheusConfigPassesPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		promtool = filepath.Join("..", "..", "..", ".tools", "bin", "promtool")
	}
	_, err = os.Stat(promtool)
	require.NoError(t, err, "promtool is needed (make tools, or apt-get install prometheus)")
	dir := t.TempDir()
	rules := filepath.Join(dir, "slo.yml")
	require.NoError(t, os.WriteFile(rules, []byte("groups: []\n"), 0o644))
	path := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(path, []byte(prometheusConfig(testLab(t), PortsFor(testLab(t), 0), time.Second, []string{rules})), 0o644))
	out, err := exec.Command(promtool, "check", "config", path).CombinedOutput()
	require.NoError(t, err, string(out))
}
