package broker

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/services/internal/events"
)

// A message published before a restart is still in the stream after it:
// JetStream keeps its store in StoreDir.
func TestBrokerKeepsTheStreamAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	b, err := Start(t.Context(), Config{Addr: "127.0.0.1:0", StoreDir: dir}, nil, nil)
	require.NoError(t, err)
	addr := b.Addr()
	nc, err := nats.Connect(b.ClientURL())
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = events.EnsureStream(t.Context(), js)
	require.NoError(t, err)
	_, err = js.Publish(t.Context(), events.SubjectOrderConfirmed, []byte(`{}`))
	require.NoError(t, err)
	nc.Close()
	require.NoError(t, b.Shutdown(t.Context()))

	b, err = Start(t.Context(), Config{Addr: addr, StoreDir: dir}, nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { b.Shutdown(context.Background()) })
	nc, err = nats.Connect(b.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err = jetstream.New(nc)
	require.NoError(t, err)
	s, err := js.Stream(t.Context(), events.Stream)
	require.NoError(t, err)
	info, err := s.Info(t.Context())
	require.NoError(t, err)
	assert.Equal(t, uint64(1), info.State.Msgs)
}

// Run serves NATS and the ops listener until its context ends, and
// rejects bad flags as usage errors.
func TestRun(t *testing.T) {
	t.Run("serves until cancelled", func(t *testing.T) {
		natsAddr, metricsAddr := freeAddr(t), freeAddr(t)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		var out bytes.Buffer
		go func() {
			done <- Run(ctx, []string{"-addr", natsAddr, "-metrics-addr", metricsAddr, "-store-dir", t.TempDir()},
				func(string) string { return "" }, &out, io.Discard)
		}()
		require.Eventually(t, func() bool {
			resp, err := http.Get("http://" + metricsAddr + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, 10*time.Second, 20*time.Millisecond)
		nc, err := nats.Connect("nats://" + natsAddr)
		require.NoError(t, err)
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Contains(t, string(body), "chaoslab_broker_connections 1")
		nc.Close()
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nope"}, "flag provided but not defined"},
		{"extra argument", []string{"extra"}, "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Run(t.Context(), tc.args, func(string) string { return "" }, io.Discard, io.Discard)
			require.Error(t, err)
			assert.True(t, strings.Contains(err.Error(), tc.want), err.Error())
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}
