package host

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/services/faultinject"
)

// With Config.AdminToken (-admin-token, as the Kubernetes manifests pass
// it) the admin API answers only requests with that bearer token.
func TestAdminTokenGuardsTheAdminAPI(t *testing.T) {
	b := &blocker{entered: make(chan struct{}, 1), release: make(chan struct{})}
	close(b.release)
	cfg := loopback()
	cfg.AdminToken = "s3cret"
	h, err := Start(t.Context(), cfg, newTelemetry(t), Service{Name: "hosttest", GRPC: b.register})
	require.NoError(t, err)
	t.Cleanup(func() { h.Shutdown(context.Background()) })

	_, err = faultinject.NewClient("http://"+h.AdminAddr(), http.DefaultClient).List(t.Context())
	assert.ErrorContains(t, err, "401")
	_, err = faultinject.NewClient("http://"+h.AdminAddr(), http.DefaultClient).WithBearerToken("s3cret").List(t.Context())
	assert.NoError(t, err)
}
