package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/exitcode"
)

// TestComposeFileCommitted runs `chaoslab compose-file -check` as make
// compose-file-check does, from the repository's root with the defaults:
// the committed files are what compose-file writes.
func TestComposeFileCommitted(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	env, out, errOut := testEnv(nil)
	code := Run(t.Context(), env, []string{"compose-file", "-check"})
	require.Equal(t, exitcode.OK, code, errOut.String())
	assert.Equal(t, "ok  docker-compose.yml\nok  compose/prometheus.yml\nok  compose/toxiproxy.json\nok  compose/jaeger.yaml\n", out.String())
}

func TestComposeFileGenerateAndCheck(t *testing.T) {
	shop, err := filepath.Abs(filepath.Join("..", "..", "labs", "shop", "lab.yaml"))
	require.NoError(t, err)
	dir := t.TempDir()
	compose := filepath.Join(dir, "docker-compose.yml")
	run := func(args ...string) (exitcode.Code, string, string) {
		env, out, errOut := testEnv(nil)
		code := Run(t.Context(), env, append([]string{"compose-file", "-lab", shop, "-o", dir}, args...))
		return code, out.String(), errOut.String()
	}

	tests := []struct {
		name     string
		prepare  func(t *testing.T)
		args     []string
		wantCode exitcode.Code
		wantOut  string
		wantErr  string
	}{
		{name: "check before generate", args: []string{"-check"}, wantCode: exitcode.CheckFailed,
			wantErr: compose + ": missing\n"},
		{name: "generate", wantCode: exitcode.OK,
			wantOut: "wrote " + compose + "\nwrote " + filepath.Join(dir, "compose", "prometheus.yml") + "\nwrote " +
				filepath.Join(dir, "compose", "toxiproxy.json") + "\nwrote " + filepath.Join(dir, "compose", "jaeger.yaml") + "\n"},
		{name: "check after generate", args: []string{"-check"}, wantCode: exitcode.OK, wantOut: "ok  " + compose + "\n"},
		{name: "check after an edit", args: []string{"-check"}, wantCode: exitcode.CheckFailed,
			prepare: func(t *testing.T) {
				b, err := os.ReadFile(compose)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(compose, append([]byte("# edited\n"), b...), 0o644))
			},
			wantErr: compose + ":1: differs from what compose-file writes from " + shop + "\n"},
		{name: "a load script that is not there", args: []string{"-load-script", "nope.js"}, wantCode: exitcode.Usage,
			wantErr: "-load-script: "},
		{name: "stray arguments", args: []string{"extra"}, wantCode: exitcode.Usage, wantErr: `unexpected arguments ["extra"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.prepare != nil {
				tt.prepare(t)
			}
			code, out, errOut := run(tt.args...)
			assert.Equal(t, tt.wantCode, code, errOut)
			assert.Contains(t, out, tt.wantOut)
			assert.Contains(t, errOut, tt.wantErr)
		})
	}
}
