package faultinject_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/services/faultinject"
)

const placeOrder = "POST /v1/orders"

// routeName names requests like the gateway does: method and path.
func routeName(r *http.Request) string { return r.Method + " " + r.URL.Path }

func TestHTTPMiddlewareKinds(t *testing.T) {
	// Long enough that an undelayed call under -race on a busy 2-core
	// machine stays well below it.
	const delay = 250 * time.Millisecond
	tests := []struct {
		name       string
		fault      *faultinject.Fault
		wantCalled bool
		wantStatus int
		wantBody   string
		wantDelay  bool
	}{
		{name: "no fault", wantCalled: true, wantStatus: http.StatusCreated, wantBody: "created"},
		{
			name:       "latency",
			fault:      &faultinject.Fault{Method: placeOrder, Latency: faultinject.Duration(delay)},
			wantCalled: true, wantStatus: http.StatusCreated, wantBody: "created", wantDelay: true,
		},
		{
			name:       "error",
			fault:      &faultinject.Fault{Method: placeOrder, HTTPStatus: 503},
			wantStatus: 503, wantBody: `{"type":"about:blank","title":"injected fault","status":503}`,
		},
		{
			name:       "latency then error",
			fault:      &faultinject.Fault{Method: "*", Latency: faultinject.Duration(delay), HTTPStatus: 429},
			wantStatus: 429, wantBody: `{"type":"about:blank","title":"injected fault","status":429}`, wantDelay: true,
		},
		{
			name:       "another route",
			fault:      &faultinject.Fault{Method: "GET /v1/orders", HTTPStatus: 500},
			wantCalled: true, wantStatus: http.StatusCreated, wantBody: "created",
		},
		{
			name:       "a gRPC-only wildcard leaves HTTP alone",
			fault:      &faultinject.Fault{Method: "*", GRPCCode: "UNAVAILABLE"},
			wantCalled: true, wantStatus: http.StatusCreated, wantBody: "created",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			in := faultinject.NewInjector(reg, nil)
			if tt.fault != nil {
				_, err := in.Set(*tt.fault)
				require.NoError(t, err)
			}
			called := false
			h := in.HTTPMiddleware(routeName, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				called = true
				w.WriteHeader(http.StatusCreated)
				_, _ = io.WriteString(w, "created")
			}))
			rec := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/orders", nil))
			took := time.Since(start)

			assert.Equal(t, tt.wantCalled, called)
			assert.Equal(t, tt.wantStatus, rec.Code)
			if tt.wantCalled {
				assert.Equal(t, tt.wantBody, rec.Body.String())
			} else {
				assert.JSONEq(t, tt.wantBody, rec.Body.String())
				assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
				assert.Equal(t, 1.0, metricValue(t, reg, "chaoslab_faults_injected_total",
					map[string]string{"method": placeOrder, "kind": "error"}))
			}
			if tt.wantDelay {
				assert.GreaterOrEqual(t, took, delay)
			} else {
				assert.Less(t, took, delay)
			}
		})
	}
}

func TestHTTPMiddlewareAbortClosesTheConnection(t *testing.T) {
	reg := prometheus.NewRegistry()
	in := faultinject.NewInjector(reg, nil)
	_, err := in.Set(faultinject.Fault{Method: "GET /v1/products", Abort: true})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("GET /v1/products", in.HTTPMiddleware(nil, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "[]")
	})))
	mux.Handle("GET /v1/orders", in.HTTPMiddleware(nil, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "[]")
	})))
	srv := httptest.NewUnstartedServer(mux)
	srv.Start()
	t.Cleanup(srv.Close)

	get := func(path string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		return srv.Client().Do(req)
	}
	resp, err := get("/v1/products")
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err, "no response at all")
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, 1.0, metricValue(t, reg, "chaoslab_faults_injected_total",
		map[string]string{"method": "GET /v1/products", "kind": "abort"}), "r.Pattern names the route")

	resp, err = get("/v1/orders")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestHTTPMiddlewareLatencyCancelled(t *testing.T) {
	in := faultinject.NewInjector(nil, nil)
	_, err := in.Set(faultinject.Fault{Method: "*", Latency: faultinject.Duration(time.Hour)})
	require.NoError(t, err)
	h := in.HTTPMiddleware(routeName, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the handler ran")
	}))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/v1/orders", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Contains(t, rec.Body.String(), "context deadline exceeded")
}
