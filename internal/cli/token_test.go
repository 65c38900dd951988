package cli

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	"github.com/chaoslab/chaoslab/services/gateway"
	"github.com/chaoslab/chaoslab/services/issuer"
)

func testEnv(vars map[string]string) (Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return Env{
		Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return vars[k] },
		Getwd:  func() (string, error) { return "/", nil },
	}, &out, &errOut
}

func TestToken(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte("file-secret\n"), 0o600))

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode exitcode.Code
		wantKey  string
		wantSub  string
		wantErr  string
	}{
		{name: "key from env", env: map[string]string{"CHAOSLAB_JWT_KEY": "env-secret"}, wantKey: "env-secret", wantSub: "dev"},
		{name: "key from file", args: []string{"-key-file", keyFile, "-subject", "alice"}, wantKey: "file-secret", wantSub: "alice"},
		{name: "no key", wantCode: exitcode.Usage, wantErr: "CHAOSLAB_JWT_KEY"},
		{name: "a key file that does not exist", args: []string{"-key-file", filepath.Join(t.TempDir(), "none")}, wantCode: exitcode.Usage, wantErr: "reading the shared secret"},
		{name: "bad ttl", env: map[string]string{"CHAOSLAB_JWT_KEY": "k"}, args: []string{"-ttl", "-1s"}, wantCode: exitcode.Usage, wantErr: "-ttl"},
		{name: "unknown flag", args: []string{"-nope"}, wantCode: exitcode.Usage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, out, errOut := testEnv(tt.env)
			code := Run(t.Context(), env, append([]string{"token"}, tt.args...))
			require.Equal(t, tt.wantCode, code, errOut.String())
			if tt.wantCode != exitcode.OK {
				assert.Contains(t, errOut.String(), tt.wantErr)
				return
			}
			tok := strings.TrimSpace(out.String())
			claims := jwt.MapClaims{}
			_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(tt.wantKey), nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
			require.NoError(t, err)
			assert.Equal(t, tt.wantSub, claims["sub"])
		})
	}
}

// The key variable is the one the shop's gateway reads.
func TestTokenKeyEnvIsTheGateways(t *testing.T) {
	assert.Equal(t, gateway.JWTKeyEnv, tokenKeyEnv)
}

func TestHelpAndUnknownCommand(t *testing.T) {
	env, out, _ := testEnv(nil)
	assert.Equal(t, exitcode.OK, Run(t.Context(), env, []string{"help"}))
	assert.Contains(t, out.String(), "token")
	assert.Contains(t, out.String(), "Exit codes")

	env, _, errOut := testEnv(nil)
	assert.Equal(t, exitcode.Usage, Run(t.Context(), env, []string{"frobnicate"}))
	assert.Contains(t, errOut.String(), `unknown command "frobnicate"`)
}

// With -token-url the token comes from the issuer (the shop's, here on
// 127.0.0.1:0), and verifies against its JWKS.
func TestTokenFromAnIssuer(t *testing.T) {
	ring, err := issuer.OpenKeyring(filepath.Join(t.TempDir(), "keys.json"), issuer.AlgES256, time.Hour, time.Now)
	require.NoError(t, err)
	iss, err := issuer.NewServer(issuer.Options{Ring: ring, ClientID: "chaoslab", Secret: []byte("s3cret"), TokenTTL: time.Hour, Issuer: "t"})
	require.NoError(t, err)
	ts := httptest.NewServer(iss)
	t.Cleanup(ts.Close)
	secret := filepath.Join(t.TempDir(), "client.secret")
	require.NoError(t, os.WriteFile(secret, []byte("s3cret\n"), 0o600))
	wrong := filepath.Join(t.TempDir(), "wrong.secret")
	require.NoError(t, os.WriteFile(wrong, []byte("nope"), 0o600))

	for _, tt := range []struct {
		name     string
		args     []string
		wantCode exitcode.Code
		wantErr  string
	}{
		{"granted", []string{"-token-url", ts.URL + issuer.TokenPath, "-secret-file", secret}, exitcode.OK, ""},
		{"no secret file", []string{"-token-url", ts.URL + issuer.TokenPath}, exitcode.Usage, "-secret-file"},
		{"refused", []string{"-token-url", ts.URL + issuer.TokenPath, "-secret-file", wrong}, exitcode.Infra, "invalid_client"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, out, errOut := testEnv(nil)
			code := Run(t.Context(), env, append([]string{"token"}, tt.args...))
			require.Equal(t, tt.wantCode, code, errOut.String())
			if tt.wantCode != exitcode.OK {
				assert.Contains(t, errOut.String(), tt.wantErr)
				return
			}
			kf, err := keyfunc.NewDefaultCtx(t.Context(), []string{ts.URL + issuer.JWKSPath})
			require.NoError(t, err)
			_, err = jwt.Parse(strings.TrimSpace(out.String()), kf.Keyfunc, jwt.WithValidMethods([]string{"ES256"}))
			require.NoError(t, err)
		})
	}
}
