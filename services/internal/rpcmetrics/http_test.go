package rpcmetrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/services/internal/rpcmetrics"
)

func TestHTTPMiddlewareRecordsStatus(t *testing.T) {
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		wantCode string
		wantBody string
	}{
		{
			name:     "writes nothing",
			handler:  func(http.ResponseWriter, *http.Request) {},
			wantCode: "200",
		},
		{
			name:     "writes a body",
			handler:  func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hi")) },
			wantCode: "200",
			wantBody: "hi",
		},
		{
			name: "writes a status",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.WriteHeader(http.StatusOK) // superfluous, ignored
			},
			wantCode: "503",
		},
		{
			name: "early hints then created",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusCreated)
			},
			wantCode: "201",
		},
		{
			name: "flushes through the wrapper",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				f, ok := w.(http.Flusher)
				if !ok {
					panic("the wrapper hides http.Flusher")
				}
				_, _ = w.Write([]byte("a"))
				f.Flush()
				require.NoError(t, http.NewResponseController(w).Flush())
			},
			wantCode: "200",
			wantBody: "a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			h := rpcmetrics.NewHTTP(reg).Middleware(func(*http.Request) string { return "GET /x" }, tt.handler)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/x", nil))
			assert.Equal(t, tt.wantBody, rec.Body.String())
			require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP chaoslab_http_requests_total HTTP requests handled, by route and status code.
# TYPE chaoslab_http_requests_total counter
chaoslab_http_requests_total{code="`+tt.wantCode+`",route="GET /x"} 1
# HELP chaoslab_http_in_flight HTTP requests being handled.
# TYPE chaoslab_http_in_flight gauge
chaoslab_http_in_flight 0
`), "chaoslab_http_requests_total", "chaoslab_http_in_flight"))
			hist := histogram(t, reg, "chaoslab_http_request_duration_seconds", map[string]string{"route": "GET /x"})
			assert.Equal(t, uint64(1), hist.GetSampleCount())
		})
	}
}

func TestHTTPMiddlewareFlushesRealResponse(t *testing.T) {
	h := rpcmetrics.NewHTTP(prometheus.NewRegistry()).Middleware(nil, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("x"))
		w.(http.Flusher).Flush()
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil))
	assert.True(t, rec.Flushed)
}

func TestHTTPMiddlewareRecordsAbortedHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := rpcmetrics.NewHTTP(reg).Middleware(nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /boom", h)
	rec := httptest.NewRecorder()
	require.PanicsWithValue(t, http.ErrAbortHandler, func() {
		mux.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/boom", nil))
	})
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP chaoslab_http_requests_total HTTP requests handled, by route and status code.
# TYPE chaoslab_http_requests_total counter
chaoslab_http_requests_total{code="aborted",route="GET /boom"} 1
# HELP chaoslab_http_in_flight HTTP requests being handled.
# TYPE chaoslab_http_in_flight gauge
chaoslab_http_in_flight 0
`), "chaoslab_http_requests_total", "chaoslab_http_in_flight"))
}
