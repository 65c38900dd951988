package gateway

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/chaoslab/chaoslab/services/internal/telemetry"
	"github.com/chaoslab/chaoslab/services/issuer"
)

// The gateway against the real issuer: its tokens pass; with the JWKS
// down the cached keys keep working and a token whose kid the gateway
// never saw is refused with 401 (never 5xx); once the JWKS is back, that
// kid is fetched and its token passes.
func TestJWKSCachingAndRotation(t *testing.T) {
	for _, alg := range []string{issuer.AlgES256, issuer.AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			ring, err := issuer.OpenKeyring(filepath.Join(t.TempDir(), "keys.json"), alg, time.Hour, time.Now)
			require.NoError(t, err)
			iss, err := issuer.NewServer(issuer.Options{Ring: ring, ClientID: "lab", Secret: []byte("s3cret"), TokenTTL: time.Hour, Issuer: "test"})
			require.NoError(t, err)
			var down atomic.Bool
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if down.Load() && r.URL.Path == issuer.JWKSPath {
					http.Error(w, "down", http.StatusServiceUnavailable)
					return
				}
				iss.ServeHTTP(w, r)
			}))
			t.Cleanup(ts.Close)
			token := func() string {
				cc := clientcredentials.Config{ClientID: "lab", ClientSecret: "s3cret", TokenURL: ts.URL + issuer.TokenPath}
				tok, err := cc.Token(t.Context())
				require.NoError(t, err)
				return tok.AccessToken
			}

			reg := prometheus.NewRegistry()
			cfg := JWKSConfig{URL: ts.URL + issuer.JWKSPath, Refresh: time.Hour, Timeout: time.Second, UnknownKIDEvery: time.Millisecond}
			keySet, err := cfg.keyfunc(t.Context(), &telemetry.Telemetry{Logger: slog.New(slog.DiscardHandler), Registerer: reg})
			require.NoError(t, err)
			orders := &fakeOrders{}
			s := newTestServer(t, orders, &fakeCatalog{}, func(o *Options) {
				o.JWTKey, o.KeySet, o.Now, o.Registerer = nil, keySet, time.Now, reg
			})
			place := func(tok string) int {
				r := placeRequest(t, validBody)
				r.Header.Set("Authorization", "Bearer "+tok)
				return serve(s, r).Code
			}
			fetches := func(result string) float64 {
				return testutil.ToFloat64(counterOf(t, reg, "chaoslab_gateway_jwks_fetches_total", result))
			}

			first := token()
			assert.Equal(t, http.StatusCreated, place(first))
			assert.Equal(t, 1.0, fetches("ok"), "one fetch at the start")

			down.Store(true)
			require.NoError(t, iss.Rotate()) // the next key, published at the start, signs now
			assert.Equal(t, http.StatusCreated, place(first), "a cached key works with the JWKS down")
			assert.Equal(t, http.StatusCreated, place(token()), "the pre-published next key needs no fetch")
			require.NoError(t, iss.Rotate()) // a key the gateway never saw
			unknown := token()
			assert.Equal(t, http.StatusUnauthorized, place(unknown), "an unknown kid with the JWKS down is refused, not a 5xx")
			assert.Equal(t, 1.0, testutil.ToFloat64(counterOf(t, reg, "chaoslab_gateway_auth_rejected_total", rejectUnknownKey)))
			assert.Equal(t, 1.0, fetches("error"), "the unknown kid made the gateway try")

			down.Store(false)
			time.Sleep(5 * time.Millisecond) // past UnknownKIDEvery
			assert.Equal(t, http.StatusCreated, place(unknown), "back up: the unknown kid is fetched")
			assert.Equal(t, http.StatusCreated, place(first), "the retired key is still published")
			assert.Equal(t, 5, orders.placedCount(), "each accepted token placed its order, the refused one none")
		})
	}
}

// counterOf is the child of a counter vector with the given label value.
func counterOf(t *testing.T, reg *prometheus.Registry, name, value string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == value {
				v := m.GetCounter().GetValue()
				return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "v", Help: "v"}, func() float64 { return v })
			}
		}
	}
	t.Fatalf("no %s{…=%q}", name, value)
	return nil
}
