package faultinject_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/services/faultinject"
)

// adminServer serves the admin API of a new Injector.
func adminServer(t *testing.T) (*faultinject.Injector, *httptest.Server) {
	t.Helper()
	in := faultinject.NewInjector(nil, nil)
	srv := httptest.NewServer(in.AdminHandler())
	t.Cleanup(srv.Close)
	return in, srv
}

func TestAdminAPI(t *testing.T) {
	in, srv := adminServer(t)
	send := func(method, path, body string) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header, string(b)
	}
	problemOf := func(t *testing.T, h http.Header, body string) map[string]any {
		t.Helper()
		assert.Equal(t, "application/problem+json", h.Get("Content-Type"))
		var p map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &p))
		return p
	}

	code, _, body := send(http.MethodGet, "/faults", "")
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `[]`, body)

	code, h, body := send(http.MethodPost, "/faults", `{"method":"/payments.v1.PaymentsService/Charge","latency":"200ms","grpc_code":"unavailable","probability":0.5}`)
	require.Equal(t, http.StatusCreated, code, body)
	assert.Equal(t, "/faults/f-1", h.Get("Location"))
	assert.JSONEq(t, `{"id":"f-1","method":"/payments.v1.PaymentsService/Charge","latency":"200ms","grpc_code":"UNAVAILABLE","probability":0.5}`, body)

	code, _, body = send(http.MethodPut, "/faults/slow", `{"method":"*","latency":"1s"}`)
	require.Equal(t, http.StatusCreated, code, body)
	code, _, body = send(http.MethodPut, "/faults/slow", `{"method":"*","latency":"2s"}`)
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"id":"slow","method":"*","latency":"2s"}`, body)

	code, _, body = send(http.MethodGet, "/faults/slow", "")
	require.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"id":"slow","method":"*","latency":"2s"}`, body)

	code, _, body = send(http.MethodGet, "/faults", "")
	require.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `[
		{"id":"f-1","method":"/payments.v1.PaymentsService/Charge","latency":"200ms","grpc_code":"UNAVAILABLE","probability":0.5},
		{"id":"slow","method":"*","latency":"2s"}
	]`, body)

	errorCases := []struct {
		name, method, path, body string
		wantCode                 int
		wantDetail               string
	}{
		{"unknown field", http.MethodPost, "/faults", `{"method":"*","latency":"1s","delay":"1s"}`, 400, `unknown field "delay"`},
		{"not JSON", http.MethodPost, "/faults", `latency=1s`, 400, "reading the JSON fault"},
		{"two values", http.MethodPost, "/faults", `{"method":"*","abort":true}{}`, 400, "more than one JSON value"},
		{"invalid fault", http.MethodPost, "/faults", `{"method":"*","grpc_code":"NOPE"}`, 400, `grpc_code "NOPE"`},
		{"id mismatch", http.MethodPut, "/faults/a", `{"id":"b","method":"*","abort":true}`, 400, `differs from the path's "a"`},
		{"get unknown", http.MethodGet, "/faults/nope", "", 404, `no fault has the id "nope"`},
		{"delete unknown", http.MethodDelete, "/faults/nope", "", 404, `no fault has the id "nope"`},
	}
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			code, h, body := send(tt.method, tt.path, tt.body)
			require.Equal(t, tt.wantCode, code, body)
			p := problemOf(t, h, body)
			assert.Equal(t, "about:blank", p["type"])
			assert.EqualValues(t, tt.wantCode, p["status"])
			assert.Contains(t, p["detail"], tt.wantDetail)
		})
	}
	assert.Len(t, in.List(), 2, "failed requests changed nothing")

	code, _, _ = send(http.MethodDelete, "/faults/f-1", "")
	assert.Equal(t, http.StatusNoContent, code)
	assert.Len(t, in.List(), 1)
	code, _, _ = send(http.MethodDelete, "/faults", "")
	assert.Equal(t, http.StatusNoContent, code)
	assert.Empty(t, in.List())
}

func TestClientRoundTrip(t *testing.T) {
	in, srv := adminServer(t)
	c := faultinject.NewClient(srv.URL+"/", nil)
	ctx := t.Context()

	f, err := c.Set(ctx, faultinject.Fault{Method: charge, Latency: ms(150), GRPCCode: "Unavailable", Probability: 0.3})
	require.NoError(t, err)
	assert.Equal(t, faultinject.Fault{ID: "f-1", Method: charge, Latency: ms(150), GRPCCode: "UNAVAILABLE", Probability: 0.3}, f)
	_, err = c.Set(ctx, faultinject.Fault{ID: "orders-down", Method: "POST /v1/orders", HTTPStatus: 503})
	require.NoError(t, err)
	g, err := c.Set(ctx, faultinject.Fault{ID: "orders-down", Method: "POST /v1/orders", Abort: true})
	require.NoError(t, err, "setting an existing id replaces it")
	assert.True(t, g.Abort)

	list, err := c.List(ctx)
	require.NoError(t, err)
	assert.Equal(t, in.List(), list)
	require.Len(t, list, 2)

	_, err = c.Set(ctx, faultinject.Fault{Method: charge, GRPCCode: "SLOW"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "POST "+srv.URL+"/faults: 400 Bad Request")
	assert.Contains(t, err.Error(), `grpc_code "SLOW"`)

	require.NoError(t, c.Delete(ctx, "f-1"))
	err = c.Delete(ctx, "f-1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "DELETE "+srv.URL+"/faults/f-1: 404 Not Found")
	require.NoError(t, c.Clear(ctx))
	list, err = c.List(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestClientErrorsNameTheURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	c := faultinject.NewClient(url, &http.Client{Timeout: 5 * time.Second})
	_, err := c.List(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "GET "+url+"/faults")
}
