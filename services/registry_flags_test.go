package services_test

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/chaoslab/chaoslab/services/gateway"
	"github.com/chaoslab/chaoslab/services/internal/host"
	"github.com/chaoslab/chaoslab/services/inventory"
	"github.com/chaoslab/chaoslab/services/orders"
	"github.com/chaoslab/chaoslab/services/payments"
)

// The registry flags of the four services: an etcd:/// dependency or
// -advertise without -registry is a usage error (exit 2) that names the
// flag, from the command line or the environment, and every service
// documents the flags in -help.
func TestRegistryFlagsUsage(t *testing.T) {
	type runFunc func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error
	tests := []struct {
		name string
		run  runFunc
		args []string
		env  map[string]string
		want string
	}{
		{name: "gateway: registry target without -registry", run: gateway.Run,
			args: []string{"-inventory-addr", "etcd:///chaoslab/gateway_to_inventory"}, want: "-inventory-addr etcd:///chaoslab/gateway_to_inventory needs -registry"},
		{name: "gateway: from the environment", run: gateway.Run,
			env: map[string]string{"CHAOSLAB_GATEWAY_ORDERS_ADDR": "etcd:///chaoslab/orders"}, want: "-orders-addr etcd:///chaoslab/orders needs -registry"},
		{name: "orders: registry target without -registry", run: orders.Run,
			args: []string{"-payments-addr", "etcd:///chaoslab/orders_to_payments"}, want: "-payments-addr etcd:///chaoslab/orders_to_payments needs -registry"},
		{name: "orders: malformed registry target", run: orders.Run,
			args: []string{"-registry", "127.0.0.1:1", "-inventory-addr", "etcd:///inventory"}, want: "want etcd:///chaoslab/<key>"},
		{name: "inventory: -advertise without -registry", run: inventory.Run,
			args: []string{"-advertise", "orders_to_inventory=127.0.0.1:20062"}, want: "-advertise orders_to_inventory=127.0.0.1:20062 needs -registry"},
		{name: "payments: -advertise without -registry, from the environment", run: payments.Run,
			env: map[string]string{"CHAOSLAB_PAYMENTS_ADVERTISE": "orders_to_payments=127.0.0.1:20063"}, want: "needs -registry"},
		{name: "payments: bad -advertise", run: payments.Run,
			args: []string{"-advertise", "orders_to_payments"}, want: "want key=host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"-instrument=false", "-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0"}, tt.args...)
			if !strings.HasPrefix(tt.name, "gateway") {
				args = append(args, "-db", filepath.Join(dir, "x.db"))
			}
			var stderr bytes.Buffer
			err := tt.run(t.Context(), args, func(k string) string {
				if k == gateway.JWTKeyEnv {
					return "k"
				}
				return tt.env[k]
			}, io.Discard, &stderr)
			assert.Equal(t, 2, host.ExitCode(err), "err: %v", err)
			if err != nil {
				assert.Contains(t, err.Error()+stderr.String(), tt.want)
			}
		})
	}
	for name, run := range map[string]runFunc{"gateway": gateway.Run, "orders": orders.Run, "inventory": inventory.Run, "payments": payments.Run} {
		t.Run(name+" -help", func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(t.Context(), []string{"-help"}, func(string) string { return "" }, io.Discard, &stderr)
			assert.Equal(t, 0, host.ExitCode(err))
			for _, f := range []string{"-registry ", "-registry-ttl", "-advertise", "-instance"} {
				assert.Contains(t, stderr.String(), f)
			}
		})
	}
}
