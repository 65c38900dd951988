package local

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/stack"
)

// TestShopLabFileRendersServiceArgs checks the shop's lab file
// (labs/shop/lab.yaml) against this package's constants until the local lab
// reads it (issue 11): every service's local command and args, rendered for
// a port plan, are exactly what Up runs (locateBinaries, serviceArgs), and
// its readiness URL is the one Up waits for.
func TestShopLabFileRendersServiceArgs(t *testing.T) {
	l, err := lab.Load("../../../labs/shop/lab.yaml", lab.WithBuiltins(lab.Builtins{
		Invariants: scenario.Invariants(), Settle: []string{"no_pending_orders"}}))
	require.NoError(t, err)
	const runDir, binDir = "/abs/run/lab", "bin"
	for _, offset := range []int{0, 7} {
		ports := DefaultPorts(offset)
		// Up: keyFile := filepath.Join(runDir, "jwt.key"); the lab's auth key file is relative to the run dir.
		keyFile := filepath.Join(runDir, "jwt.key")
		require.Equal(t, keyFile, filepath.Join(runDir, l.Load.Auth.KeyFile))
		p := l.LocalPlacement(offset, runDir, binDir, l.Load.Auth.AuthVars(keyFile, "the key"))
		endpoints := EndpointsFor(ports, keyFile)
		assert.Equal(t, stack.Services(), l.StartOrder())
		for _, svc := range stack.Services() {
			got, err := l.RenderLocal(svc, 0, p)
			require.NoError(t, err)
			assert.Equal(t, filepath.Join(binDir, svc), got.Command, "%s: locateBinaries", svc)
			assert.Equal(t, serviceArgs(svc, ports, runDir, keyFile), got.Args, "%s at offset %d: serviceArgs", svc, offset)
			assert.Empty(t, got.Env, "%s: Up gives the services no environment", svc)

			s, _ := l.Service(svc)
			v, err := l.Vars(svc, 0, p)
			require.NoError(t, err)
			assert.Equal(t, endpoints.Services[svc].MetricsURL+"/readyz", "http://"+v.Listen[s.Ready.HTTP.Port]+s.Ready.HTTP.Path, "%s: the readiness URL", svc)

			// Restart appends "-flag=value" for each knob, sorted by flag.
			args, err := l.KnobArgs(svc, map[string]string{"max-inflight": "7"})
			require.NoError(t, err)
			assert.Equal(t, []string{"-max-inflight=7"}, args)
		}
	}
}
