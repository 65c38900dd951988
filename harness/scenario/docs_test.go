package scenario

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
)

// TestDocExamples parses every example scenario in docs/scenarios.md (the
// YAML blocks that start with "# Purpose:"), so that the documentation
// cannot drift from the format.
func TestDocExamples(t *testing.T) {
	data, err := os.ReadFile("../../docs/scenarios.md")
	require.NoError(t, err)
	blocks := strings.Split(string(data), "```yaml\n")[1:]
	examples := 0
	for _, b := range blocks {
		block, _, found := strings.Cut(b, "```")
		require.True(t, found, "unclosed yaml block in docs/scenarios.md")
		if !strings.HasPrefix(block, "# Purpose:") {
			continue
		}
		examples++
		s, err := Parse("example", []byte(block), WithScriptCheck(libraryScripts), WithLab(shopLab(t)))
		require.NoError(t, err)
		assert.NotEmpty(t, s.Purpose)
		// The full example shows every kind of check.
		assert.NotEmpty(t, s.Checks.SLO)
		assert.NotEmpty(t, s.Checks.Recovery)
		assert.NotEmpty(t, s.Checks.Traces)
		assert.NotEmpty(t, s.Checks.Invariants)
	}
	assert.Equal(t, 1, examples)
}

// TestDocContainerFaults checks that docs/scenarios.md documents every
// action of a container fault, every stack, and shows a container fault
// that parses once it says stacks: [compose].
func TestDocContainerFaults(t *testing.T) {
	data, err := os.ReadFile("../../docs/scenarios.md")
	require.NoError(t, err)
	doc := string(data)
	for _, a := range faults.ContainerActions() {
		assert.Contains(t, doc, "| `"+a+"` |", "the container action %s is not in the table", a)
	}
	for _, s := range Stacks() {
		assert.Contains(t, doc, "`"+s+"`", "the stack %s is not documented", s)
	}
	_, example, found := strings.Cut(doc, "```yaml\nstacks: [compose]\nphases:\n")
	require.True(t, found, "the container fault's example")
	phases, _, found := strings.Cut(example, "```")
	require.True(t, found)
	scenario := "name: t\npurpose: p\nexpect: pass\nstacks: [compose]\nload: {script: checkout.js, executor: constant-arrival-rate, rate: 1}\n" +
		"checks: {invariants: [no_lost_orders]}\nphases:\n" + phases
	s, err := Parse("t.yaml", []byte(scenario), WithScriptCheck(anyScript), WithLab(shopLab(t)))
	require.NoError(t, err)
	require.Len(t, s.Phases, 3)
	assert.Equal(t, "container payments disconnect", s.Phases[1].Faults[0].String())
}
