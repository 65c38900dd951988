package scenario

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// update rewrites the golden files: go test ./harness/scenario -run Golden -update
var update = flag.Bool("update", false, "rewrite the golden files of the bad scenarios")

// TestGolden checks the exact errors of each bad scenario in testdata/bad,
// against the tests' lab, with its .golden file.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, err := Load(file, WithScriptCheck(ScriptsIn("testdata/loadtests")), WithLab(testLab(t)))
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run with -update to write it")
			assert.Equal(t, string(want), got)
		})
	}
}
