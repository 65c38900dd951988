package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	"github.com/chaoslab/chaoslab/harness/journal"
	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/stack"
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

// The harness's templates see the running lab's addresses: the lab file's
// port plan shifted by the offset the stack runs it with.
func TestHarnessVarsFollowThePortOffset(t *testing.T) {
	l, err := loadLabFile(libraryLab)
	require.NoError(t, err)
	tests := []struct {
		name       string
		offset     int
		wantOffset int
	}{
		{"the default plan", 0, 0},
		{"shifted", 100, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := stack.Endpoints{PortOffset: tt.offset, PrometheusURL: "http://127.0.0.1:9090"}
			h := harnessVars(l, e, "/run")
			addr, err := h.Addr("orders", "public")
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprintf("127.0.0.1:%d", 5051+tt.wantOffset), addr)
			assert.Equal(t, "/run", h.RunDir)
			assert.Equal(t, e.PrometheusURL, h.PrometheusURL)
		})
	}
}

// Where the stack says a service's ports answer (a remote lab's file)
// wins over the port plan, for the ports it knows; the rest follow the plan.
func TestHarnessVarsTakeTheStacksAddresses(t *testing.T) {
	l, err := loadLabFile(libraryLab)
	require.NoError(t, err)
	e := stack.Endpoints{Services: map[string]stack.Service{
		"orders": {Addr: "10.0.0.7:7001", MetricsURL: "http://10.0.0.7:7002/metrics", AdminURL: "http://10.0.0.7:7003"},
	}}
	h := harnessVars(l, e, "/run")
	tests := []struct{ service, port, want string }{
		{"orders", "public", "10.0.0.7:7001"},
		{"orders", "metrics", "10.0.0.7:7002"},
		{"orders", "admin", "10.0.0.7:7003"},
		{"payments", "public", "127.0.0.1:5053"},
	}
	for _, tt := range tests {
		t.Run(tt.service+"/"+tt.port, func(t *testing.T) {
			addr, err := h.Addr(tt.service, tt.port)
			require.NoError(t, err)
			assert.Equal(t, tt.want, addr)
		})
	}
	plain, err := harnessVars(l, stack.Endpoints{}, "/run").Addr("orders", "public")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:5051", plain, "another stack's vars are their own")
}

func TestLabChecks(t *testing.T) {
	shopLab, err := loadLabFile(libraryLab)
	require.NoError(t, err)
	other, err := loadLabFile(otherLab(t))
	require.NoError(t, err)
	e := stack.Endpoints{Services: map[string]stack.Service{}}
	for _, svc := range shopLab.Services {
		e.Services[svc.Name] = stack.Service{Addr: fmt.Sprintf("127.0.0.1:%d", svc.Port("public"))}
	}

	t.Run("the shop's lab gets the shop's builtins", func(t *testing.T) {
		set, release, err := labChecks(shopLab, e, harnessVars(shopLab, e, "/run"))
		require.NoError(t, err)
		defer release()
		got := set.Invariants(t.Context(), []string{"no_lost_orders"}, labfile.RunInput{})
		require.Len(t, got, 1)
		assert.Equal(t, journal.Inconclusive, got[0].Outcome)
		assert.Equal(t, "no order was acknowledged (201) during the run: nothing to check", got[0].Detail, "the shop's own check answered")
	})
	t.Run("a lab without builtins dials nothing", func(t *testing.T) {
		set, release, err := labChecks(other, stack.Endpoints{}, harnessVars(other, stack.Endpoints{}, "/run"))
		require.NoError(t, err)
		defer release()
		assert.False(t, set.Settle(t.Context()).Probed, "no settle probe: no wait")
	})
	t.Run("the shop's builtins need the shop's services", func(t *testing.T) {
		_, _, err := labChecks(shopLab, stack.Endpoints{}, harnessVars(shopLab, stack.Endpoints{}, "/run"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "lab shop names the shop's built-in checkers: the shop's checkers read service orders: the lab has no address for it")
	})
}

// `chaoslab up` says how to get a token the lab's services accept, as its
// auth provider makes them.
func TestTokenHint(t *testing.T) {
	shop, err := loadLabFile(libraryLab)
	require.NoError(t, err)
	none, err := loadLabFile(otherLab(t))
	require.NoError(t, err)
	hs256Path := filepath.Join(t.TempDir(), "lab.yaml")
	require.NoError(t, os.MkdirAll(filepath.Join(filepath.Dir(hs256Path), "k6"), 0o755))
	require.NoError(t, os.WriteFile(hs256Path, []byte(`name: signed
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
  auth: {provider: hs256-jwt}
`), 0o600))
	hs256, err := loadLabFile(hs256Path)
	require.NoError(t, err)
	tests := []struct {
		name string
		lab  *labfile.Lab
		e    stack.Endpoints
		want string
	}{
		{"client-credentials: from the issuer, where the lab runs it", shop, stack.Endpoints{PortOffset: 100, JWTKeyFile: "/r/client.secret"},
			"chaoslab token -token-url http://127.0.0.1:8190/oauth2/token -client-id chaoslab -secret-file /r/client.secret"},
		{"hs256-jwt: minted with the shared key", hs256, stack.Endpoints{JWTKeyFile: "/r/jwt.key"}, "chaoslab token -key-file /r/jwt.key"},
		{"no auth: no token", none, stack.Endpoints{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tokenHint(tt.lab, tt.e, "/r"))
		})
	}
}
