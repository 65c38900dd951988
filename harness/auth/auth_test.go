package auth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/lab"
)

// withAuth is a one-service lab whose load.auth is auth (a YAML flow
// mapping; "": none given).
func withAuth(t *testing.T, auth string) *lab.Lab {
	t.Helper()
	doc := `name: web
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
`
	if auth != "" {
		doc += "  auth: " + auth + "\n"
	}
	l, err := lab.Parse(filepath.Join(t.TempDir(), "lab.yaml"), []byte(doc))
	require.NoError(t, err)
	return l
}

func vars(l *lab.Lab, runDir string) lab.HarnessVars {
	return l.HarnessVarsFor(l.LocalPlacement(3, runDir, "bin", nil), "http://127.0.0.1:9090")
}

func TestTokenHS256(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	tests := []struct {
		name    string
		auth    string
		keyFile string
		key     string
		subject string
		ttl     time.Duration
		wantErr string
	}{
		{name: "the defaults", auth: "{provider: hs256-jwt}", keyFile: "jwt.key", key: "s3cret\n", subject: "chaoslab", ttl: 24 * time.Hour},
		{name: "the lab's settings", auth: "{provider: hs256-jwt, key_file: keys/dev.key, subject: k6, ttl: 1h}", keyFile: "keys/dev.key", key: "  other  ", subject: "k6", ttl: time.Hour},
		{name: "no key file", auth: "{provider: hs256-jwt}", wantErr: "reading the shared secret (a JWT key, a client secret): open "},
		{name: "an empty key file", auth: "{provider: hs256-jwt}", keyFile: "jwt.key", key: "\n", wantErr: "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := withAuth(t, tt.auth)
			runDir := t.TempDir()
			if tt.keyFile != "" {
				path := filepath.Join(runDir, tt.keyFile)
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
				require.NoError(t, os.WriteFile(path, []byte(tt.key), 0o600))
			}
			tok, err := Token(t.Context(), l, runDir, vars(l, runDir), now)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			claims := &jwt.RegisteredClaims{}
			_, err = jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(strings.TrimSpace(tt.key)), nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
			require.NoError(t, err, "signed with the trimmed key")
			assert.Equal(t, tt.subject, claims.Subject)
			assert.Equal(t, now, claims.IssuedAt.Time)
			assert.Equal(t, tt.ttl, claims.ExpiresAt.Sub(claims.IssuedAt.Time))
		})
	}
}

func TestTokenCommand(t *testing.T) {
	tests := []struct {
		name    string
		command string
		want    string
		wantErr string
	}{
		{name: "its output, trimmed, templates rendered", command: `["sh", "-c", "echo \" tok-$0 \"", '{{.Addr "web" "public"}}']`, want: "tok-127.0.0.1:7083"},
		{name: "a non-zero exit", command: `["sh", "-c", "echo no vault >&2; exit 4"]`, wantErr: "load.auth command sh: exit status 4; stderr: no vault"},
		{name: "no output", command: `["sh", "-c", "true"]`, wantErr: "load.auth command sh printed no token"},
		{name: "two lines", command: `["sh", "-c", "echo a; echo b"]`, wantErr: "printed more than one line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := withAuth(t, "{provider: command, command: "+tt.command+"}")
			runDir := t.TempDir()
			tok, err := Token(t.Context(), l, runDir, vars(l, runDir), time.Now())
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, tok)
		})
	}
}

func TestTokenNone(t *testing.T) {
	for _, auth := range []string{"{provider: none}", ""} {
		l := withAuth(t, auth)
		tok, err := Token(t.Context(), l, t.TempDir(), vars(l, "/run"), time.Now())
		require.NoError(t, err)
		assert.Empty(t, tok)
	}
}

func TestMintHS256Refuses(t *testing.T) {
	_, err := MintHS256(nil, "s", time.Hour, time.Now())
	assert.EqualError(t, err, "minting a token: the signing key is empty")
	_, err = MintHS256([]byte("k"), "s", 0, time.Now())
	assert.EqualError(t, err, "minting a token: the ttl must be positive, got 0s")
}

// The client-credentials provider authenticates with the shared secret
// (HTTP Basic, as golang.org/x/oauth2 sends it first) and returns the
// access token; a refusal or a missing secret is an error that says so.
func TestTokenClientCredentials(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if r.URL.Path != "/oauth2/token" || r.FormValue("grant_type") != "client_credentials" || id != "lab" || secret != "s3cret" ||
			r.FormValue("scope") != "orders:write" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}`)
	}))
	t.Cleanup(ts.Close)
	for _, tt := range []struct {
		name, secret, wantErr string
		noFile                bool
	}{
		{name: "granted", secret: "s3cret\n"},
		{name: "refused", secret: "wrong", wantErr: "invalid_client"},
		{name: "no secret file", noFile: true, wantErr: "reading the shared secret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := withAuth(t, "{provider: client-credentials, token_url: '"+ts.URL+"/oauth2/token', client_id: lab, scopes: [orders:write]}")
			runDir := t.TempDir()
			if !tt.noFile {
				require.NoError(t, os.WriteFile(filepath.Join(runDir, "client.secret"), []byte(tt.secret), 0o600))
			}
			tok, err := Token(t.Context(), l, runDir, vars(l, runDir), time.Now())
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "tok-1", tok)
		})
	}
}
