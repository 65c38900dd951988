package scenario

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		s, err := Parse("example", []byte(block), WithScriptCheck(libraryScripts))
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
