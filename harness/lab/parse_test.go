package lab

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/diag"
)

// base is a valid lab, not the shop (its names are not the shop's), that
// the rule tests change one thing in.
const base = `name: bank
services:
  web:
    protocol: http
    ports: {public: 7000, metrics: 7100}
    local:
      command: "{{.BinDir}}/web"
      args: ["-listen", "{{.Listen.public}}", "-ledger", '{{.Edge "web->ledger"}}']
    ready: {http: {port: metrics, path: /ready}}
    metrics: {port: metrics}
    knobs:
      timeout: {type: duration, min: 10ms, max: 10s, default: 500ms, help: "per-call timeout"}
  ledger:
    protocol: grpc
    ports: {public: 7001, admin: 7201}
    compose:
      image: "bank/ledger:{{.ImageTag}}"
      env: {LEDGER_LISTEN: "{{.Listen.public}}", LEDGER_DATA: "{{.DataDir}}/ledger-{{.Replica}}"}
    ready: {grpc: {port: public}}
    faults: {port: admin}
    knobs:
      cache: {type: bool, default: true, help: "cache balances"}
      workers: {type: int, min: 1, max: 64, default: 4, help: "worker goroutines"}
      ratio: {type: float, min: 0, max: 1, default: 0.5, help: "sampled share"}
      mode: {type: string, values: [fast, safe], default: safe, help: "write mode"}
edges:
  client->web: {proxy_port: 6000}
  web->ledger: {proxy_port: 6001}
load:
  scripts: k6
invariants:
  balanced: {command: [./check-balance, '{{.Addr "ledger" "public"}}']}
`

// edit returns base with old replaced by new; old must be in base, so that
// a test cannot pass because its edit did nothing.
func edit(t *testing.T, old, new string) string {
	t.Helper()
	require.Contains(t, base, old)
	return strings.Replace(base, old, new, 1)
}

// positionRE is the "file:line:col: " prefix of a problem.
var positionRE = regexp.MustCompile(`^t\.yaml:\d+:\d+: `)

// problems parses doc as t.yaml and returns its problems without their
// positions, checking that each has one.
func problems(t *testing.T, doc string, opts ...Option) []string {
	t.Helper()
	_, err := Parse("t.yaml", []byte(doc), opts...)
	if err == nil {
		return nil
	}
	var verr *diag.ValidationError
	require.ErrorAs(t, err, &verr)
	var out []string
	for _, p := range verr.Problems {
		s := p.String()
		require.Regexp(t, positionRE, s)
		out = append(out, positionRE.ReplaceAllString(s, ""))
	}
	return out
}

func TestBaseIsValid(t *testing.T) {
	assert.Empty(t, problems(t, base))
}

