package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/lab"
)

// replicatedLab is testdata/lab.yaml with store run as two replicas, its
// ports and its proxy 200 apart.
func replicatedLab(t *testing.T) *lab.Lab {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "lab.yaml"))
	require.NoError(t, err)
	doc := strings.Replace(string(b), "  store:\n    protocol: grpc\n", "  store:\n    protocol: grpc\n    replicas: 2\n", 1)
	doc = strings.Replace(doc, "proxies: {port: 7474}", "proxies: {port: 7474}\nreplica_port_step: 200", 1)
	require.NotEqual(t, string(b), doc)
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "k6"), 0o755))
	path := filepath.Join(dir, "lab.yaml")
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o644))
	l, err := lab.Load(path)
	require.NoError(t, err)
	require.Equal(t, 2, l.Replicas("store"))
	return l
}

func TestReplicasGetTheirOwnPortsProxiesAndTargets(t *testing.T) {
	l := replicatedLab(t)
	p := PortsFor(l, 0)
	assert.Equal(t, 7090, p["store"]["grpc"], "the first replica keeps the service's ports")
	assert.Equal(t, 7290, p["store-1"]["grpc"], "the second adds the step")
	assert.Equal(t, 7292, p["store-1"]["metrics"])
	assert.Equal(t, 7010, p["toxiproxy"]["proxy api->store"])
	assert.Equal(t, 7210, p["toxiproxy"]["proxy api->store[1]"], "a proxy per replica of the callee")

	e := EndpointsFor(l, p, "")
	store := e.Services["store"]
	assert.Equal(t, []string{"store-0", "store-1"}, store.InstanceNames())
	assert.Equal(t, "http://127.0.0.1:7291", store.Instances[1].AdminURL, "each replica's admin API")
	assert.Equal(t, "127.0.0.1:7090", store.Instances[0].Addr)
	edge := e.Edges["api->store"]
	assert.Equal(t, []string{"api_to_store", "api_to_store-1"}, edge.Proxies())
	assert.Equal(t, "127.0.0.1:7210", edge.Replicas[0].Listen)
	assert.Equal(t, "127.0.0.1:7290", edge.Replicas[0].Upstream, "replica 1's proxy leads to replica 1")
	assert.Len(t, e.ProxySpecs(), 4, "three edges, one of them with two proxies")
	inst, ok := e.Instance("store-1")
	require.True(t, ok)
	assert.Equal(t, "127.0.0.1:7290", inst.Addr)

	cfg := prometheusConfig(l, p, time.Second, nil)
	assert.Contains(t, cfg, "- targets: [\"127.0.0.1:7092\"]\n        labels: {instance: \"store-0\"}")
	assert.Contains(t, cfg, "- targets: [\"127.0.0.1:7292\"]\n        labels: {instance: \"store-1\"}")
	assert.Equal(t, 1, strings.Count(cfg, `job_name: "store"`), "one job, a target per replica")
}

func TestReplicasAreStartedAndAddressedAsOneServiceOrOneInstance(t *testing.T) {
	l := replicatedLab(t)
	runDir := t.TempDir()
	binDir := t.TempDir()
	for _, name := range []string{"api", "store", "ledger"} {
		require.NoError(t, os.WriteFile(filepath.Join(binDir, name), []byte("#!/bin/sh\n"), 0o755))
	}
	cfg := DefaultConfig()
	cfg.ToolsDir = "/opt/tools"
	pl, err := planFor(l, cfg, runDir, binDir, map[string]string{"key_file": "/run/jwt.key", "key": "k"}, "/run/jwt.key")
	require.NoError(t, err)
	var names []string
	for _, s := range pl.services {
		names = append(names, s.name+"/"+s.serviceName())
	}
	assert.Equal(t, []string{"store-0/store", "store-1/store", "ledger/ledger", "api/api"}, names, "each replica, dependencies first")

	st := &State{Endpoints: pl.endpoints}
	assert.Equal(t, []string{"store-0", "store-1"}, st.members("store"), "a service with replicas means all of them")
	assert.Equal(t, []string{"store-1"}, st.members("store-1"), "an instance, itself")
	assert.Equal(t, []string{"api"}, st.members("api"))
	assert.Equal(t, "store", st.serviceOf("store-1"))
	assert.Equal(t, "api", st.serviceOf("api"))
}
