package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/exitcode"
)

func TestListShowsTheLibrary(t *testing.T) {
	loadtests := t.TempDir()
	for _, f := range []string{"checkout.js", "products.js", "checkout-fresh-token.js"} {
		require.NoError(t, os.WriteFile(filepath.Join(loadtests, f), nil, 0o644))
	}
	env, out, errOut := testEnv(nil)
	code := Run(t.Context(), env, []string{"list", "-loadtests", loadtests, "-slos", librarySLOs, "-lab", libraryLab, "-scenarios", filepath.Join("..", "..", "scenarios")})
	require.Equal(t, exitcode.OK, code, errOut.String())
	assert.Contains(t, out.String(), "latency-payments")
	assert.Contains(t, out.String(), "network orders->payments")
	assert.Regexp(t, `\d+ scenarios, `, out.String())

	env, _, errOut = testEnv(nil)
	code = Run(t.Context(), env, []string{"list", "-loadtests", loadtests, "-slos", librarySLOs, "-lab", libraryLab, "-scenarios", filepath.Join("..", "..", "scenarios"), "-scenario", "nope"})
	assert.Equal(t, exitcode.Usage, code)
	assert.Contains(t, errOut.String(), `no scenario named "nope"`)
}