func TestParseModel(t *testing.T) {
	l, err := Parse("labs/bank/lab.yaml", []byte(base))
	require.NoError(t, err)
	assert.Equal(t, "bank", l.Name)
	assert.Equal(t, ".", l.Root)
	assert.Equal(t, "labs/bank/k6", l.Path(l.Load.Scripts))
	assert.Equal(t, []string{"web", "ledger"}, l.ServiceNames())
	assert.Equal(t, []string{"ledger", "web"}, l.StartOrder(), "dependencies first")
	assert.Equal(t, []string{"client->web", "web->ledger"}, l.EdgeNames())

	web, ok := l.Service("web")
	require.True(t, ok)
	assert.Equal(t, HTTP, web.Protocol)
	assert.Equal(t, 1, web.Replicas, "default")
	assert.Equal(t, []Port{{Pos: Pos{5, 13}, Name: "public", Number: 7000}, {Pos: Pos{5, 27}, Name: "metrics", Number: 7100}}, web.Ports)
	assert.Equal(t, &Endpoint{Port: "metrics", Path: "/ready"}, web.Ready.HTTP)
	assert.Equal(t, &Endpoint{Port: "metrics", Path: "/metrics"}, web.Metrics, "default path")
	assert.Nil(t, web.Faults, "no fault admin: no request faults")
	assert.Nil(t, web.Compose)
	assert.Equal(t, defaultKnobArg, web.Local.KnobArg)
	assert.Equal(t, &Knob{Pos: Pos{12, 7}, Name: "timeout", Type: KnobDuration, MinDuration: 10 * time.Millisecond, MaxDuration: 10 * time.Second,
		Default: "500ms", Help: "per-call timeout"}, web.Knobs[0])

	ledger, _ := l.Service("ledger")
	assert.Equal(t, &GRPCHealth{Port: "public"}, ledger.Ready.GRPC)
	assert.Equal(t, &Endpoint{Port: "admin", Path: "/faults"}, ledger.Faults)
	assert.Nil(t, ledger.Local)
	assert.Equal(t, []EnvVar{{"LEDGER_LISTEN", "{{.Listen.public}}"}, {"LEDGER_DATA", "{{.DataDir}}/ledger-{{.Replica}}"}}, ledger.Compose.Env)
	assert.Equal(t, []string{"cache", "workers", "ratio", "mode"}, l.KnobNames("ledger"))
	assert.Equal(t, "0.5", ledger.Knobs[2].Default)

	e, _ := l.Edge("web->ledger")
	assert.Equal(t, &Edge{Pos: Pos{28, 3}, Name: "web->ledger", From: "web", To: "ledger", ProxyPort: 6001, TargetPort: "public"}, e)
	assert.Equal(t, "web_to_ledger", e.Proxy())
	assert.False(t, e.Entry())
	assert.Equal(t, "client->web", l.Load.Entry, "the only entry edge")

	// The defaults.
	assert.Equal(t, LoadSettings{Scripts: "k6", Entry: "client->web", Auth: Auth{Provider: AuthNone}, Acks: AcksConsole}, l.Load)
	assert.Equal(t, Proxies{Port: 8474}, l.Proxies)
	assert.Equal(t, 1000, l.ReplicaPortStep)
	assert.Equal(t, Prometheus{Port: 9090, ScrapeInterval: time.Second}, l.Telemetry.Prometheus)
	assert.True(t, l.Telemetry.Jaeger.Own())
	assert.Equal(t, JaegerPorts(), l.Telemetry.Jaeger.Ports)
	assert.Equal(t, 9099, l.Telemetry.HarnessPort)
	assert.Zero(t, l.Telemetry.SpanFlush, "not given: the runner's two scrape intervals")
	assert.Nil(t, l.Settle, "no settle probe by default")
	assert.Empty(t, l.SLOs)
	assert.Empty(t, l.Plots)
	assert.Equal(t, []string{"balanced"}, l.InvariantNames())
	inv, _ := l.Invariant("balanced")
	assert.Equal(t, "command", inv.Kind())
	assert.Equal(t, 30*time.Second, inv.Timeout)
}

