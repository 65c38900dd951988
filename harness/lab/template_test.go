package lab

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRenderLocal(t *testing.T) {
	doc := strings.Replace(base, "protocol: http", "protocol: http\n    replicas: 2", 1)
	doc = strings.Replace(doc, "load:", "replica_port_step: 10\nload:", 1)
	doc = strings.Replace(doc, `args: ["-listen"`, `env: {WEB_DATA: "{{.DataDir}}/{{.Name}}-{{.Replica}}", WEB_OTLP: "{{.Telemetry.OTLPHTTP}}"}`+"\n      args: [\"-listen\"", 1)
	l, err := Parse("t.yaml", []byte(doc))
	require.NoError(t, err)
	p := l.LocalPlacement(10, "/run", "bin", nil)

	got, err := l.RenderLocal("web", 1, p)
	require.NoError(t, err)
	assert.Equal(t, Process{
		Command: "bin/web",
		Args:    []string{"-listen", "127.0.0.1:7020", "-ledger", "127.0.0.1:6011"},
		Env:     []string{"WEB_DATA=/run/data/web-1", "WEB_OTLP=127.0.0.1:4328"},
	}, got, "replica 1 adds the step to its ports; the offset shifts every port")

	_, err = l.RenderLocal("web", 2, p)
	assert.EqualError(t, err, "service web has 2 replicas, not a replica 2")
	_, err = l.RenderLocal("ledger", 0, p)
	assert.EqualError(t, err, `service "ledger" has no local command in lab bank`)

	args, err := l.KnobArgs("web", map[string]string{"timeout": "2s"})
	require.NoError(t, err)
	assert.Equal(t, []string{"-timeout=2s"}, args)
	_, err = l.KnobArgs("web", map[string]string{"timeout": "20s"})
	assert.EqualError(t, err, "knob timeout of web: 20s is out of range: must be from 10ms to 10s")
}

func TestRenderCompose(t *testing.T) {
	l, err := Parse("t.yaml", []byte(base))
	require.NoError(t, err)
	c, err := l.RenderCompose("ledger", 0, l.ComposePlacement("/run", "v1", nil))
	require.NoError(t, err)
	assert.Equal(t, Container{Image: "bank/ledger:v1", Env: []EnvVar{{"LEDGER_LISTEN", "0.0.0.0:7001"}, {"LEDGER_DATA", "/data/ledger-0"}}}, c)
}

func TestRenderHarness(t *testing.T) {
	l, err := Parse("t.yaml", []byte(base))
	require.NoError(t, err)
	inv, _ := l.Invariant("balanced")
	h := l.HarnessVarsFor(l.LocalPlacement(1, "/run", "bin", nil), "http://127.0.0.1:9091")
	got, err := Render("invariants.balanced.command[1]", inv.Command[1], h)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:7002", got)
}

func TestAuthVars(t *testing.T) {
	assert.Equal(t, map[string]string{"key_file": "/run/jwt.key", "key": "k"}, Auth{Provider: AuthHS256}.AuthVars("/run/jwt.key", "k"))
	assert.Empty(t, Auth{Provider: AuthNone}.AuthVars("/run/jwt.key", "k"))
}

func TestPortPlan(t *testing.T) {
	doc := strings.Replace(base, "protocol: grpc", "protocol: grpc\n    replicas: 2", 1)
	doc = strings.Replace(doc, "load:", "replica_port_step: 100\nload:", 1)
	l, err := Parse("t.yaml", []byte(doc))
	require.NoError(t, err)
	var got []string
	for _, p := range l.PortPlan() {
		got = append(got, p.String())
	}
	assert.Equal(t, []string{
		"web public 7000", "web metrics 7100",
		"ledger public 7001", "ledger admin 7201", "ledger[1] public 7101", "ledger[1] admin 7301",
		"toxiproxy api 8474", "toxiproxy proxy client->web 6000",
		"toxiproxy proxy web->ledger 6001", "toxiproxy[1] proxy web->ledger 6101",
		"prometheus http 9090",
		"jaeger otlp-grpc 4317", "jaeger otlp-http 4318", "jaeger query-grpc 16685", "jaeger query-http 16686",
		"jaeger health 13133", "jaeger metrics 8888",
		"chaoslab metrics 9099",
	}, got)
}

// A replica of a service with replicas is named by its instance and
// advertises, per edge that leads to it, the edge's key with the address
// of its own proxy of that edge.
func TestRenderReplicaIdentity(t *testing.T) {
	doc := strings.Replace(base, "protocol: grpc", "protocol: grpc\n    replicas: 2", 1)
	doc = strings.Replace(doc, "load:", "replica_port_step: 10\nload:", 1)
	doc = strings.Replace(doc, `LEDGER_DATA: "{{.DataDir}}/ledger-{{.Replica}}"`,
		`LEDGER_DATA: "{{.DataDir}}/ledger-{{.Replica}}", LEDGER_ID: "{{.Instance}}", LEDGER_ADVERTISE: "{{.Advertise}}"`, 1)
	l, err := Parse("t.yaml", []byte(doc))
	require.NoError(t, err)
	tests := []struct {
		replica             int
		instance, advertise string
	}{
		{0, "ledger-0", "web_to_ledger=toxiproxy:6001"},
		{1, "ledger-1", "web_to_ledger=toxiproxy:6011"},
	}
	for _, tt := range tests {
		c, err := l.RenderCompose("ledger", tt.replica, l.ComposePlacement("/run", "v1", nil))
		require.NoError(t, err)
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		assert.Equal(t, tt.instance, env["LEDGER_ID"])
		assert.Equal(t, tt.advertise, env["LEDGER_ADVERTISE"], "the edge's key, this replica's proxy")
	}
	web, _ := l.Service("web")
	assert.Equal(t, []string{"web"}, web.Instances(), "a service of one replica is its name")
	edge, _ := l.Edge("web->ledger")
	assert.Equal(t, "web_to_ledger-1", edge.ReplicaProxy(1))
	assert.Equal(t, 2, l.Replicas("ledger"))
	assert.Equal(t, 1, l.Replicas("client"))
}
