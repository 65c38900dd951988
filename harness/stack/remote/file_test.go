package remote

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/diag"
	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/stack"
)

// testLab loads testdata/lab.yaml, a lab unlike the shop.
func testLab(t *testing.T) *lab.Lab {
	t.Helper()
	l, err := lab.Load(filepath.Join("testdata", "lab.yaml"))
	require.NoError(t, err)
	return l
}

// valid is a remote file of the test lab; the tests edit it.
const valid = `lab: notes
entry: http://notes.example:8000
prometheus: http://prom.example:9090/
jaeger: {query_grpc: "jaeger.example:16685", query_http: "http://jaeger.example:16686"}
toxiproxy: http://toxi.example:8474
auth: {key_file: jwt.key}
services:
  api:
    addr: api.example:7080
    metrics: http://api.example:7081/metrics
    ready: http://api.example:7081/ready
    admin: http://api.example:7082
    admin_token_file: api.token
  store:
    metrics: http://store.example:7091/metrics
    ready: grpc://store.example:7090/
    admin: http://store.example:7092/faults
    admin_token: s3cret
  ledger:
    ready: grpc://ledger.example:7095/ledger.v1.Ledger
edges:
  client->api: {proxy: client_to_api}
  api->store: {proxy: store_proxy}
`

// files are the files a remote file may name, by base name.
var files = map[string]string{"jwt.key": "k3y\n", "api.token": " t0ken\n", "empty.token": "\n"}

func readTestFile(path string) ([]byte, error) {
	if s, ok := files[filepath.Base(path)]; ok && filepath.Dir(path) == "/conf" {
		return []byte(s), nil
	}
	return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
}

func parseTest(t *testing.T, doc string, l *lab.Lab) (*File, error) {
	t.Helper()
	return ParseFile("remote.yaml", []byte(doc), l, "/conf", readTestFile)
}

func TestParseFile(t *testing.T) {
	f, err := parseTest(t, valid, testLab(t))
	require.NoError(t, err)
	assert.Equal(t, &File{
		Path: "remote.yaml", Lab: "notes", Entry: "http://notes.example:8000", Prometheus: "http://prom.example:9090",
		JaegerQueryGRPC: "jaeger.example:16685", JaegerQueryURL: "http://jaeger.example:16686",
		Toxiproxy: "http://toxi.example:8474", KeyFile: "/conf/jwt.key",
		Services: map[string]Service{
			"api": {Addr: "api.example:7080", Metrics: "http://api.example:7081/metrics", Ready: "http://api.example:7081/ready",
				Admin: "http://api.example:7082", AdminToken: "t0ken"},
			"store": {Metrics: "http://store.example:7091/metrics", Ready: "grpc://store.example:7090/",
				Admin: "http://store.example:7092", AdminToken: "s3cret"},
			"ledger": {Ready: "grpc://ledger.example:7095/ledger.v1.Ledger"},
		},
		ServiceNames: []string{"api", "store", "ledger"},
		Proxies:      map[string]string{"client->api": "client_to_api", "api->store": "store_proxy"},
	}, f)

	e := f.Endpoints(testLab(t), "/run/jwt.key")
	assert.Equal(t, []string{"store", "ledger", "api"}, e.ServiceOrder, "the lab's start order")
	assert.Equal(t, stack.Service{Protocol: "grpc", Addr: "", MetricsURL: "http://store.example:7091/metrics",
		ReadyURL: "grpc://store.example:7090/", AdminURL: "http://store.example:7092"}, e.Services["store"])
	assert.Equal(t, stack.Edge{Name: "api->store", Proxy: "store_proxy"}, e.Edges["api->store"])
	assert.NotContains(t, e.Edges, "api->ledger", "an edge without a proxy takes no network faults")
	assert.Equal(t, "http://notes.example:8000", e.GatewayURL)
	assert.Equal(t, "/run/jwt.key", e.JWTKeyFile)
	assert.Empty(t, e.HarnessMetricsAddr, "a remote Prometheus cannot scrape the harness")
}

