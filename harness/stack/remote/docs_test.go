package remote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/lab"
)

// The example of docs/remote.md is a valid remote file of the shop, so
// that it cannot rot.
func TestDocExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "remote.md"))
	require.NoError(t, err)
	_, example, found := strings.Cut(string(data), "```yaml\n# The shop, running elsewhere")
	require.True(t, found, "the example")
	example, _, found = strings.Cut(example, "```")
	require.True(t, found)

	shop, err := lab.Load(filepath.Join("..", "..", "..", "labs", "shop", "lab.yaml"), lab.WithBuiltins(lab.Builtins{
		Invariants: []string{"no_lost_orders", "no_double_charge", "failed_orders_compensated", "one_shipment_per_confirmed_order", "no_orphan_shipments", "outbox_drained"}, Settle: []string{"no_pending_orders", "no_pending_work"}}))
	require.NoError(t, err)
	var read []string
	f, err := ParseFile("remote.yaml", []byte("# The shop, running elsewhere"+example), shop, "/conf", func(path string) ([]byte, error) {
		read = append(read, path)
		return []byte("secret\n"), nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"/conf/secrets/client.secret", "/conf/secrets/admin.token"}, read)
	assert.Len(t, f.Services, len(shop.Services), "every service")
	assert.Len(t, f.Proxies, len(shop.Edges), "every edge")
	assert.Equal(t, "s3cret", f.Services["payments"].AdminToken)
	assert.Equal(t, "secret", f.Services["gateway"].AdminToken)
	assert.Equal(t, "http://gateway.example:9181", f.Services["gateway"].Admin)
}
