package discovery_test

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/services/internal/discovery"
	"github.com/chaoslab/chaoslab/services/internal/envflag"
)

func TestFlagsAndEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    discovery.Config
		wantErr string
	}{
		{name: "defaults", want: discovery.Config{TTL: 2 * time.Second}},
		{
			name: "flags",
			args: []string{"-registry", "127.0.0.1:2379", "-registry-ttl", "5s",
				"-advertise", "orders_to_inventory=127.0.0.1:20062,gateway_to_inventory=127.0.0.1:15062"},
			want: discovery.Config{Registry: "127.0.0.1:2379", TTL: 5 * time.Second, Advertise: discovery.Advertisements{
				{Key: "orders_to_inventory", Addr: "127.0.0.1:20062"}, {Key: "gateway_to_inventory", Addr: "127.0.0.1:15062"},
			}},
		},
		{
			name: "environment",
			env: map[string]string{"CHAOSLAB_INVENTORY_REGISTRY": "etcd:2379", "CHAOSLAB_INVENTORY_ADVERTISE": "inventory=inventory-1:5052",
				"CHAOSLAB_INVENTORY_REGISTRY_TTL": "3s"},
			want: discovery.Config{Registry: "etcd:2379", TTL: 3 * time.Second, Advertise: discovery.Advertisements{{Key: "inventory", Addr: "inventory-1:5052"}}},
		},
		{name: "advertise without an address", args: []string{"-advertise", "inventory"}, wantErr: "want key=host:port"},
		{name: "advertise with a bad key", args: []string{"-advertise", "a/b=127.0.0.1:1"}, wantErr: "key of letters"},
		{name: "advertise with a bad address", args: []string{"-advertise", "inventory=localhost"}, wantErr: "not host:port"},
		{name: "advertise a key twice", args: []string{"-advertise", "k=127.0.0.1:1,k=127.0.0.1:2"}, wantErr: "advertised twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg discovery.Config
			fs := flag.NewFlagSet("inventory", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			cfg.RegisterFlags(fs)
			err := envflag.Parse(fs, tt.args, "CHAOSLAB_INVENTORY", func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
			assert.Equal(t, tt.want.Advertise.String(), fs.Lookup("advertise").Value.String())
		})
	}
}

func TestValidate(t *testing.T) {
	ads := discovery.Advertisements{{Key: "inventory", Addr: "127.0.0.1:5052"}}
	tests := []struct {
		name  string
		cfg   discovery.Config
		addrs map[string]string
		want  []string // substrings of the error; none: valid
	}{
		{name: "no registry, host:port dependencies", addrs: map[string]string{"inventory-addr": "127.0.0.1:5052"}},
		{name: "registry target with a registry", cfg: discovery.Config{Registry: "127.0.0.1:2379"},
			addrs: map[string]string{"inventory-addr": discovery.Target("orders_to_inventory")}},
		{name: "advertise with a registry", cfg: discovery.Config{Registry: "127.0.0.1:2379", Advertise: ads}},
		{name: "registry target without a registry", addrs: map[string]string{"inventory-addr": "etcd:///chaoslab/inventory"},
			want: []string{"-inventory-addr etcd:///chaoslab/inventory needs -registry"}},
		{name: "advertise without a registry", cfg: discovery.Config{Advertise: ads}, want: []string{"-advertise inventory=127.0.0.1:5052 needs -registry"}},
		{name: "registry target outside chaoslab/", cfg: discovery.Config{Registry: "127.0.0.1:2379"},
			addrs: map[string]string{"payments-addr": "etcd:///payments"}, want: []string{"-payments-addr", "want etcd:///chaoslab/<key>"}},
		{name: "registry not host:port", cfg: discovery.Config{Registry: "http://127.0.0.1:2379/"}, want: []string{"-registry", "want host:port"}},
		{name: "ttl below a second", cfg: discovery.Config{Registry: "127.0.0.1:2379", TTL: 500 * time.Millisecond}, want: []string{"-registry-ttl 500ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate(tt.addrs)
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	assert.Equal(t, "etcd:///chaoslab/orders_to_inventory", discovery.Target("orders_to_inventory"))
	assert.Equal(t, "chaoslab/orders_to_inventory/inventory-2", discovery.Key("orders_to_inventory", "inventory-2"))
	assert.True(t, discovery.IsTarget("etcd:///chaoslab/x"))
	assert.False(t, discovery.IsTarget("127.0.0.1:5052"))
	key, err := discovery.TargetKey("etcd:///chaoslab/orders_to_inventory")
	require.NoError(t, err)
	assert.Equal(t, "orders_to_inventory", key)
	_, err = discovery.TargetKey("etcd:///chaoslab/a/b")
	assert.Error(t, err)
}

// Without -registry there is no registry: nothing registers, nothing
// resolves, and the nil Registry's methods are harmless.
func TestOpenWithoutRegistry(t *testing.T) {
	reg, err := discovery.Open(discovery.Config{}, discovery.Options{Instance: "inventory"})
	require.NoError(t, err)
	assert.Nil(t, reg)
	reg.Register(t.Context())
	assert.NoError(t, reg.Deregister(t.Context()))
	assert.Nil(t, reg.Resolver("inventory"))
	assert.NoError(t, reg.Close())

	_, err = discovery.Open(discovery.Config{Advertise: discovery.Advertisements{{Key: "k", Addr: "127.0.0.1:1"}}}, discovery.Options{})
	assert.ErrorContains(t, err, "needs -registry")
}
