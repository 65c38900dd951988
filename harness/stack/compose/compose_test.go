package compose

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/stack"
)

// The compose lab is a stack whose containers the fault model can act on.
var (
	_ stack.Stack          = (*Lab)(nil)
	_ faults.Containers    = (*Lab)(nil)
	_ faults.ProcessStatus = (*Lab)(nil)
	_ faults.KnobStatus    = (*Lab)(nil)
)

func TestEnvName(t *testing.T) {
	tests := []struct{ service, flag, want string }{
		{"orders", "retries", "CHAOSLAB_ORDERS_RETRIES"},
		{"orders", "breaker-open-for", "CHAOSLAB_ORDERS_BREAKER_OPEN_FOR"},
		{"gateway", "rate-limit", "CHAOSLAB_GATEWAY_RATE_LIMIT"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, EnvName(tt.service, tt.flag))
	}
}

func TestWriteKnobsIsAValidOverride(t *testing.T) {
	tests := []struct {
		name  string
		knobs map[string]map[string]string
		want  map[string]map[string]string // service → env
	}{
		{name: "no knobs", want: map[string]map[string]string{}},
		{name: "two services", knobs: map[string]map[string]string{
			"orders":  {"retries": "false", "breaker": "false"},
			"gateway": {"request-timeout": "2s"},
		}, want: map[string]map[string]string{
			"orders":  {"CHAOSLAB_ORDERS_RETRIES": "false", "CHAOSLAB_ORDERS_BREAKER": "false"},
			"gateway": {"CHAOSLAB_GATEWAY_REQUEST_TIMEOUT": "2s"},
		}},
		{name: "replicas: a replica's variables are its service's", knobs: map[string]map[string]string{
			"inventory-0": {"max-inflight": "4"},
			"inventory-1": {"max-inflight": "4"},
		}, want: map[string]map[string]string{
			"inventory-0": {"CHAOSLAB_INVENTORY_MAX_INFLIGHT": "4"},
			"inventory-1": {"CHAOSLAB_INVENTORY_MAX_INFLIGHT": "4"},
		}},
	}
	service := func(c string) string { return strings.TrimSuffix(strings.TrimSuffix(c, "-0"), "-1") }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "knobs.yml")
			require.NoError(t, writeKnobs(path, tt.knobs, service))
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			var doc struct {
				Services map[string]struct {
					Environment map[string]string `yaml:"environment"`
				} `yaml:"services"`
			}
			require.NoError(t, yaml.Unmarshal(b, &doc), string(b))
			got := map[string]map[string]string{}
			for svc, s := range doc.Services {
				got[svc] = s.Environment
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// The endpoints are the ports docker-compose.yml publishes, and the edges
// are the proxies of compose/toxiproxy.json, as compose-file generates them
// (TestTheCommittedComposeFilesAreGenerated: and as they are committed).
func TestEndpointsMatchTheComposeFiles(t *testing.T) {
	shop := loadShop(t)
	e := endpoints(shop, "/run/jwt.key", "172.17.0.1")
	assert.Equal(t, "http://127.0.0.1:8000", e.GatewayURL)
	assert.Equal(t, "172.17.0.1:9099", e.HarnessMetricsAddr)

	files := parse(t, shopFiles(t))
	require.Len(t, e.Services, len(shop.Services))
	for svc, s := range e.Services {
		byContainer := map[string]stack.Service{svc: s}
		if len(s.Instances) > 0 {
			byContainer = map[string]stack.Service{}
			for _, i := range s.Instances {
				byContainer[i.Name] = i.Service
			}
		}
		for container, s := range byContainer {
			published := files.compose.Services[container].Ports
			require.NotEmpty(t, published, "%s is a compose service", container)
			for _, addr := range []string{s.Addr, trimScheme(s.MetricsURL), trimScheme(s.AdminURL), trimScheme(s.ReadyURL)} {
				if addr == "" {
					continue // no admin API (the broker)
				}
				_, port, err := net.SplitHostPort(addr)
				require.NoError(t, err)
				assert.Contains(t, published, "127.0.0.1:"+port+":"+port, "%s publishes %s", container, addr)
			}
		}
	}
	assert.Equal(t, []string{"inventory-0", "inventory-1"}, e.Services["inventory"].InstanceNames())
	assert.Equal(t, []string{"payments-0", "payments-1"}, e.Services["payments"].InstanceNames())
	for url, service := range map[string]string{e.GatewayURL: "toxiproxy", e.ToxiproxyURL: "toxiproxy", e.PrometheusURL: "prometheus", "http://" + e.JaegerQueryGRPC: "jaeger", e.JaegerQueryURL: "jaeger", "http://" + e.OTLPGRPC: "jaeger"} {
		_, port, err := net.SplitHostPort(trimScheme(url))
		require.NoError(t, err)
		assert.Contains(t, strings.Join(files.compose.Services[service].Ports, " "), "127.0.0.1:"+port+":", "%s publishes %s", service, url)
	}

	// Every proxy of compose/toxiproxy.json is an edge's or one of its
	// replicas', and the other way round (what Up populates).
	got := map[string]proxy{}
	for _, p := range files.proxies {
		got[p.Name] = proxy{Name: p.Name, Listen: p.Listen, Upstream: p.Upstream, Enabled: true}
	}
	require.Len(t, e.Edges, len(shop.Edges))
	want := map[string]proxy{}
	for _, spec := range e.ProxySpecs() {
		want[spec.Name] = proxy{Name: spec.Name, Listen: spec.Listen, Upstream: spec.Upstream, Enabled: true}
	}
	assert.Equal(t, want, got)
	assert.Equal(t, stack.Edge{Name: "orders->inventory", Proxy: "orders_to_inventory-1", Listen: "0.0.0.0:20062", Upstream: "inventory-1:5062"},
		e.Edges["orders->inventory"].Replicas[0])
}

// A service's name means each of its replicas' containers, an instance
// name one replica's; other names are the compose service of that name.
func TestMembers(t *testing.T) {
	e := endpoints(loadShop(t), "/run/jwt.key", "172.17.0.1")
	tests := []struct {
		name      string
		members   []string
		known     bool
		serviceOf string
	}{
		{name: "inventory", members: []string{"inventory-0", "inventory-1"}, known: true, serviceOf: "inventory"},
		{name: "inventory-1", members: []string{"inventory-1"}, known: true, serviceOf: "inventory"},
		{name: "payments-0", members: []string{"payments-0"}, known: true, serviceOf: "payments"},
		{name: "orders", members: []string{"orders"}, known: true, serviceOf: "orders"},
		{name: "registry", members: []string{"registry"}, known: true, serviceOf: "registry"},
		{name: "toxiproxy", members: []string{"toxiproxy"}, serviceOf: "toxiproxy"},
		{name: "inventory-2", members: []string{"inventory-2"}, serviceOf: "inventory-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.members, e.Members(tt.name))
			assert.Equal(t, tt.known, known(e, tt.name))
			assert.Equal(t, tt.serviceOf, e.ServiceOf(tt.name))
		})
	}
	assert.Equal(t, []string{"registry", "inventory-0", "inventory-1", "payments-0", "payments-1", "nats", "orders"},
		containers(e, []string{"registry", "inventory", "payments", "nats", "orders"}))
}