func TestParseFileProblems(t *testing.T) {
	edit := func(t *testing.T, old, new string) string {
		t.Helper()
		require.Contains(t, valid, old)
		return strings.Replace(valid, old, new, 1)
	}
	tests := []struct {
		name   string
		doc    func(t *testing.T) string
		noLab  bool
		want   []string
		wantOK bool
	}{
		{name: "empty", doc: func(*testing.T) string { return "" },
			want: []string{"remote.yaml:1:1: the file is empty: a remote endpoints file needs lab, entry, prometheus, jaeger, services"}},
		{name: "not YAML", doc: func(*testing.T) string { return "lab: [notes\n" },
			want: []string{"remote.yaml:2:1: did not find expected ',' or ']': fix the YAML syntax"}},
		{name: "two documents", doc: func(*testing.T) string { return valid + "---\nlab: x\n" },
			want: []string{`remote.yaml:24:1: a remote endpoints file holds one YAML document: remove the "---" and what follows`}},
		{name: "a list", doc: func(*testing.T) string { return "- lab: notes\n" },
			want: []string{"remote.yaml:1:1: want a mapping of field: value, got a list; allowed: lab, entry, prometheus, jaeger, toxiproxy, auth, services, edges"}},
		{name: "the lab of another lab file", doc: func(t *testing.T) string { return edit(t, "lab: notes", "lab: payroll") },
			want: []string{`remote.yaml:1:6: lab: the file describes lab "payroll", but the lab file testdata/lab.yaml is lab "notes": use the remote file of that lab, or give its lab file with -lab; allowed: notes`}},
		{name: "any lab without a lab file", noLab: true, doc: func(t *testing.T) string { return edit(t, "lab: notes", "lab: payroll") }, wantOK: true},
		{name: "unknown and repeated fields", doc: func(t *testing.T) string {
			return edit(t, "toxiproxy: http://toxi.example:8474\n", "toxiproxy: http://toxi.example:8474\ngrafana: http://g\nprometheus: http://p\n")
		},
			want: []string{
				"remote.yaml:6:1: grafana: unknown field; allowed: lab, entry, prometheus, jaeger, toxiproxy, auth, services, edges",
				"remote.yaml:7:1: prometheus: repeated field: line 3 has it already",
			}},
		{name: "missing fields", doc: func(t *testing.T) string {
			doc := edit(t, "entry: http://notes.example:8000\n", "")
			return strings.Replace(doc, `jaeger: {query_grpc: "jaeger.example:16685", query_http: "http://jaeger.example:16686"}`, `jaeger: {query_http: "http://jaeger.example:16686"}`, 1)
		},
			want: []string{
				"remote.yaml:1:1: entry: missing: the base URL the load is sent to, like http://shop.example:8000",
				"remote.yaml:3:9: jaeger.query_grpc: missing: host:port of Jaeger's api_v2 QueryService (gRPC, 16685 by default)",
			}},
		{name: "bad URLs", doc: func(t *testing.T) string {
			doc := edit(t, "prometheus: http://prom.example:9090/", "prometheus: prom.example:9090")
			doc = strings.Replace(doc, `query_grpc: "jaeger.example:16685"`, `query_grpc: "grpc://jaeger.example:16685"`, 1)
			return strings.Replace(doc, "toxiproxy: http://toxi.example:8474", "toxiproxy: 8474", 1)
		},
			want: []string{
				`remote.yaml:3:13: prometheus: "prom.example:9090": want an http:// or https:// URL: the Prometheus HTTP API, like http://prometheus.example:9090`,
				`remote.yaml:4:22: jaeger.query_grpc: "grpc://jaeger.example:16685": want host:port (no scheme): host:port of Jaeger's api_v2 QueryService (gRPC, 16685 by default)`,
				`remote.yaml:5:12: toxiproxy: want a string (the Toxiproxy HTTP API, like http://toxiproxy.example:8474; leave it out when the system has none (no network faults then)), got "8474"`,
			}},
		{name: "a service the lab does not have, one it lacks", doc: func(t *testing.T) string {
			return edit(t, "  ledger:\n    ready: grpc://ledger.example:7095/ledger.v1.Ledger\n", "  cache:\n    ready: http://c/ready\n")
		},
			want: []string{
				"remote.yaml:7:1: services: lab notes has services ledger that the file does not list: give each its ready URL (and metrics, admin)",
				"remote.yaml:19:3: services.cache: unknown field; allowed: api, store, ledger",
			}},
		{name: "service fields", doc: func(t *testing.T) string {
			doc := edit(t, "    metrics: http://api.example:7081/metrics\n    ready: http://api.example:7081/ready\n", "    ready: tcp://api.example:7081\n    health: http://x\n")
			return strings.Replace(doc, "    ready: grpc://ledger.example:7095/ledger.v1.Ledger\n", "    ready: grpc://ledger.example\n    admin: http://ledger.example:9000\n", 1)
		},
			want: []string{
				"remote.yaml:9:5: services.api.metrics: missing: its Prometheus metrics URL, like http://host:9081/metrics",
				`remote.yaml:10:12: services.api.ready: "tcp://api.example:7081": want an http:// or https:// URL, or grpc://host:port/<service>`,
				"remote.yaml:11:5: services.api.health: unknown field; allowed: addr, metrics, ready, admin, admin_token, admin_token_file, instances",
				`remote.yaml:20:12: services.ledger.ready: "grpc://ledger.example": want grpc://host:port/<service> (grpc.health.v1; an empty service asks for the whole server)`,
				"remote.yaml:21:5: services.ledger.admin: service ledger has no fault admin API in lab notes (no faults: at testdata/lab.yaml:23): remove admin",
			}},
		{name: "tokens", doc: func(t *testing.T) string {
			doc := edit(t, "    admin_token_file: api.token\n", "    admin_token_file: missing.token\n")
			doc = strings.Replace(doc, "    admin_token: s3cret\n", "    admin_token: s3cret\n    admin_token_file: empty.token\n", 1)
			return strings.Replace(doc, "    ready: grpc://ledger.example:7095/ledger.v1.Ledger\n", "    ready: grpc://ledger.example:7095/\n    admin_token: x\n", 1)
		},
			want: []string{
				"remote.yaml:13:23: services.api.admin_token_file: open /conf/missing.token: file does not exist",
				"remote.yaml:19:23: services.store.admin_token_file: give admin_token or admin_token_file, not both",
				"remote.yaml:22:18: services.ledger: a token without admin: the token is for the fault admin API at admin",
			}},
		{name: "an empty token file", doc: func(t *testing.T) string {
			return edit(t, "    admin_token_file: api.token\n", "    admin_token_file: empty.token\n")
		},
			want: []string{"remote.yaml:13:23: services.api.admin_token_file: /conf/empty.token is empty: it holds the admin API's bearer token"}},
		{name: "the lab signs tokens: the key is needed", doc: func(t *testing.T) string { return edit(t, "auth: {key_file: jwt.key}\n", "") },
			want: []string{"remote.yaml:1:1: auth.key_file: missing: lab notes signs the load's token with an HS256 key (load.auth.provider hs256-jwt): give the key its services verify tokens with"}},
		{name: "a key file that is not there", doc: func(t *testing.T) string { return edit(t, "key_file: jwt.key", "key_file: /etc/none.key") },
			want: []string{"remote.yaml:6:18: auth.key_file: open /etc/none.key: file does not exist"}},
		{name: "edges", doc: func(t *testing.T) string {
			return edit(t, "  api->store: {proxy: store_proxy}\n", "  api->store: {proxy: client_to_api}\n  api->cache: {proxy: c}\n  api->ledger: {}\n")
		},
			want: []string{
				`remote.yaml:23:23: edges.api->store.proxy: proxy "client_to_api" carries edge client->api already: each edge has its own proxy`,
				"remote.yaml:24:3: edges.api->cache: unknown field; allowed: client->api, api->store, api->ledger",
				"remote.yaml:25:16: edges.api->ledger.proxy: missing: the name of the Toxiproxy proxy that carries the edge (it must exist: the stack never creates one)",
			}},
		{name: "edges without toxiproxy", doc: func(t *testing.T) string { return edit(t, "toxiproxy: http://toxi.example:8474\n", "") },
			want: []string{"remote.yaml:20:1: edges: edges name Toxiproxy proxies, and the file gives no toxiproxy: add its API URL, or remove edges"}},
		{name: "no toxiproxy, no edges: no network faults", wantOK: true, doc: func(t *testing.T) string {
			doc := edit(t, "toxiproxy: http://toxi.example:8474\n", "")
			return doc[:strings.Index(doc, "edges:")]
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := testLab(t)
			if tt.noLab {
				l = nil
			}
			f, err := parseTest(t, tt.doc(t), l)
			if tt.wantOK {
				require.NoError(t, err)
				assert.NotNil(t, f)
				return
			}
			var verr *diag.ValidationError
			require.True(t, errors.As(err, &verr), "want a *diag.ValidationError, got %v", err)
			var got []string
			for _, p := range verr.Problems {
				got = append(got, p.String())
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// A running lab's endpoints written as a remote file read back as the
// same endpoints.
func TestFromEndpointsRoundTrip(t *testing.T) {
	l := testLab(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "jwt.key")
	e := stack.Endpoints{
		Lab: "notes", GatewayURL: "http://127.0.0.1:7000", PrometheusURL: "http://127.0.0.1:7900",
		JaegerQueryGRPC: "127.0.0.1:7685", JaegerQueryURL: "http://127.0.0.1:7686", ToxiproxyURL: "http://127.0.0.1:7474",
		JWTKeyFile: key, ServiceOrder: []string{"store", "ledger", "api"},
		Services: map[string]stack.Service{
			"api":    {Protocol: "http", Addr: "127.0.0.1:7080", MetricsURL: "http://127.0.0.1:7081/metrics", ReadyURL: "http://127.0.0.1:7081/ready", AdminURL: "http://127.0.0.1:7082"},
			"store":  {Protocol: "grpc", Addr: "127.0.0.1:7090", MetricsURL: "http://127.0.0.1:7091/metrics", ReadyURL: "grpc://127.0.0.1:7090/", AdminURL: "http://127.0.0.1:7092"},
			"ledger": {Protocol: "grpc", Addr: "127.0.0.1:7095", ReadyURL: "grpc://127.0.0.1:7095/ledger.v1.Ledger"},
		},
		Edges: map[string]stack.Edge{
			"client->api": {Name: "client->api", Proxy: "client_to_api"},
			"api->store":  {Name: "api->store", Proxy: "api_to_store"},
			"api->ledger": {Name: "api->ledger", Proxy: "api_to_ledger"},
		},
	}
	data, err := FromEndpoints(e).Marshal()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(data), "# The endpoints of a running instance of lab notes"), string(data))
	f, err := ParseFile("remote.yaml", data, l, dir, func(string) ([]byte, error) { return []byte("k"), nil })
	require.NoError(t, err, string(data))
	assert.Equal(t, e, f.Endpoints(l, key))
}
