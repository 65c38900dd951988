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

// A service with replicas gives each replica's admin API, and an edge to
// it the proxies to its other replicas; leaving them out is an error at
// the line, since a fault would then act on some replicas only.
func TestReplicasMustBeListed(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "remote.md"))
	require.NoError(t, err)
	_, example, _ := strings.Cut(string(data), "```yaml\n# The shop, running elsewhere")
	example, _, _ = strings.Cut(example, "```")
	example = "# The shop, running elsewhere" + example
	shop, err := lab.Load(filepath.Join("..", "..", "..", "labs", "shop", "lab.yaml"), lab.WithBuiltins(lab.Builtins{
		Invariants: []string{"no_lost_orders", "no_double_charge", "failed_orders_compensated", "one_shipment_per_confirmed_order", "no_orphan_shipments", "outbox_drained"}, Settle: []string{"no_pending_orders", "no_pending_work"}}))
	require.NoError(t, err)
	read := func(string) ([]byte, error) { return []byte("secret\n"), nil }

	f, err := ParseFile("remote.yaml", []byte(example), shop, "/conf", read)
	require.NoError(t, err)
	e := f.Endpoints(shop, "")
	assert.Equal(t, []string{"payments-0", "payments-1"}, e.Services["payments"].InstanceNames())
	assert.Equal(t, "http://payments-1.example:9184", e.Services["payments"].Instances[1].AdminURL)
	assert.Equal(t, []string{"orders_to_payments", "orders_to_payments-1"}, e.Edges["orders->payments"].Proxies())

	tests := []struct{ name, old, new, want string }{
		{"no instances", "    instances:\n      payments-0: {admin: http://payments-0.example:9184}\n      payments-1: {admin: http://payments-1.example:9184}\n", "",
			"services.payments.instances: service payments runs 2 replicas"},
		{"no replica proxies", "{proxy: orders_to_payments, replica_proxies: [orders_to_payments-1]}", "{proxy: orders_to_payments}",
			"edges.orders->payments.replica_proxies: the callee of orders->payments runs 2 replicas"},
		{"an unknown replica", "payments-1: {admin:", "payments-7: {admin:", "services.payments.instances.payments-7: unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Contains(t, example, tt.old)
			_, err := ParseFile("remote.yaml", []byte(strings.Replace(example, tt.old, tt.new, 1)), shop, "/conf", read)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
