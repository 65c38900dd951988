package host

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/chaoslab/chaoslab/services/faultinject"
	"github.com/chaoslab/chaoslab/services/internal/telemetry"
)

const blockMethod = "/hosttest.Blocker/Block"

// blocker is a one-method gRPC service whose calls wait for release.
type blocker struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blocker) register(s *grpc.Server) {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "hosttest.Blocker",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Block",
			Handler: func(_ any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
				req := new(emptypb.Empty)
				if err := dec(req); err != nil {
					return nil, err
				}
				h := func(ctx context.Context, _ any) (any, error) {
					b.entered <- struct{}{}
					select {
					case <-b.release:
						return &emptypb.Empty{}, nil
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}
				return in(ctx, req, &grpc.UnaryServerInfo{FullMethod: blockMethod}, h)
			},
		}},
	}, b)
}

func loopback() Config {
	return Config{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second}
}

func newTelemetry(t *testing.T) *telemetry.Telemetry {
	tel, err := telemetry.New(t.Context(), telemetry.Config{Service: "hosttest"}, io.Discard)
	require.NoError(t, err)
	return tel
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return cc
}

func TestShutdownDrainsInFlightCallsThenCloses(t *testing.T) {
	b := &blocker{entered: make(chan struct{}, 1), release: make(chan struct{})}
	var closed, bgStopped atomic.Int32
	h, err := Start(t.Context(), loopback(), newTelemetry(t), Service{
		Name: "hosttest",
		GRPC: b.register,
		Background: func(ctx context.Context) {
			<-ctx.Done()
			bgStopped.Add(1)
		},
		Close: func() error {
			require.EqualValues(t, 1, bgStopped.Load(), "background work stops before Close")
			closed.Add(1)
			return nil
		},
	})
	require.NoError(t, err)

	cc := dial(t, h.Addr())
	health, err := healthpb.NewHealthClient(cc).Check(t.Context(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, health.GetStatus())
	assert.Equal(t, http.StatusOK, get(t, "http://"+h.MetricsAddr()+"/readyz"))

	callErr := make(chan error, 1)
	go func() { callErr <- cc.Invoke(t.Context(), blockMethod, &emptypb.Empty{}, &emptypb.Empty{}) }()
	<-b.entered

	stopErr := make(chan error, 1)
	go func() { stopErr <- h.Shutdown(t.Context()) }()
	require.Eventually(t, func() bool { return h.Ready(t.Context()) != nil }, 2*time.Second, 5*time.Millisecond,
		"readiness goes false while draining")
	select {
	case err := <-stopErr:
		t.Fatalf("shutdown returned (%v) while a call was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(b.release)
	require.NoError(t, <-callErr, "the in-flight call completes")
	require.NoError(t, <-stopErr)
	assert.EqualValues(t, 1, closed.Load())
	require.NoError(t, h.Shutdown(t.Context()), "a second Shutdown is a no-op")
	assert.EqualValues(t, 1, closed.Load())
}

func TestShutdownTimeoutCancelsStuckCalls(t *testing.T) {
	b := &blocker{entered: make(chan struct{}, 1), release: make(chan struct{})}
	cfg := loopback()
	cfg.ShutdownTimeout = 100 * time.Millisecond
	h, err := Start(t.Context(), cfg, newTelemetry(t), Service{Name: "hosttest", GRPC: b.register})
	require.NoError(t, err)
	cc := dial(t, h.Addr())
	go func() { _ = cc.Invoke(t.Context(), blockMethod, &emptypb.Empty{}, &emptypb.Empty{}) }()
	<-b.entered
	err = h.Shutdown(t.Context())
	require.ErrorContains(t, err, "drain timed out")
}

func TestPortInUseNamesServiceListenerAndAddress(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { busy.Close() })

	cfg := loopback()
	cfg.AdminAddr = busy.Addr().String()
	_, err = Start(t.Context(), cfg, newTelemetry(t), Service{Name: "orders", GRPC: func(*grpc.Server) {}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "orders")
	assert.Contains(t, err.Error(), "admin listener")
	assert.Contains(t, err.Error(), busy.Addr().String())
}

func TestAdminAPIInjectsFaultsIntoTheService(t *testing.T) {
	b := &blocker{entered: make(chan struct{}, 1), release: make(chan struct{})}
	close(b.release)
	h, err := Start(t.Context(), loopback(), newTelemetry(t), Service{Name: "hosttest", GRPC: b.register})
	require.NoError(t, err)
	t.Cleanup(func() { h.Shutdown(context.Background()) })

	admin := faultinject.NewClient("http://"+h.AdminAddr(), http.DefaultClient)
	_, err = admin.Set(t.Context(), faultinject.Fault{Method: blockMethod, GRPCCode: "UNAVAILABLE"})
	require.NoError(t, err)

	cc := dial(t, h.Addr())
	err = cc.Invoke(t.Context(), blockMethod, &emptypb.Empty{}, &emptypb.Empty{})
	assert.Equal(t, codes.Unavailable, status.Code(err))

	require.NoError(t, admin.Clear(t.Context()))
	go func() { <-b.entered }()
	require.NoError(t, cc.Invoke(t.Context(), blockMethod, &emptypb.Empty{}, &emptypb.Empty{}))
}

func TestHTTPServiceIsInstrumented(t *testing.T) {
	h, err := Start(t.Context(), loopback(), newTelemetry(t), Service{
		Name:  "web",
		HTTP:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }),
		Route: func(*http.Request) string { return "GET /tea" },
	})
	require.NoError(t, err)
	t.Cleanup(func() { h.Shutdown(context.Background()) })

	assert.Equal(t, http.StatusTeapot, get(t, "http://"+h.Addr()+"/tea"))
	resp, err := http.Get("http://" + h.MetricsAddr() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.Contains(t, string(body), `chaoslab_http_requests_total{code="418",route="GET /tea",service="hosttest"} 1`)
	assert.Contains(t, string(body), "go_goroutines")
}

func TestStartRejectsAmbiguousService(t *testing.T) {
	_, err := Start(t.Context(), loopback(), newTelemetry(t), Service{Name: "x"})
	require.ErrorContains(t, err, "exactly one of GRPC and HTTP")
}

func TestMainFlagsEnvAndExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		wantOut  string
	}{
		{name: "help explains flags and env", args: []string{"-help"}, wantCode: 0, wantOut: "CHAOSLAB_HOSTTEST_METRICS_ADDR"},
		{name: "unknown flag", args: []string{"-bogus"}, wantCode: 2, wantOut: "bogus"},
		{name: "bad env value names the variable", env: map[string]string{"CHAOSLAB_HOSTTEST_SHUTDOWN_TIMEOUT": "soon"}, wantCode: 2},
		{name: "stray argument", args: []string{"extra"}, wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cfg := loopback()
			err := Main(t.Context(), Command{
				Name: "hosttest", Summary: "test", Host: &cfg,
				Build: func(context.Context, *telemetry.Telemetry) (Service, error) {
					return Service{}, errors.New("must not be built")
				},
			}, tt.args, func(k string) string { return tt.env[k] }, io.Discard, &stderr)
			assert.Equal(t, tt.wantCode, ExitCode(err), "err: %v", err)
			assert.Contains(t, stderr.String()+errString(err), tt.wantOut)
		})
	}
}

// Main serves until its context is cancelled (SIGTERM in the binaries) and
// then returns without error.
func TestMainServesUntilCancelled(t *testing.T) {
	cfg := loopback()
	ctx, cancel := context.WithCancel(t.Context())
	built := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Main(ctx, Command{
			Name: "hosttest", Host: &cfg,
			Build: func(context.Context, *telemetry.Telemetry) (Service, error) {
				close(built)
				return Service{Name: "hosttest", GRPC: func(*grpc.Server) {}}, nil
			},
		}, []string{"-instrument=false"}, func(string) string { return "" }, io.Discard, io.Discard)
	}()
	<-built
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
		assert.False(t, errors.Is(err, flag.ErrHelp))
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not return after cancellation")
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimSpace(err.Error())
}
