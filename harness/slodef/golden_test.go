package slodef

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// update rewrites the golden files: go test ./harness/slodef -run Golden -update
var update = flag.Bool("update", false, "rewrite the golden rule files in testdata/golden")

// TestGolden generates the rules of testdata/slos.yaml — every form of SLI —
// and compares them with testdata/golden.
func TestGolden(t *testing.T) {
	set, err := Load(filepath.Join("testdata", "slos.yaml"))
	require.NoError(t, err)
	files, err := set.Files()
	require.NoError(t, err)
	require.Len(t, files, 2)
	for name, got := range files {
		t.Run(name, func(t *testing.T) {
			golden := filepath.Join("testdata", "golden", name)
			if *update {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run with -update to write it")
			assert.Equal(t, string(want), string(got))
		})
	}
}

// TestDeterministic generates the rules of the same definitions, given in
// another order, several times: the bytes are the same.
func TestDeterministic(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "slos.yaml"))
	require.NoError(t, err)
	first, err := Parse("slos.yaml", data)
	require.NoError(t, err)
	want, err := first.Files()
	require.NoError(t, err)

	reversed, err := Parse("slos.yaml", data)
	require.NoError(t, err)
	for i, j := 0, len(reversed.SLOs)-1; i < j; i, j = i+1, j-1 {
		reversed.SLOs[i], reversed.SLOs[j] = reversed.SLOs[j], reversed.SLOs[i]
	}
	require.NotEqual(t, first.SLOs[0].Name, reversed.SLOs[0].Name)
	got, err := reversed.Files()
	require.NoError(t, err)
	assert.Equal(t, want, got, "a set in another order")
	for range 5 {
		again, err := Parse("slos.yaml", data)
		require.NoError(t, err)
		got, err := again.Files()
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	assert.Equal(t, []string{"alpha-bad", "beta-good", "zeta-queries"}, first.Names())
}
