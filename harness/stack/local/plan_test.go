package local

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/stack"
)

// testLab loads testdata/lab.yaml: a front that fans out to two gRPC
// backends, named unlike the shop's services.
func testLab(t *testing.T) *lab.Lab {
	t.Helper()
	l, err := lab.Load(filepath.Join("testdata", "lab.yaml"))
	require.NoError(t, err)
	return l
}

func TestPortsForFollowTheLabFileAndShift(t *testing.T) {
	l := testLab(t)
	for _, offset := range []int{0, 100} {
		p := PortsFor(l, offset)
		assert.Equal(t, 7080+offset, p["api"]["public"])
		assert.Equal(t, 7091+offset, p["store"]["admin"])
		assert.Equal(t, 7474+offset, p["toxiproxy"]["api"])
		assert.Equal(t, 7011+offset, p["toxiproxy"]["proxy api->ledger"])
		assert.Equal(t, 7900+offset, p["prometheus"]["http"])
		assert.Equal(t, 7685+offset, p["jaeger"]["query-grpc"])
		assert.Equal(t, 7099+offset, p["chaoslab"]["metrics"])
		seen := map[int]string{}
		for _, port := range p.List() {
			who := port.Component + " " + port.Name
			prev, dup := seen[port.Number]
			require.False(t, dup, "port %d used by %s and %s", port.Number, prev, who)
			seen[port.Number] = who
		}
	}
}

func TestEndpointsWireEachEdgeToItsCalleesPort(t *testing.T) {
	l := testLab(t)
	e := EndpointsFor(l, PortsFor(l, 0), "/run/jwt.key")
	assert.Equal(t, "notes", e.Lab)
	assert.Equal(t, "http://127.0.0.1:7000", e.GatewayURL, "load enters through the entry edge's proxy")
	assert.Equal(t, "http://127.0.0.1:7900", e.PrometheusURL)
	assert.Equal(t, "127.0.0.1:7685", e.JaegerQueryGRPC)
	assert.Equal(t, "127.0.0.1:7317", e.OTLPGRPC)
	assert.Equal(t, "127.0.0.1:7133", e.JaegerHealthAddr)
	assert.Equal(t, "http://127.0.0.1:7474", e.ToxiproxyURL)
	assert.Equal(t, "127.0.0.1:7099", e.HarnessMetricsAddr)
	assert.Equal(t, []string{"store", "ledger", "api"}, e.ServiceOrder, "dependencies first")

	assert.Equal(t, map[string]string{
		"client->api": "127.0.0.1:7000 → 127.0.0.1:7080",
		"api->store":  "127.0.0.1:7010 → 127.0.0.1:7090",
		"api->ledger": "127.0.0.1:7011 → 127.0.0.1:7095",
	}, edgeWiring(e.Edges), "each proxy forwards to the callee's target port")
	assert.Equal(t, "api_to_store", e.Edges["api->store"].Proxy)

	api, store, ledger := e.Services["api"], e.Services["store"], e.Services["ledger"]
	assert.Equal(t, "http", api.Protocol)
	assert.Equal(t, "127.0.0.1:7090", store.Addr, "the port the edges reach")
	assert.Equal(t, "http://127.0.0.1:7081/stats", api.MetricsURL, "the lab's metrics path")
	assert.Equal(t, "http://127.0.0.1:7092/metrics", store.MetricsURL)
	assert.Empty(t, ledger.MetricsURL, "no metrics")
	assert.Equal(t, "http://127.0.0.1:7081/ready", api.ReadyURL)
	assert.Equal(t, "grpc://127.0.0.1:7095/ledger.v1.Ledger", ledger.ReadyURL, "gRPC health")
	assert.Equal(t, "http://127.0.0.1:7091", store.AdminURL, "the faultinject client adds /faults")
	assert.Empty(t, api.AdminURL, "no fault admin API: no request faults")
}

func edgeWiring(edges map[string]stack.Edge) map[string]string {
	out := map[string]string{}
	for name, e := range edges {
		out[name] = e.Listen + " → " + e.Upstream
	}
	return out
}

