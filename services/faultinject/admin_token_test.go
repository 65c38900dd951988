package faultinject_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/services/faultinject"
)

func TestAdminBearerToken(t *testing.T) {
	in := faultinject.NewInjector(nil, nil)
	guarded := httptest.NewServer(in.AdminHandler(faultinject.WithBearerToken("s3cret")))
	t.Cleanup(guarded.Close)
	open := httptest.NewServer(in.AdminHandler(faultinject.WithBearerToken("")))
	t.Cleanup(open.Close)

	for _, tc := range []struct {
		name   string
		srv    *httptest.Server
		header string
		want   int
	}{
		{"no header", guarded, "", http.StatusUnauthorized},
		{"wrong token", guarded, "Bearer wrong", http.StatusUnauthorized},
		{"a prefix of the token", guarded, "Bearer s3cre", http.StatusUnauthorized},
		{"the token with more", guarded, "Bearer s3cret!", http.StatusUnauthorized},
		{"not a bearer token", guarded, "Basic s3cret", http.StatusUnauthorized},
		{"empty bearer", guarded, "Bearer ", http.StatusUnauthorized},
		{"the token", guarded, "Bearer s3cret", http.StatusOK},
		{"the token, scheme in lower case", guarded, "bearer s3cret", http.StatusOK},
		{"no token required", open, "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, tc.srv.URL+"/faults", nil)
			require.NoError(t, err)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := tc.srv.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.want, resp.StatusCode)
			if tc.want == http.StatusUnauthorized {
				assert.Equal(t, `Bearer realm="faults"`, resp.Header.Get("WWW-Authenticate"))
				assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			}
		})
	}
}

func TestClientBearerToken(t *testing.T) {
	in := faultinject.NewInjector(nil, nil)
	srv := httptest.NewServer(in.AdminHandler(faultinject.WithBearerToken("s3cret")))
	t.Cleanup(srv.Close)

	_, err := faultinject.NewClient(srv.URL, nil).List(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "401")

	c := faultinject.NewClient(srv.URL, nil).WithBearerToken("s3cret")
	stored, err := c.Set(t.Context(), faultinject.Fault{ID: "slow", Method: faultinject.Wildcard, Latency: faultinject.Duration(1)})
	require.NoError(t, err)
	assert.Equal(t, "slow", stored.ID)
	list, err := c.List(t.Context())
	require.NoError(t, err)
	assert.Len(t, list, 1)
	require.NoError(t, c.Delete(t.Context(), "slow"))
}
