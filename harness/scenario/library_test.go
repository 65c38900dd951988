package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/slodef"
)

// libraryDir is the scenario library, from this package's directory.
const libraryDir = "../../scenarios"

// libraryScripts accepts the k6 scripts the library uses.
func libraryScripts(script string) error {
	if script == "checkout.js" || script == "products.js" || script == "checkout-fresh-token.js" {
		return nil
	}
	return os.ErrNotExist
}

// TestLibrary checks the scenario library: every file is valid, starts
// with its purpose, and what runs on each stack fits the time budget of
// `make chaos` (seven minutes on the local lab, lab overhead included; a
// little more on compose, which also runs the compose-only scenarios).
func TestLibrary(t *testing.T) {
	slos, err := slodef.Load("../../slo/slos.yaml")
	require.NoError(t, err)
	scenarios, err := LoadDir(libraryDir, WithLab(shopLab(t)), WithScriptCheck(libraryScripts), WithSLOCheck(func(name string) error {
		_, err := slos.SLO(name)
		return err
	}))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(scenarios), 10)

	total := map[string]time.Duration{}
	expects := map[Expect]int{}
	for _, s := range scenarios {
		t.Run(s.Name, func(t *testing.T) {
			data, err := os.ReadFile(s.File)
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(string(data), "# Purpose: "), "%s must start with a # Purpose: comment", s.File)
			assert.NotEmpty(t, s.Purpose)
			assert.Equal(t, strings.TrimSuffix(filepath.Base(s.File), ".yaml"), s.Name)
			assert.Positive(t, s.Checks.Count())
			assert.LessOrEqual(t, s.Duration(), 40*time.Second, "keep each scenario short")
		})
		for _, stack := range s.Stacks {
			total[stack] += s.Duration()
		}
		expects[s.Expect]++
	}
	assert.GreaterOrEqual(t, expects[ExpectFail], 2, "scenarios that expect the gate to fail")
	assert.Positive(t, total[StackLocal])
	// With about 2 s of harness per scenario (docs/ci.md), 8¾ minutes of
	// phases keep make chaos near 9½ minutes (the event path's five
	// scenarios added 94 s to the 5½ minutes before them; the replicas'
	// four, replica-kill, replica-latency, replica-pause and
	// registry-down, 115 s).
	assert.LessOrEqual(t, total[StackLocal], 525*time.Second, "the phases run on the local lab")
	assert.LessOrEqual(t, total[StackCompose], 570*time.Second, "the phases run on the compose lab")
}
