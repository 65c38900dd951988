package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/stack"
)

// The scripts get the lab's load.env and, with client-credentials, what
// they need to fetch their own tokens.
func TestScriptEnv(t *testing.T) {
	const base = `name: web
services:
  web:
    protocol: http
    ports: {public: 7080}
    local: {command: ./web}
    ready: {http: {port: public, path: /healthz}}
edges:
  client->web: {proxy_port: 7000}
load:
  scripts: k6
  env: {SKU: sku-1}
`
	for _, tt := range []struct {
		name, auth string
		want       map[string]string
	}{
		{"load.env only", "", map[string]string{"SKU": "sku-1"}},
		{"client-credentials", `  auth: {provider: client-credentials, token_url: 'http://{{.Addr "web" "public"}}/oauth2/token', client_id: lab}` + "\n",
			map[string]string{"SKU": "sku-1", "TOKEN_URL": "http://127.0.0.1:7080/oauth2/token", "CLIENT_ID": "lab", "CLIENT_SECRET": "s3cret"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lf, err := labfile.Parse(filepath.Join(t.TempDir(), "lab.yaml"), []byte(base+tt.auth))
			require.NoError(t, err)
			runDir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(runDir, "client.secret"), []byte("s3cret\n"), 0o600))
			env, err := scriptEnv(lf, runDir, harnessVars(lf, stack.Endpoints{}, runDir))
			require.NoError(t, err)
			assert.Equal(t, tt.want, env)
		})
	}
}
