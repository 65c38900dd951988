package resilience_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
	"github.com/chaoslab/chaoslab/services/internal/resilience"
)

// blockingServer serves payments and health behind a Limiter of max; Charge
// blocks until release is closed. It returns the client conn, the fake and
// the registry.
func blockingServer(t *testing.T, max int, release <-chan struct{}) (*grpc.ClientConn, *fakePayments, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	l := resilience.NewLimiter(max, reg)
	fake := &fakePayments{charge: func(ctx context.Context, _ int32) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	srvOpt := grpc.ChainUnaryInterceptor(l.UnaryServerInterceptor())
	addr := serveWith(t, fake, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, health.NewServer()) }, srvOpt)
	return connOf(t, addr), fake, reg
}

func TestLimiterShedsAtMaxAndRecovers(t *testing.T) {
	release := make(chan struct{})
	cc, fake, reg := blockingServer(t, 2, release)
	client := paymentsv1.NewPaymentsServiceClient(cc)

	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := client.Charge(t.Context(), &paymentsv1.ChargeRequest{})
			done <- err
		}()
	}
	require.Eventually(t, func() bool { return fake.calls.Load() == 2 }, 5*time.Second, time.Millisecond)

	start := time.Now()
	_, err := client.Charge(t.Context(), &paymentsv1.ChargeRequest{})
	require.Equal(t, codes.ResourceExhausted, status.Code(err))
	assert.Equal(t, "server overloaded", status.Convert(err).Message())
	assert.Less(t, time.Since(start), time.Second, "rejected at once, not queued")
	assert.Equal(t, int32(2), fake.calls.Load(), "the handler was not called")
	assert.Equal(t, 1.0, counterValue(t, reg, "chaoslab_shed_total", nil))

	resp, err := healthpb.NewHealthClient(cc).Check(t.Context(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err, "health checks bypass the limiter")
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())

	close(release)
	require.NoError(t, <-done)
	require.NoError(t, <-done)
	_, err = client.Charge(t.Context(), &paymentsv1.ChargeRequest{})
	require.NoError(t, err, "accepts again once calls finished")
	assert.Equal(t, 1.0, counterValue(t, reg, "chaoslab_shed_total", nil))
}

func TestLimiterUnlimited(t *testing.T) {
	release := make(chan struct{})
	cc, fake, reg := blockingServer(t, 0, release)
	client := paymentsv1.NewPaymentsServiceClient(cc)
	const n = 20
	done := make(chan error, n)
	for range n {
		go func() {
			_, err := client.Charge(t.Context(), &paymentsv1.ChargeRequest{})
			done <- err
		}()
	}
	require.Eventually(t, func() bool { return fake.calls.Load() == n }, 5*time.Second, time.Millisecond)
	close(release)
	for range n {
		require.NoError(t, <-done)
	}
	assert.Equal(t, 0.0, counterValue(t, reg, "chaoslab_shed_total", nil))
}

func TestTimeoutInterceptor(t *testing.T) {
	on := resilience.Off()
	on.Deadlines, on.CallTimeout = true, 200*time.Millisecond
	tests := []struct {
		name        string
		cfg         resilience.Config
		parent      time.Duration // deadline of the caller's context, 0 for none
		wantLeft    time.Duration // deadline left seen by the invoker, 0 for none
		wantNoLimit bool
	}{
		{name: "on", cfg: on, wantLeft: 200 * time.Millisecond},
		{name: "earlier incoming deadline wins", cfg: on, parent: 50 * time.Millisecond, wantLeft: 50 * time.Millisecond},
		{name: "later incoming deadline is cut", cfg: on, parent: time.Hour, wantLeft: 200 * time.Millisecond},
		{name: "off", cfg: resilience.Off(), wantNoLimit: true},
		{name: "off keeps the incoming deadline", cfg: resilience.Off(), parent: time.Hour, wantLeft: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.parent > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.parent)
				defer cancel()
			}
			var deadline time.Time
			var hasDeadline bool
			err := resilience.TimeoutInterceptor(tt.cfg)(ctx, "/m", nil, nil, nil,
				func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
					deadline, hasDeadline = ctx.Deadline()
					return nil
				})
			require.NoError(t, err)
			if tt.wantNoLimit {
				assert.False(t, hasDeadline)
				return
			}
			require.True(t, hasDeadline)
			left := time.Until(deadline)
			assert.LessOrEqual(t, left, tt.wantLeft)
			assert.Greater(t, left, tt.wantLeft-100*time.Millisecond)
		})
	}
}