func TestRules(t *testing.T) {
	builtins := WithBuiltins(Builtins{Invariants: []string{"conserved"}, Settle: []string{"idle"}})
	tests := []struct {
		name     string
		old, new string
		opts     []Option
		want     []string
	}{
		// The top.
		{name: "name is required", old: "name: bank\n", new: "",
			want: []string{`name: missing: the lab's name, like "shop"`}},
		{name: "name's characters", old: "name: bank", new: "name: Big Bank",
			want: []string{`name: "Big Bank": use 1 to 64 lowercase letters, digits, '-', '_' or '.'`}},
		{name: "unknown fields name the allowed ones", old: "name: bank", new: "name: bank\nversion: 2",
			want: []string{"version: unknown field; allowed: name, description, root, services, edges, proxies, replica_port_step, telemetry, load, slos, plots, settle, invariants, x-*"}},
		{name: "extension fields are ignored", old: "name: bank", new: "name: bank\nx-anything: {a: 1}"},
		{name: "repeated fields", old: "name: bank", new: "name: bank\nname: bank",
			want: []string{"name: repeated field: it is already set on line 1"}},

		// Services.
		{name: "protocol is http or grpc", old: "protocol: grpc", new: "protocol: tcp",
			want: []string{`services.ledger.protocol: unknown value "tcp"; allowed: http, grpc`}},
		{name: "replicas at least 1", old: "protocol: grpc", new: "protocol: grpc\n    replicas: 0",
			want: []string{"services.ledger.replicas: 0 is out of range: must be from 1 to 100"}},
		{name: "service names", old: "  ledger:\n", new: "  Ledger_1:\n",
			want: []string{`services.Ledger_1: "Ledger_1": a service name is a lowercase letter, then up to 62 lowercase letters, digits or '-'`,
				`edges.web->ledger: the callee "ledger" is no service of the lab; allowed: web`,
				`invariants.balanced.command[1]: no service "ledger"; allowed: web`}},
		{name: "reserved names", old: "  ledger:\n", new: "  toxiproxy:\n",
			want: []string{`services.toxiproxy: "toxiproxy" is reserved for the harness: name the service otherwise (reserved: client, toxiproxy, prometheus, jaeger, chaoslab, grafana, k6)`,
				`edges.web->ledger: the callee "ledger" is no service of the lab; allowed: web`,
				`invariants.balanced.command[1]: no service "ledger"; allowed: web`}},
		{name: "a service runs somewhere", old: "    compose:\n      image: \"bank/ledger:{{.ImageTag}}\"\n      env: {LEDGER_LISTEN: \"{{.Listen.public}}\", LEDGER_DATA: \"{{.DataDir}}/ledger-{{.Replica}}\"}\n", new: "",
			want: []string{"services.ledger: missing: how to run the service: local (a command) or compose (an image), or both; allowed: local, compose"}},
		{name: "port numbers", old: "admin: 7201", new: "admin: 72010",
			want: []string{"services.ledger.ports.admin: 72010 is out of range: must be from 1 to 65535", `services.ledger.faults.port: the service has no port "admin"; allowed: public`}},
		{name: "ports are planned once", old: "admin: 7201", new: "admin: 6001",
			want: []string{"port 6001 is planned twice: ledger admin 6001 and toxiproxy proxy web->ledger 6001; give each listener its own port"}},
		{name: "replicas' ports are planned too", old: "protocol: grpc", new: "protocol: grpc\n    replicas: 2",
			want: []string{"port 7001 is planned twice: ledger public 7001 and toxiproxy[1] proxy web->ledger 7001; give each listener its own port"}},
		{name: "the replica port step spaces them", old: "load:", new: "replica_port_step: 100\nload:"},
		{name: "ready names a port", old: "ready: {grpc: {port: public}}", new: "ready: {grpc: {port: grpc}}",
			want: []string{`services.ledger.ready.grpc.port: the service has no port "grpc"; allowed: public, admin`}},
		{name: "ports by name, not number", old: "metrics: {port: metrics}", new: "metrics: {port: 7100}",
			want: []string{"services.web.metrics.port: name the port (public, metrics), not its number; allowed: public, metrics"}},
		{name: "one readiness probe", old: "ready: {grpc: {port: public}}", new: "ready: {grpc: {port: public}, http: {port: public, path: /}}",
			want: []string{"services.ledger.ready.grpc: the probe is http already: give one of http and grpc"}},
		{name: "readiness is required", old: "    ready: {grpc: {port: public}}\n", new: "",
			want: []string{"services.ledger.ready: missing: the readiness probe: http: {port, path} or grpc: {port}"}},
		{name: "http readiness needs a path", old: "ready: {http: {port: metrics, path: /ready}}", new: "ready: {http: {port: metrics}}",
			want: []string{`services.web.ready.http.path: missing: the URL path, like "/readyz"`}},
		{name: "paths are paths", old: "path: /ready", new: "path: 'ready x'",
			want: []string{`services.web.ready.http.path: "ready x" is not a URL path: start it with '/', like "/readyz", without spaces, query or fragment`}},

		// Templates.
		{name: "templates name declared ports", old: `"{{.Listen.public}}", "-ledger"`, new: `"{{.Listen.http}}", "-ledger"`,
			want: []string{`services.web.local.args[1]: web has no port "http"; allowed: .Listen.public, .Listen.metrics`}},
		{name: "templates name the service's own edges", old: `'{{.Edge "web->ledger"}}'`, new: `'{{.Edge "client->web"}}'`,
			want: []string{`services.web.local.args[3]: web is not the caller of edge "client->web"; allowed: web->ledger`}},
		{name: "a service without edges", old: `LEDGER_DATA: "{{.DataDir}}/ledger-{{.Replica}}"`, new: `LEDGER_DATA: '{{.Edge "web->ledger"}}'`,
			want: []string{`services.ledger.compose.env.LEDGER_DATA: ledger is the caller of no edge, so it has no edge "web->ledger": declare it under edges`}},
		{name: "templates parse", old: `"{{.BinDir}}/web"`, new: `"{{.BinDir}/web"`,
			want: []string{`services.web.local.command: not a template: 1: bad character U+007D '}'`}},
		{name: "templates only substitute", old: `"{{.BinDir}}/web"`, new: `"{{if .BinDir}}x{{end}}"`,
			want: []string{`services.web.local.command: a template only substitutes values, like {{.Listen.public}} or {{.Edge "a->b"}}: no if, range, with, pipes, variables or functions; got {{if .BinDir}}x{{end}}`}},
		{name: "no functions", old: `"{{.BinDir}}/web"`, new: `'{{printf "%s" .BinDir}}'`,
			want: []string{`services.web.local.command: a template only substitutes values, like {{.Listen.public}} or {{.Edge "a->b"}}: no if, range, with, pipes, variables or functions; got {{printf "%s" .BinDir}}`}},
		{name: "unknown template values", old: `"{{.BinDir}}/web"`, new: `"{{.Bin}}/web"`,
			want: []string{`services.web.local.command: unknown template value .Bin; allowed: .Name, .Replica, .Instance, .Advertise, .DataDir, .RunDir, .BinDir, .ToolsDir, .ImageTag, .Listen.<port>, .Edge "<caller>-><callee>", .Telemetry.OTLPGRPC, .Telemetry.OTLPHTTP, .Auth.<key>`}},
		{name: "auth values need a provider that shares them", old: `"{{.BinDir}}/web"`, new: `"{{.Auth.key}}"`,
			want: []string{`services.web.local.command: the load's auth provider shares nothing with the services (hs256-jwt shares key_file and key; client-credentials client_id, secret_file and secret)`}},
		{name: "auth values of hs256-jwt", old: "load:\n  scripts: k6", new: "load:\n  scripts: k6\n  auth: {provider: hs256-jwt}",
			want: nil},
		{name: "unquoted templates", old: `["-listen", "{{.Listen.public}}",`, new: `["-listen", {{.Listen.public}},`,
			want: []string{`services.web.local.args[1]: want a string, got a mapping: quote a template, like "{{.Listen.public}}" (YAML reads an unquoted {…} as a mapping)`}},
		{name: "images see no addresses", old: `"bank/ledger:{{.ImageTag}}"`, new: `"bank/ledger:{{.Listen.public}}"`,
			want: []string{`services.ledger.compose.image: unknown template value .Listen.public; allowed: .ImageTag, .Name`}},
		{name: "knob args see the flag and the value", old: `command: "{{.BinDir}}/web"`, new: `command: "{{.BinDir}}/web"` + "\n      knob_arg: \"--{{.Flag}} {{.Knob}}\"",
			want: []string{`services.web.local.knob_arg: unknown template value .Knob; allowed: .Flag, .Value`}},
		{name: "env names", old: "LEDGER_LISTEN:", new: "LEDGER-LISTEN:",
			want: []string{`services.ledger.compose.env.LEDGER-LISTEN: "LEDGER-LISTEN" is not an environment variable's name: letters, digits and '_', not starting with a digit`}},
		{name: "env values are strings", old: `LEDGER_LISTEN: "{{.Listen.public}}"`, new: `LEDGER_LISTEN: 7001`,
			want: []string{`services.ledger.compose.env.LEDGER_LISTEN: want a string, got 7001: quote it, like "7001"`}},

		// Knobs.
		{name: "knob types", old: "type: bool, default: true", new: "type: boolean, default: true",
			want: []string{`services.ledger.knobs.cache.type: unknown value "boolean"; allowed: bool, int, float, duration, string`}},
		{name: "knob defaults have the type", old: "default: 4,", new: "default: four,",
			want: []string{`services.ledger.knobs.workers.default: want a whole number, got "four"`}},
		{name: "knob defaults are within bounds", old: "default: 4,", new: "default: 65,",
			want: []string{"services.ledger.knobs.workers.default: 65 is out of range: must be from 1 to 64"}},
		{name: "duration defaults are within bounds", old: "default: 500ms", new: "default: 1m",
			want: []string{"services.web.knobs.timeout.default: 1m0s is out of range: must be from 10ms to 10s"}},
		{name: "duration defaults have a unit", old: "default: 500ms", new: "default: 500",
			want: []string{`services.web.knobs.timeout.default: 500 has no unit: write a duration like "500s" or "500ms"`}},
		{name: "string defaults are among the values", old: "default: safe", new: "default: slow",
			want: []string{`services.ledger.knobs.mode.default: unknown value "slow"; allowed: fast, safe`}},
		{name: "numbers need bounds", old: "min: 1, max: 64, ", new: "",
			want: []string{"services.ledger.knobs.workers.min: missing: the smallest value a scenario may set: a whole number",
				"services.ledger.knobs.workers.max: missing: the largest value a scenario may set: a whole number"}},
		{name: "bounds in order", old: "min: 1, max: 64", new: "min: 64, max: 1",
			want: []string{"services.ledger.knobs.workers.max: 1 is below min (64)"}},
		{name: "bools have no bounds", old: "type: bool, default: true", new: "type: bool, min: 0, default: true",
			want: []string{"services.ledger.knobs.cache.min: a bool knob has no bounds: min applies to int, float and duration knobs"}},
		{name: "values are for strings", old: "type: int, min: 1", new: "type: int, values: [a], min: 1",
			want: []string{"services.ledger.knobs.workers.values: values applies to string knobs only"}},
		{name: "help is required", old: `, help: "cache balances"`, new: "",
			want: []string{"services.ledger.knobs.cache.help: missing: one line saying what the knob does"}},
		{name: "repeated knobs", old: "      ratio:", new: "      workers: {type: bool, default: true, help: x}\n      ratio:",
			want: []string{"services.ledger.knobs.workers: repeated field: it is already set on line 23"}},

		// Edges.
		{name: "edges are caller->callee", old: "web->ledger: {proxy_port: 6001}", new: "web-ledger: {proxy_port: 6001}",
			want: []string{`services.web.local.args[3]: web is the caller of no edge, so it has no edge "web->ledger": declare it under edges`,
				`edges.web-ledger: "web-ledger" is not an edge: write "caller->callee", like "api->store" or "client->api"`}},
		{name: "edges name services", old: "web->ledger: {proxy_port: 6001}", new: "web->ledgr: {proxy_port: 6001}",
			want: []string{`services.web.local.args[3]: web is the caller of no edge, so it has no edge "web->ledger": declare it under edges`,
				`edges.web->ledgr: the callee "ledgr" is no service of the lab; allowed: web, ledger`}},
		{name: "the client is never called", old: "web->ledger: {proxy_port: 6001}", new: "web->client: {proxy_port: 6001}",
			want: []string{`services.web.local.args[3]: web is the caller of no edge, so it has no edge "web->ledger": declare it under edges`,
				`edges.web->client: client calls the system; it is never called: an edge leads to a service; allowed: web, ledger`}},
		{name: "an entry edge is required", old: "  client->web: {proxy_port: 6000}\n", new: "",
			want: []string{"edges: no entry edge: add one from client in front of the system, like client->api: {proxy_port: 8000}"}},
		{name: "edges need a proxy port", old: "{proxy_port: 6001}", new: "{}",
			want: []string{"edges.web->ledger.proxy_port: missing: the port the edge's Toxiproxy proxy listens on"}},
		{name: "target ports exist", old: "{proxy_port: 6001}", new: "{proxy_port: 6001, target_port: grpc}",
			want: []string{`edges.web->ledger.target_port: ledger has no port "grpc" for the proxy to forward to; allowed: public, admin`}},
		{name: "entry names an entry edge", old: "scripts: k6", new: "scripts: k6\n  entry: web->ledger",
			want: []string{`load.entry: "web->ledger" is not an entry edge (one from client); allowed: client->web`}},
		{name: "several entry edges need load.entry", old: "  web->ledger: {proxy_port: 6001}", new: "  web->ledger: {proxy_port: 6001}\n  client->ledger: {proxy_port: 6002}",
			want: []string{"load.entry: missing: the lab has 2 entry edges: say which one BASE_URL points at; allowed: client->web, client->ledger"}},

		// Telemetry.
		{name: "an existing Prometheus", old: "load:", new: "telemetry:\n  prometheus: {url: 'http://prom:9090'}\nload:"},
		{name: "an existing Prometheus has no own port", old: "load:", new: "telemetry:\n  prometheus: {url: 'http://prom:9090', port: 9090}\nload:",
			want: []string{"telemetry.prometheus.port: applies to the harness's own Prometheus only: remove it, or remove url"}},
		{name: "URLs", old: "load:", new: "telemetry:\n  prometheus: {url: 'prom:9090'}\nload:",
			want: []string{`telemetry.prometheus.url: "prom:9090" is not an http(s) URL: write one like http://127.0.0.1:9090`}},
		{name: "an existing Jaeger needs its addresses", old: "load:", new: "telemetry:\n  jaeger: {otlp_grpc: 'jaeger:4317'}\nload:",
			want: []string{"telemetry.jaeger.query_grpc: missing: host:port of its api_v2 query service",
				"telemetry.jaeger.query_url: missing: its HTTP query API, like http://jaeger:16686"}},
		{name: "own Jaeger ports", old: "load:", new: "telemetry:\n  jaeger: {ports: {otlp: 4317}}\nload:",
			want: []string{"telemetry.jaeger.ports.otlp: unknown field; allowed: otlp-grpc, otlp-http, query-grpc, query-http, health, metrics"}},
		{name: "scrape interval", old: "load:", new: "telemetry:\n  prometheus: {scrape_interval: 10ms}\nload:",
			want: []string{"telemetry.prometheus.scrape_interval: 10ms is out of range: must be from 100ms to 1m0s"}},
		{name: "span flush", old: "load:", new: "telemetry:\n  span_flush: 750ms\nload:"},
		{name: "span flush out of range", old: "load:", new: "telemetry:\n  span_flush: 2m\nload:",
			want: []string{"telemetry.span_flush: 2m0s is out of range: must be from 10ms to 1m0s"}},
		{name: "span flush is a duration", old: "load:", new: "telemetry:\n  span_flush: 1\nload:",
			want: []string{`telemetry.span_flush: 1 has no unit: write a duration like "1s" or "500ms"`}},

		// Load.
		{name: "scripts are required", old: "scripts: k6", new: "acks: none",
			want: []string{`load.scripts: missing: the directory of the k6 scripts, relative to the lab's root, like "loadtests"`}},
		{name: "auth providers", old: "scripts: k6", new: "scripts: k6\n  auth: {provider: oauth}",
			want: []string{`load.auth.provider: unknown value "oauth"; allowed: none, hs256-jwt, client-credentials, command`}},
		{name: "auth settings belong to their provider", old: "scripts: k6", new: "scripts: k6\n  auth: {provider: hs256-jwt, command: [x]}",
			want: []string{"load.auth.command: the hs256-jwt provider has no setting command; allowed: key_file, subject, ttl"}},
		{name: "the key file is in the run dir", old: "scripts: k6", new: "scripts: k6\n  auth: {provider: hs256-jwt, key_file: /etc/key}",
			want: []string{`load.auth.key_file: "/etc/key": the key file is inside the run dir: give a path relative to it, like "jwt.key"`}},
		{name: "client-credentials needs its token endpoint", old: "scripts: k6", new: "scripts: k6\n  auth: {provider: client-credentials}",
			want: []string{`load.auth.token_url: missing: the issuer's token endpoint, like "http://{{.Addr \"issuer\" \"public\"}}/oauth2/token"`}},
		{name: "client-credentials settings", old: "scripts: k6", new: "scripts: k6\n  auth: {provider: client-credentials, token_url: 'http://{{.Addr \"web\" \"public\"}}/token', subject: x, secret_file: ../s}",
			want: []string{
				"load.auth.subject: the client-credentials provider has no setting subject; allowed: token_url, client_id, secret_file, scopes",
				`load.auth.secret_file: "../s": the secret file is inside the run dir: give a path relative to it, like "client.secret"`,
			}},
		{name: "client-credentials' token endpoint is a harness template", old: "scripts: k6", new: "scripts: k6\n  auth: {provider: client-credentials, token_url: 'http://{{.Listen.public}}/token'}",
			want: []string{`load.auth.token_url: unknown template value .Listen.public; allowed: .RunDir, .BinDir, .PrometheusURL, .Addr "<service>" "<port>"`}},
		{name: "an auth command", old: "scripts: k6", new: "scripts: k6\n  auth: {provider: command, command: [./token, '{{.Addr \"web\" \"public\"}}']}"},
		{name: "acks", old: "scripts: k6", new: "scripts: k6\n  acks: log",
			want: []string{`load.acks: unknown value "log"; allowed: console, none`}},
		{name: "env does not override the contract", old: "scripts: k6", new: "scripts: k6\n  env: {BASE_URL: x, REQUEST_TIMEOUT: 5s}",
			want: []string{"load.env.BASE_URL: is set by the harness (the script env contract, or k6's remote write): choose another name"}},

		// Plots.
		{name: "plots", old: "invariants:", new: "plots:\n  - {name: p99, unit: s, query: x, scripts: [pay.js]}\ninvariants:"},
		{name: "plot names are unique", old: "invariants:", new: "plots:\n  - {name: p99, unit: s, query: x}\n  - {name: p99, unit: s, query: y}\ninvariants:",
			want: []string{`plots[1].name: repeated plot name: plots[0] is "p99" already`}},
		{name: "plots need a query", old: "invariants:", new: "plots:\n  - {name: p99, unit: s}\ninvariants:",
			want: []string{"plots[0].query: missing: an instant PromQL query"}},
		{name: "plot scripts are script names", old: "invariants:", new: "plots:\n  - {name: p99, unit: s, query: x, scripts: [k6/pay.js]}\ninvariants:",
			want: []string{`plots[0].scripts[0]: "k6/pay.js": name a k6 script by its file name in the scripts' directory, like "checkout.js"`}},

		// Settle and invariants.
		{name: "a builtin settle probe", old: "invariants:", new: "settle: {builtin: idle}\ninvariants:", opts: []Option{builtins}},
		{name: "builtins must be registered", old: "invariants:", new: "settle: {builtin: idle}\ninvariants:",
			want: []string{`settle.builtin: no built-in settle probe is registered, so there is no "idle": use command or http`}},
		{name: "unknown builtins", old: "balanced: {command: [./check-balance, '{{.Addr \"ledger\" \"public\"}}']}", new: "balanced: {builtin: balance}",
			opts: []Option{builtins}, want: []string{`invariants.balanced.builtin: unknown built-in invariant "balance"; allowed: conserved`}},
		{name: "one checker", old: "{command: [./check-balance,", new: "{http: 'http://x/check', command: [./check-balance,",
			want: []string{"invariants.balanced.command: the invariant is http already: give one of builtin, command and http"}},
		{name: "a checker is required", old: "balanced: {command: [./check-balance, '{{.Addr \"ledger\" \"public\"}}']}", new: "balanced: {timeout: 5s}",
			want: []string{"invariants.balanced: missing: how to evaluate the invariant: builtin, command or http; allowed: builtin, command, http"}},
		{name: "harness templates name ports", old: `'{{.Addr "ledger" "public"}}'`, new: `'{{.Addr "ledger" "metrics"}}'`,
			want: []string{`invariants.balanced.command[1]: service ledger has no port "metrics"; allowed: public, admin`}},
		{name: "harness templates see no service values", old: `'{{.Addr "ledger" "public"}}'`, new: `'{{.Listen.public}}'`,
			want: []string{`invariants.balanced.command[1]: unknown template value .Listen.public; allowed: .RunDir, .BinDir, .PrometheusURL, .Addr "<service>" "<port>"`}},
		{name: "http checkers take URLs", old: "{command: [./check-balance, '{{.Addr \"ledger\" \"public\"}}']}", new: "{http: 'localhost/check'}",
			want: []string{`invariants.balanced.http: "localhost/check" is not an http(s) URL: write one like http://127.0.0.1:9090`}},
		{name: "settle interval below timeout", old: "invariants:", new: "settle: {command: [./idle], timeout: 2s, interval: 3s}\ninvariants:",
			want: []string{"settle.interval: 3s is longer than the timeout (2s): the probe would run once"}},
		{name: "invariant names", old: "  balanced:", new: "  Balanced Books:",
			want: []string{`invariants.Balanced Books: "Balanced Books": an invariant's name is 1 to 64 lowercase letters, digits, '-', '_' or '.'`}},

		// The file.
		{name: "one document", old: "  scripts: k6\n", new: "  scripts: k6\n---\nname: other\n",
			want: []string{`a lab file holds one YAML document: remove the "---" and what follows`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, problems(t, edit(t, tt.old, tt.new), tt.opts...))
		})
	}
}