// The images Up checks for are the lab's, rendered with the image tag, and
// the stand-ins offline.
func TestImagesUpNeeds(t *testing.T) {
	shop := loadShop(t)
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{name: "online", cfg: Config{Lab: shop, ImageTag: "v1"},
			want: []string{"chaoslab/gateway:v1", "chaoslab/inventory:v1", "chaoslab/issuer:v1", "chaoslab/nats:v1", "chaoslab/orders:v1", "chaoslab/payments:v1", "chaoslab/registry:v1", "chaoslab/shipping:v1"}},
		{name: "offline, shop only", cfg: Config{Lab: shop, ImageTag: "dev", Offline: true, ShopOnly: true},
			want: []string{"chaoslab/gateway:dev", "chaoslab/inventory:dev", "chaoslab/issuer:dev", "chaoslab/nats:dev", "chaoslab/orders:dev", "chaoslab/payments:dev", "chaoslab/registry:dev", "chaoslab/shipping:dev", "chaoslab/toxiproxy:local"}},
		{name: "offline", cfg: Config{Lab: shop, ImageTag: "dev", Offline: true},
			want: []string{"chaoslab/gateway:dev", "chaoslab/inventory:dev", "chaoslab/issuer:dev", "chaoslab/jaeger:local", "chaoslab/nats:dev", "chaoslab/orders:dev", "chaoslab/payments:dev", "chaoslab/prometheus:local", "chaoslab/registry:dev", "chaoslab/shipping:dev", "chaoslab/toxiproxy:local"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.images()
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// trimScheme is the host:port of an http URL.
func trimScheme(u string) string {
	hostPort, _, _ := strings.Cut(strings.TrimPrefix(u, "http://"), "/")
	return hostPort
}

// A later process (`chaoslab clean`) reads the knobs a crashed run left
// from the state file.
func TestOverridesComeFromTheState(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "jwt.key")
	require.NoError(t, os.WriteFile(key, []byte("k\n"), 0o600))
	st := State{
		Endpoints: stack.Endpoints{JWTKeyFile: key, Services: map[string]stack.Service{
			"orders":    {},
			"inventory": {Instances: []stack.Instance{{Name: "inventory-0"}, {Name: "inventory-1"}}},
		}},
		Knobs: map[string]map[string]string{"orders": {"retries": "false"}, "inventory-0": {"max-inflight": "4"}, "inventory-1": {"max-inflight": "8"}},
	}
	b, err := json.Marshal(st)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "state.json"), b, 0o644))

	lab, err := Attach(Config{Dir: dir, RunDir: dir})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"retries": "false"}, lab.Overrides("orders"))
	assert.Nil(t, lab.Overrides("payments"))
	assert.Equal(t, map[string]string{"max-inflight": "4"}, lab.Overrides("inventory"), "a service's are its first replica's")
	assert.Equal(t, map[string]string{"max-inflight": "8"}, lab.Overrides("inventory-1"))
}
