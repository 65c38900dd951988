package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/exitcode"
)

// libraryLab is the shop's lab file, which the library's scenarios are
// checked against.
var libraryLab = filepath.Join("..", "..", "labs", "shop", "lab.yaml")

// otherLab writes a valid lab file whose one service, echo, is not the
// shop's, and returns its path.
func otherLab(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "k6"), 0o755))
	p := filepath.Join(dir, "lab.yaml")
	require.NoError(t, os.WriteFile(p, []byte(`name: other
services:
  echo:
    protocol: http
    ports: {public: 7080}
    local: {command: ./echo}
    ready: {http: {port: public, path: /healthz}}
edges:
  client->echo: {proxy_port: 7000}
load:
  scripts: k6
`), 0o600))
	return p
}

// TestLabFlag checks -lab on every command that checks scenarios: the
// scenarios are checked against the lab it names, and an invalid lab file
// is a usage error (exit 2) with its problems at file:line:col.
func TestLabFlag(t *testing.T) {
	scenarios := filepath.Join("..", "..", "scenarios")
	latency := filepath.Join(scenarios, "latency-payments.yaml")
	bad := filepath.Join(t.TempDir(), "lab.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("name: Bad Name\n"), 0o600))
	other := otherLab(t)
	suite := func(cmd string) []string {
		return []string{cmd, "-loadtests", filepath.Join("..", "..", "loadtests"), "-slos", librarySLOs}
	}
	tests := []struct {
		name     string
		args     []string
		wantCode exitcode.Code
		wantErr  []string
	}{
		{name: "validate: the shop's lab", args: append(suite("validate"), "-lab", libraryLab, latency), wantCode: exitcode.OK},
		{name: "validate: another lab refuses the shop's edges", args: append(suite("validate"), "-lab", other, latency), wantCode: exitcode.Usage,
			wantErr: []string{latency + ":", `network.edge: unknown edge "orders->payments"; allowed: client->echo`}},
		{name: "validate: an invalid lab file", args: append(suite("validate"), "-lab", bad, latency), wantCode: exitcode.Usage,
			wantErr: []string{"invalid lab file " + bad, bad + ":1:7: name: "}},
		{name: "validate: a missing lab file", args: append(suite("validate"), "-lab", "nope.yaml", latency), wantCode: exitcode.Usage,
			wantErr: []string{"-lab: reading lab file: open nope.yaml"}},
		{name: "list: the shop's lab", args: append(suite("list"), "-lab", libraryLab, latency), wantCode: exitcode.OK},
		{name: "list: another lab", args: append(suite("list"), "-lab", other, latency), wantCode: exitcode.Usage,
			wantErr: []string{"invalid scenarios, nothing was run", `unknown edge "orders->payments"; allowed: client->echo`}},
		{name: "list: an invalid lab file", args: append(suite("list"), "-lab", bad, latency), wantCode: exitcode.Usage,
			wantErr: []string{bad + ":1:7: name: "}},
		{name: "run: an invalid lab file", args: append(suite("run"), "-lab", bad, latency), wantCode: exitcode.Usage,
			wantErr: []string{bad + ":1:7: name: "}},
		{name: "chaos: an invalid lab file, before anything starts", args: append(suite("chaos"), "-lab", bad, latency), wantCode: exitcode.Usage,
			wantErr: []string{bad + ":1:7: name: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _, errOut := testEnv(nil)
			code := Run(t.Context(), env, tt.args)
			assert.Equal(t, tt.wantCode, code, errOut.String())
			for _, w := range tt.wantErr {
				assert.Contains(t, errOut.String(), w)
			}
			if tt.wantCode == exitcode.OK {
				assert.Empty(t, strings.TrimSpace(errOut.String()))
			}
		})
	}
}

// TestLabFlagDefault checks that -lab defaults to the shop's lab file, the
// path README's commands run from the repository's root with.
func TestLabFlagDefault(t *testing.T) {
	assert.Equal(t, "labs/shop/lab.yaml", filepath.ToSlash(defaultLabFile))
	_, err := os.Stat(filepath.Join("..", "..", defaultLabFile))
	require.NoError(t, err)
}
