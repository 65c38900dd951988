package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signed returns claims signed with method and key.
func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	require.NoError(t, err)
	return tok
}

func TestPlaceOrderRequiresValidToken(t *testing.T) {
	mint := func(key string, ttl time.Duration, now time.Time) string {
		tok, err := MintToken([]byte(key), "tester", ttl, now)
		require.NoError(t, err)
		return tok
	}
	live := jwt.RegisteredClaims{Subject: "tester", ExpiresAt: jwt.NewNumericDate(testNow().Add(time.Hour))}
	valid := mint(testKey, time.Hour, testNow())

	tests := []struct {
		name          string
		authorization string
		wantError     string // the RFC 6750 error code in WWW-Authenticate, "" for none
	}{
		{name: "missing header", authorization: ""},
		{name: "basic scheme", authorization: "Basic dXNlcjpwYXNz"},
		{name: "bearer without token", authorization: "Bearer "},
		{name: "token without scheme", authorization: valid},
		{name: "malformed token", authorization: "Bearer not.a.jwt", wantError: "invalid_token"},
		{name: "garbage token", authorization: "Bearer abc", wantError: "invalid_token"},
		{name: "expired", authorization: "Bearer " + mint(testKey, time.Hour, testNow().Add(-2*time.Hour)), wantError: "invalid_token"},
		{name: "wrong key", authorization: "Bearer " + mint("another-key", time.Hour, testNow()), wantError: "invalid_token"},
		{name: "alg none", authorization: "Bearer " + signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, live), wantError: "invalid_token"},
		{name: "HS512 with the right key", authorization: "Bearer " + signed(t, jwt.SigningMethodHS512, []byte(testKey), live), wantError: "invalid_token"},
		{name: "no exp claim", authorization: "Bearer " + signed(t, jwt.SigningMethodHS256, []byte(testKey), jwt.RegisteredClaims{Subject: "tester"}), wantError: "invalid_token"},
		{name: "not valid yet", authorization: "Bearer " + signed(t, jwt.SigningMethodHS256, []byte(testKey), jwt.RegisteredClaims{
			ExpiresAt: jwt.NewNumericDate(testNow().Add(2 * time.Hour)), NotBefore: jwt.NewNumericDate(testNow().Add(time.Hour)),
		}), wantError: "invalid_token"},
		{name: "tampered signature", authorization: "Bearer " + valid[:len(valid)-2] + "xx", wantError: "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orders := &fakeOrders{}
			r := placeRequest(t, validBody)
			r.Header.Set("Authorization", tt.authorization)
			rec := serve(newTestServer(t, orders, &fakeCatalog{}, nil), r)

			requireProblem(t, rec, http.StatusUnauthorized)
			challenge := rec.Header().Get("WWW-Authenticate")
			assert.True(t, strings.HasPrefix(challenge, "Bearer "), "WWW-Authenticate: %q", challenge)
			if tt.wantError != "" {
				assert.Contains(t, challenge, `error="`+tt.wantError+`"`)
			} else {
				assert.NotContains(t, challenge, "error=")
			}
			assert.Zero(t, orders.placedCount())
		})
	}
}

func TestTokenIsCheckedBeforeTheBody(t *testing.T) {
	r := placeRequest(t, `{not json`)
	r.Header.Del("Authorization")
	r.Header.Del("Idempotency-Key")
	requireProblem(t, serve(newTestServer(t, &fakeOrders{}, &fakeCatalog{}, nil), r), http.StatusUnauthorized)
}

func TestReadsNeedNoToken(t *testing.T) {
	s := newTestServer(t, &fakeOrders{}, &fakeCatalog{}, nil)
	assert.Equal(t, http.StatusOK, serve(s, getRequest(t, "/v1/products")).Code)
	assert.Equal(t, http.StatusNotFound, serve(s, getRequest(t, "/v1/orders/o-1")).Code)
}

func TestTokenExpiresByTheServerClock(t *testing.T) {
	tok, err := MintToken([]byte(testKey), "tester", time.Minute, testNow())
	require.NoError(t, err)
	for _, tt := range []struct {
		name string
		now  time.Time
		want int
	}{
		{"before expiry", testNow().Add(59 * time.Second), http.StatusCreated},
		{"after expiry", testNow().Add(61 * time.Second), http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, &fakeOrders{}, &fakeCatalog{}, func(o *Options) { o.Now = func() time.Time { return tt.now } })
			r := placeRequest(t, validBody)
			r.Header.Set("Authorization", "Bearer "+tok)
			assert.Equal(t, tt.want, serve(s, r).Code)
		})
	}
}

func TestMintToken(t *testing.T) {
	tok, err := MintToken([]byte(testKey), "alice", time.Hour, testNow())
	require.NoError(t, err)

	claims := &jwt.RegisteredClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(testKey), nil },
		jwt.WithTimeFunc(testNow), jwt.WithValidMethods([]string{"HS256"}))
	require.NoError(t, err)
	assert.Equal(t, "HS256", parsed.Method.Alg())
	assert.Equal(t, "alice", claims.Subject)
	assert.Equal(t, testNow().Add(time.Hour), claims.ExpiresAt.Time.UTC())

	_, err = MintToken(nil, "alice", time.Hour, testNow())
	assert.Error(t, err, "empty key")
	_, err = MintToken([]byte(testKey), "alice", 0, testNow())
	assert.Error(t, err, "zero ttl")
}
