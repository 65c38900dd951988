package toxiproxy

import (
	"net"
	"testing"

	toxiserver "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startServer runs the real Toxiproxy server in-process on 127.0.0.1.
func startServer(t *testing.T) *Client {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	srv := toxiserver.NewServer(toxiserver.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	go srv.Listen(addr)
	t.Cleanup(func() {
		_ = srv.Collection.Clear() // stop the proxies and close their connections
		_ = srv.Shutdown()
	})
	c := New("http://" + addr)
	require.NoError(t, c.WaitReady(t.Context()))
	return c
}

func TestProxiesToxicsAndRemovalOfAMissingToxic(t *testing.T) {
	c := startServer(t)
	up, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { up.Close() })

	require.NoError(t, c.Populate(t.Context(), []ProxySpec{{Name: "a_to_b", Listen: "127.0.0.1:0", Upstream: up.Addr().String()}}))
	require.NoError(t, c.AddToxic(t.Context(), "a_to_b", Toxic{Name: "slow", Type: "latency", Stream: "downstream", Toxicity: 1, Attributes: map[string]any{"latency": 100}}))
	ps, err := c.Proxies(t.Context())
	require.NoError(t, err)
	require.Len(t, ps["a_to_b"].Toxics, 1)
	assert.Equal(t, "latency", ps["a_to_b"].Toxics[0].Type)

	require.NoError(t, c.RemoveToxic(t.Context(), "a_to_b", "slow"))
	require.NoError(t, c.RemoveToxic(t.Context(), "a_to_b", "slow"), "removing a toxic that is gone is not an error")
	err = c.RemoveToxic(t.Context(), "no_such_proxy", "slow")
	assert.True(t, IsNotFound(err), "an unknown proxy is an error, a 404: %v", err)

	require.NoError(t, c.SetEnabled(t.Context(), "a_to_b", false))
	ps, err = c.Proxies(t.Context())
	require.NoError(t, err)
	assert.False(t, ps["a_to_b"].Enabled)
	require.NoError(t, c.Reset(t.Context()))
	ps, err = c.Proxies(t.Context())
	require.NoError(t, err)
	assert.True(t, ps["a_to_b"].Enabled)
}
