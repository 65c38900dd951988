package faults_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The dependency runs one way: the harness imports the fault model, and
// the fault model imports nothing of the harness (it defines the small
// interfaces it needs of a lab in Env). Its tests may use the harness.
func TestFaultsImportsNoHarness(t *testing.T) {
	const harness = "github.com/chaoslab/chaoslab/harness"
	// go test puts its own go first on PATH.
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", "-f", "{{.ImportPath}}", "github.com/chaoslab/chaoslab/faults").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 || deps[len(deps)-1] != "github.com/chaoslab/chaoslab/faults" {
		t.Fatalf("go list -deps did not list package faults last: %q", deps)
	}
	for _, d := range deps {
		if d == harness || strings.HasPrefix(d, harness+"/") {
			t.Errorf("package faults depends on %s: define what faults needs as an interface in faults (see Env) and adapt to it in the harness", d)
		}
	}
}
