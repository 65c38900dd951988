package stack

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
