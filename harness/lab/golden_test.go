package lab

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/diag"
)

// update rewrites the golden files: go test ./harness/lab -run Golden -update
var update = flag.Bool("update", false, "rewrite the golden files of the bad labs")

// testBuiltins are the built-in checkers the test fixtures may name.
var testBuiltins = WithBuiltins(Builtins{Invariants: []string{"no_lost_orders"}, Settle: []string{"no_pending_orders"}})

// TestGolden checks the exact problems of each bad lab in testdata/bad
// against its .golden file: all of them at once, each positioned.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			_, err = Parse(file, data, testBuiltins)
			var verr *diag.ValidationError
			require.ErrorAs(t, err, &verr)
			for _, p := range verr.Problems {
				assert.Regexp(t, `^testdata/bad/[a-z-]+\.yaml:\d+:\d+: `, p.String())
			}
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

// TestGood loads each good lab in testdata/good (files included: its
// scripts' directory and SLOs are there).
func TestGood(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			l, err := Parse(file, data, testBuiltins)
			require.NoError(t, err)
			assert.NotEmpty(t, l.Services)
		})
	}
}