// The plan renders each service's command from the lab file, dependencies
// first, with its dependencies reached through their proxies.
func TestPlanRendersTheServicesFromTheLabFile(t *testing.T) {
	l := testLab(t)
	bin := t.TempDir()
	for _, name := range []string{"api", "store", "ledger"} {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"), 0o755))
	}
	cfg := Config{Lab: l, PortOffset: 5}
	pl, err := planFor(l, cfg, "/run", bin, l.Load.Auth.AuthVars("/run/jwt.key", "k"), "/run/jwt.key")
	require.NoError(t, err)
	require.Len(t, pl.services, 3)
	var names []string
	for _, s := range pl.services {
		names = append(names, s.name)
		assert.Equal(t, filepath.Join(bin, s.name), s.command)
		assert.Equal(t, l.Dir(), s.dir, "services run in the lab's root")
	}
	assert.Equal(t, []string{"store", "ledger", "api"}, names)
	api := pl.services[2]
	assert.Equal(t, []string{
		"--listen=127.0.0.1:7085", "--metrics=127.0.0.1:7086",
		"--store=127.0.0.1:7015", "--ledger=127.0.0.1:7016", "--key=/run/jwt.key",
	}, api.args)
	assert.Equal(t, []string{"API_OTLP=127.0.0.1:7322"}, api.env)
	assert.Equal(t, "http://127.0.0.1:7086/ready", api.ready)
	assert.Equal(t, []string{"--listen=127.0.0.1:7095", "--admin=127.0.0.1:7096", "--db=/run/data/store.db"}, pl.services[0].args)
	assert.Equal(t, "/run/jwt.key", pl.endpoints.JWTKeyFile)
}

func TestPlanNamesEveryMissingCommand(t *testing.T) {
	l := testLab(t)
	_, err := planFor(l, Config{Lab: l}, "/run", t.TempDir(), l.Load.Auth.AuthVars("/run/jwt.key", "k"), "/run/jwt.key")
	require.Error(t, err)
	for _, want := range []string{"api's command", "store's command", "ledger's command", "does not exist", "make build"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestPlanRefusesWhatTheLocalStackCannotRun(t *testing.T) {
	l := testLab(t)
	ledger, _ := l.Service("ledger")
	ledger.Local = nil
	_, err := planFor(l, Config{Lab: l}, "/run", t.TempDir(), nil, "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "service ledger has no local command")
}

// Restart renders knobs with the service's knob_arg.
func TestKnobArgsFollowTheLabFile(t *testing.T) {
	l := testLab(t)
	args, err := l.KnobArgs("ledger", map[string]string{"fsync": "false"})
	require.NoError(t, err)
	assert.Equal(t, []string{"--fsync=false"}, args)
}

// A lab on the team's own Prometheus and Jaeger: the harness talks to
// those, and plans none of its own.
func TestEndpointsOnExistingTelemetry(t *testing.T) {
	l, err := lab.Parse(filepath.Join(t.TempDir(), "lab.yaml"), []byte(`name: payroll
services:
  front:
    protocol: http
    ports: {public: 7100, metrics: 7101}
    local: {command: ./front}
    ready: {http: {port: metrics, path: /ready}}
    metrics: {port: metrics}
edges:
  client->front: {proxy_port: 7000}
telemetry:
  prometheus: {url: "http://127.0.0.1:19090"}
  jaeger: {otlp_grpc: "127.0.0.1:14317", otlp_http: "127.0.0.1:14318", query_grpc: "127.0.0.1:16685", query_url: "http://127.0.0.1:16686"}
load: {scripts: .}
`))
	require.NoError(t, err)
	ports := PortsFor(l, 0)
	assert.NotContains(t, ports, "prometheus", "no own Prometheus")
	assert.NotContains(t, ports, "jaeger", "no own Jaeger")
	e := EndpointsFor(l, ports, "")
	assert.Equal(t, "http://127.0.0.1:19090", e.PrometheusURL)
	assert.Equal(t, "127.0.0.1:14317", e.OTLPGRPC)
	assert.Equal(t, "127.0.0.1:16685", e.JaegerQueryGRPC)
	assert.Equal(t, "http://127.0.0.1:16686", e.JaegerQueryURL)
	assert.Empty(t, e.JaegerHealthAddr)
	assert.Empty(t, e.JWTKeyFile, "auth none: no key")
}
