package stack

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestWaitReady(t *testing.T) {
	tests := []struct {
		name    string
		okAfter int32 // answers 503 this many times first; -1: never 200
		gone    func() error
		wantErr string
	}{
		{name: "ready at once"},
		{name: "ready after a few 503s", okAfter: 3},
		{name: "never ready: the error names the URL and its answer", okAfter: -1, wantErr: "did not answer 200: http://"},
		{name: "gone: its error as is", okAfter: -1, gone: func() error { return errors.New("exited during start") }, wantErr: "exited during start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if n := calls.Add(1); tt.okAfter < 0 || n <= tt.okAfter {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			}))
			defer srv.Close()
			err := WaitReady(context.Background(), srv.URL+"/readyz", 300*time.Millisecond, tt.gone)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.okAfter+1, calls.Load())
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestWaitReadyStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := WaitReady(ctx, "http://127.0.0.1:1/readyz", time.Minute, nil)
	assert.ErrorIs(t, err, context.Canceled)
}

// A probe cut short by the timeout must not hide the answer before it: the
// error says what the URL last answered, not that the wait ran out.
func TestWaitReadyReportsTheLastAnswer(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		<-r.Context().Done() // hangs until the prober gives up
	}))
	defer srv.Close()
	err := WaitReady(context.Background(), srv.URL+"/readyz", 300*time.Millisecond, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "503 Service Unavailable")
}

// A grpc:// readiness URL asks grpc.health.v1 at a real server: ready only
// while the named service is SERVING.
func TestProbeGRPCHealth(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	addr := lis.Addr().String()
	hs.SetServingStatus("store.v1.Store", healthpb.HealthCheckResponse_NOT_SERVING)

	client := &http.Client{Timeout: time.Second}
	tests := []struct {
		name, url, wantErr string
	}{
		{"the whole server", GRPCHealthURL(addr, ""), ""},
		{"a service not serving", GRPCHealthURL(addr, "store.v1.Store"), "NOT_SERVING"},
		{"an unknown service", GRPCHealthURL(addr, "nope.v1.Nope"), "NotFound"},
		{"nothing listening", GRPCHealthURL(freeAddr(t), ""), "grpc health"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Probe(t.Context(), client, tt.url)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
	hs.SetServingStatus("store.v1.Store", healthpb.HealthCheckResponse_SERVING)
	require.NoError(t, WaitReady(t.Context(), GRPCHealthURL(addr, "store.v1.Store"), 2*time.Second, nil))
}

// freeAddr is a 127.0.0.1 address nothing listens on.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}