func TestEmptyAndBroken(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"empty", "", "t.yaml:1:1: the file is empty: a lab needs name, services, edges, load"},
		{"comments only", "# nothing\n", "t.yaml:1:1: the file is empty: a lab needs name, services, edges, load"},
		{"a list", "- a\n", "t.yaml:1:1: want a mapping of field: value, got a list; allowed: name, description, root, services, edges, proxies, replica_port_step, telemetry, load, slos, plots, settle, invariants, x-*"},
		{"syntax", "name: [bank\n", "t.yaml:2:1: did not find expected ',' or ']': fix the YAML syntax"},
		{"a second document", base + "--- [\n", "t.yaml:34:1: a lab file holds one YAML document: did not find expected node content: fix the YAML syntax"},
		{"not a document", "[]0", "t.yaml:1:1: a lab file holds one YAML document: did not find expected <document start>: fix the YAML syntax\n" +
			"t.yaml:1:1: want a mapping of field: value, got a list; allowed: name, description, root, services, edges, proxies, replica_port_step, telemetry, load, slos, plots, settle, invariants, x-*"},
		{"an unclosed quote", `"`, "t.yaml:1:1: found unexpected end of stream: fix the YAML syntax"},
		{"tabs", "name:\tbank\n\tservices: {}\n", "t.yaml:2:1: found a tab character that violates indentation: fix the YAML syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.doc))
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestMergeKeys(t *testing.T) {
	doc := edit(t, "name: bank", "name: bank\nx-common: &common\n  extra: {type: bool, default: false, help: shared}\n  workers: {type: int, min: 1, max: 8, default: 2, help: fewer}")
	doc = strings.Replace(doc, "    knobs:\n      cache:", "    knobs:\n      <<: *common\n      cache:", 1)
	l, err := Parse("t.yaml", []byte(doc))
	require.NoError(t, err)
	assert.Equal(t, []string{"extra", "cache", "workers", "ratio", "mode"}, l.KnobNames("ledger"), "merged keys where the << is")
	k := l.Knobs("ledger")[2]
	assert.Equal(t, "4", k.Default, "the mapping's own workers wins")
	assert.Equal(t, 64.0, k.Max)

	// Merges of merges: each mapping is merged once, so that a file cannot
	// make the loader walk 2^20 copies.
	var bomb strings.Builder
	bomb.WriteString("name: bank\nx-l0: &l0 {k0: {type: bool, default: true, help: h}}\n")
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&bomb, "x-l%d: &l%d {<<: [*l%d, *l%d], k%d: {type: bool, default: true, help: h}}\n", i, i, i-1, i-1, i)
	}
	doc = strings.Replace(base, "name: bank\n", bomb.String(), 1)
	doc = strings.Replace(doc, "    knobs:\n      timeout:", "    knobs:\n      <<: *l20\n      timeout:", 1)
	l, err = Parse("t.yaml", []byte(doc))
	require.NoError(t, err)
	names := l.KnobNames("web")
	require.Len(t, names, 22)
	assert.Equal(t, []string{"k0", "k1", "k2"}, names[:3])
	assert.Equal(t, []string{"k20", "timeout"}, names[20:])

	bad := strings.Replace(doc, "<<: *l20", "<<: [1]", 1)
	assert.Contains(t, problems(t, bad), "services.web.knobs: a merge key (<<) takes a mapping or a list of mappings, like <<: *defaults")
}

func TestLoadChecksFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := dir + "/" + name
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	doc := edit(t, "scripts: k6", "scripts: k6\nslos: slo.yaml\nplots:\n  - {name: p, unit: s, query: x, scripts: [pay.js]}")
	p := write("lab.yaml", doc)
	_, err := Load(p)
	require.Error(t, err)
	assert.Equal(t, strings.Join([]string{
		p + ":30:12: load.scripts: the k6 scripts' directory " + dir + "/k6 does not exist",
		p + ":31:7: slos: the SLO definitions " + dir + "/slo.yaml does not exist",
	}, "\n"), err.Error(), "a plot's script is checked only in a scripts' directory that exists")

	require.NoError(t, os.Mkdir(dir+"/k6", 0o755))
	write("slo.yaml", "slos: []\n")
	_, err = Load(p)
	require.Error(t, err)
	assert.Equal(t, p+":33:44: plots[0].scripts[0]: the k6 script "+dir+"/k6/pay.js does not exist", err.Error())

	write("k6/pay.js", "export default function () {}\n")
	_, err = Load(p)
	require.NoError(t, err)

	_, err = Load(write("rooted.yaml", strings.Replace(doc, "name: bank", "name: bank\nroot: nowhere", 1)))
	require.Error(t, err)
	assert.Equal(t, dir+"/rooted.yaml:2:7: root: the lab's root directory "+dir+"/nowhere does not exist", err.Error())
}
