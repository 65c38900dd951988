package issuer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2/clientcredentials"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newIssuer(t *testing.T, alg string, ring string, c *clock) (*Server, *httptest.Server, *prometheus.Registry) {
	t.Helper()
	k, err := OpenKeyring(ring, alg, time.Hour, c.now)
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	s, err := NewServer(Options{Ring: k, ClientID: "lab", Secret: []byte("s3cret"), TokenTTL: 10 * time.Minute, Issuer: "test", Now: c.now, Registerer: reg})
	require.NoError(t, err)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts, reg
}

// A client-credentials client (golang.org/x/oauth2) gets a token that
// verifies against the JWKS, for both algorithms.
func TestTokenVerifiesAgainstTheJWKS(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			c := &clock{time.Now()}
			s, ts, _ := newIssuer(t, alg, filepath.Join(t.TempDir(), "keys.json"), c)
			cc := clientcredentials.Config{ClientID: "lab", ClientSecret: "s3cret", TokenURL: ts.URL + TokenPath}
			tok, err := cc.Token(t.Context())
			require.NoError(t, err)
			assert.Equal(t, "Bearer", tok.Type())

			kf, err := keyfunc.NewDefaultCtx(t.Context(), []string{ts.URL + JWKSPath})
			require.NoError(t, err)
			parsed, err := jwt.Parse(tok.AccessToken, kf.Keyfunc, jwt.WithValidMethods([]string{alg}), jwt.WithExpirationRequired())
			require.NoError(t, err)
			sub, err := parsed.Claims.GetSubject()
			require.NoError(t, err)
			assert.Equal(t, "lab", sub)
			assert.Equal(t, 1.0, testutil.ToFloat64(s.issued.WithLabelValues("issued")))
		})
	}
}

func TestTokenEndpointRefuses(t *testing.T) {
	c := &clock{time.Now()}
	_, ts, _ := newIssuer(t, AlgES256, filepath.Join(t.TempDir(), "keys.json"), c)
	for _, tt := range []struct {
		name     string
		form     url.Values
		basic    [2]string
		wantCode int
		wantErr  string
	}{
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}}, [2]string{"lab", "nope"}, 401, errInvalidClient},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"x"}, "client_secret": {"s3cret"}}, [2]string{}, 401, errInvalidClient},
		{"password grant", url.Values{"grant_type": {"password"}}, [2]string{"lab", "s3cret"}, 400, errUnsupportedGrant},
		{"secret in the form", url.Values{"grant_type": {"client_credentials"}, "client_id": {"lab"}, "client_secret": {"s3cret"}}, [2]string{}, 200, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+TokenPath, strings.NewReader(tt.form.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.basic[0] != "" {
				req.SetBasicAuth(tt.basic[0], tt.basic[1])
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tt.wantCode, resp.StatusCode)
			var body map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			if tt.wantErr != "" {
				assert.Equal(t, tt.wantErr, body["error"])
			} else {
				assert.NotEmpty(t, body["access_token"])
			}
		})
	}
}

// A rotation publishes the next key before it signs, keeps the retired
// one for a token's lifetime, and a restarted issuer has the same ring.
func TestRotationAndRestart(t *testing.T) {
	c := &clock{time.Now()}
	file := filepath.Join(t.TempDir(), "keys.json")
	s, _, _ := newIssuer(t, AlgES256, file, c)
	first := s.ring.KIDs()
	require.Len(t, first, 2, "current and next")
	_, cur := s.ring.Signer()
	assert.Equal(t, first[0], cur)

	require.NoError(t, s.Rotate())
	_, cur = s.ring.Signer()
	assert.Equal(t, first[1], cur, "the published next key signs")
	assert.Equal(t, first, s.ring.KIDs()[:2], "the retired key is still published")
	assert.Len(t, s.ring.KIDs(), 3)

	again, err := OpenKeyring(file, AlgES256, time.Hour, c.now)
	require.NoError(t, err)
	assert.Equal(t, s.ring.KIDs(), again.KIDs(), "a restart keeps the ring")
	_, kid := again.Signer()
	assert.Equal(t, cur, kid)

	c.t = c.t.Add(2 * time.Hour) // past the retired key's last token
	require.NoError(t, s.Rotate())
	kids := s.ring.KIDs()
	assert.NotContains(t, kids, first[0], "a key no valid token names is dropped")
	assert.Len(t, kids, 3, "the key retired now, the current, the next")

	_, err = OpenKeyring(file, AlgRS256, time.Hour, c.now)
	assert.ErrorContains(t, err, "remove the file", "a ring of the other algorithm is refused")
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no secret", func(c *Config) {}, "no client secret"},
		{"bad ttl", func(c *Config) { c.ClientSecret = "x"; c.TokenTTL = 0 }, "-token-ttl"},
		{"bad alg", func(c *Config) { c.ClientSecret = "x"; c.Alg = "HS256" }, "ES256 or RS256"},
		{"missing secret file", func(c *Config) { c.ClientSecretFile = "/nonexistent" }, "reading the client secret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Keyring = filepath.Join(t.TempDir(), "k.json")
			tt.edit(&cfg)
			_, err := New(context.Background(), cfg, nil)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}
