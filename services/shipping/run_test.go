package shipping

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Run serves until its context ends: ready on /readyz, a published event
// becomes a shipment on GET /v1/shipments, and the consumer's metrics are
// on /metrics.
func TestRunConsumesAndServesUntilCancelled(t *testing.T) {
	l := startLab(t)
	addr, metrics, admin := freeAddr(t), freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	var out syncBuffer
	go func() {
		done <- Run(ctx, []string{"-addr", addr, "-metrics-addr", metrics, "-admin-addr", admin,
			"-db", t.TempDir() + "/shipping.db", "-nats-url", l.url},
			func(string) string { return "" }, &out, io.Discard)
	}()
	require.Eventually(t, func() bool { code, _ := get(t, "http://"+metrics+"/readyz"); return code == http.StatusOK },
		10*time.Second, 20*time.Millisecond)

	publish(t, t.Context(), l.js, event("ord_1"), "order-confirmed-ord_1")
	require.Eventually(t, func() bool {
		code, body := get(t, "http://"+addr+"/v1/shipments")
		return code == http.StatusOK && strings.Contains(body, `"order_id":"ord_1"`)
	}, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		code, body := get(t, "http://"+addr+"/v1/consumer")
		return code == http.StatusOK && strings.Contains(body, `"pending":0,"ack_pending":0`)
	}, 10*time.Second, 20*time.Millisecond)
	_, body := get(t, "http://"+metrics+"/metrics")
	assert.Contains(t, body, `chaoslab_shipping_events_total{result="recorded",service="shipping"} 1`)
	assert.Contains(t, body, `chaoslab_shipping_freshness_seconds_bucket{service="shipping",le="2.5"} 1`)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"negative delay", []string{"-processing-delay", "-1s"}, "-processing-delay must not be negative"},
		{"no broker", []string{"-nats-url", ""}, "-nats-url is empty"},
		{"zero batch", []string{"-batch", "0"}, "-batch must be positive"},
		{"unknown flag", []string{"-nope"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-db", t.TempDir() + "/s.db", "-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0"}, tc.args...)
			err := Run(t.Context(), args, func(string) string { return "" }, io.Discard, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
