package scenario

import (
	"errors"
	"github.com/chaoslab/chaoslab/labs/shop/invariants"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/lab"
)

// testLabFile is the lab the parser's tests run against: a system that is
// not the shop (api, store, cache, ledger).
const testLabFile = "testdata/lab/lab.yaml"

// testLab loads testLabFile.
func testLab(t testing.TB) *lab.Lab {
	t.Helper()
	l, err := lab.Load(testLabFile)
	require.NoError(t, err)
	return l
}

// shopLab loads the shop's lab file, labs/shop/lab.yaml.
func shopLab(t testing.TB) *lab.Lab {
	t.Helper()
	l, err := lab.Load(filepath.Join("..", "..", "labs", "shop", "lab.yaml"),
		lab.WithBuiltins(lab.Builtins{Invariants: invariants.Names(), Settle: []string{"no_pending_orders", "no_pending_work"}}))
	require.NoError(t, err)
	return l
}

// TestTestLab pins what the tests' lab declares, so that the tests that
// use it cannot pass because it changed.
func TestTestLab(t *testing.T) {
	l := testLab(t)
	assert.Equal(t, []string{"api", "store", "cache", "ledger"}, l.ServiceNames())
	assert.Equal(t, []string{"client->api", "api->store", "api->cache", "store->cache", "store->ledger"}, l.EdgeNames())
	assert.Equal(t, []string{"no_lost_items", "no_double_debit", "balanced_ledger"}, l.InvariantNames())
	top := l.FaultTopology()
	assert.Equal(t, []string{"api", "store", "ledger"}, top.WithRequestFaults())
	for name, want := range map[string][]string{
		"api":    {"POST /v1/items", "GET /v1/items/{id}", "GET /v1/catalog"},
		"store":  {"/store.v1.StoreService/Put", "/store.v1.StoreService/Get", "/store.v1.StoreService/List"},
		"cache":  {"/cache.v1.CacheService/Lookup"},
		"ledger": {"/ledger.v1.LedgerService/Debit", "/ledger.v1.LedgerService/Credit", "/ledger.v1.LedgerService/ListEntries"},
	} {
		s, ok := top.Service(name)
		require.True(t, ok, name)
		assert.Equal(t, want, s.Methods, name)
	}
}

// TestParseNeedsALab checks that the parser refuses to check a scenario
// without a lab to check it against.
func TestParseNeedsALab(t *testing.T) {
	_, err := Parse("t.yaml", []byte(base), WithScriptCheck(anyScript))
	require.ErrorIs(t, err, errNoLab)
	var verr *ValidationError
	assert.False(t, errors.As(err, &verr), "a missing lab is the caller's mistake, not the file's")
	_, err = LoadDir("testdata/bad", WithScriptCheck(anyScript))
	require.ErrorIs(t, err, errNoLab)
}

// TestScriptsOfTheLab checks that without WithScriptCheck a scenario's
// script is looked for in the lab's scripts directory.
func TestScriptsOfTheLab(t *testing.T) {
	doc := strings.Replace(base, "script: checkout.js", "script: nope.js", 1)
	require.NotEqual(t, base, doc)
	_, err := Parse("t.yaml", []byte(doc), WithLab(testLab(t)))
	require.EqualError(t, err, `t.yaml:5:11: load.script: no k6 script "nope.js" in `+filepath.Join("testdata", "lab", "..", "loadtests")+
		"; allowed: checkout.js, products.js")
	_, err = Parse("t.yaml", []byte(base), WithLab(testLab(t)))
	require.NoError(t, err)
}

// TestShopLibrary checks that the scenario library is valid against the
// shop's lab file, and only against it: the shop's names are not the
// parser's.
func TestShopLibrary(t *testing.T) {
	library, err := filepath.Glob("../../scenarios/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, library)
	for _, file := range library {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, err := Load(file, WithScriptCheck(anyScript), WithLab(shopLab(t)))
			require.NoError(t, err)
			_, err = Load(file, WithScriptCheck(anyScript), WithLab(testLab(t)))
			require.Error(t, err, "the shop's scenario is checked against the lab it is given")
		})
	}
}

// smallLab is a system that is not the shop: web calls api, which calls
// store; store has no fault admin API. Each has one knob.
const smallLab = `name: small
services:
  web:
    protocol: http
    ports: {public: 7080, admin: 7180}
    local: {command: ./web}
    compose: {image: "small/web:{{.ImageTag}}"}
    ready: {http: {port: public, path: /healthz}}
    faults: {port: admin}
    knobs:
      cache: {type: bool, default: true, help: "cache pages"}
  api:
    protocol: grpc
    ports: {public: 7081, admin: 7181}
    local: {command: ./api}
    compose: {image: "small/api:{{.ImageTag}}"}
    ready: {grpc: {port: public}}
    faults: {port: admin}
    knobs:
      pool: {type: int, min: 1, max: 32, default: 8, help: "connections"}
  store:
    protocol: grpc
    ports: {public: 7082}
    local: {command: ./store}
    compose: {image: "small/store:{{.ImageTag}}"}
    ready: {grpc: {port: public}}
    knobs:
      mode: {type: string, values: [fast, safe], default: safe, help: "how writes are flushed"}
edges:
  client->web: {proxy_port: 7000}
  web->api: {proxy_port: 7001}
  api->store: {proxy_port: 7002}
load:
  scripts: k6
`

// parseSmallLab returns smallLab, checked.
func parseSmallLab(t *testing.T) *lab.Lab {
	t.Helper()
	l, err := lab.Parse("small.yaml", []byte(smallLab))
	require.NoError(t, err)
	return l
}

// TestWithLab checks that the parser takes the services, edges, knobs,
// request-fault capability, methods and protocols from the lab it is
// given: it accepts the small lab's names and refuses the shop's.
func TestWithLab(t *testing.T) {
	small := WithLab(parseSmallLab(t))
	// smallBase is base with its network fault on an edge of the small lab.
	smallBase := strings.Replace(base, "store->ledger", "api->store", 1)
	faultLine := "      - network: {edge: api->store, toxic: latency, attributes: {latency: 100}}"
	tests := []struct {
		name     string
		old, new string
		want     []string // nil: valid
		knobs    []Knob   // of a valid one
		compose  bool     // the scenario runs on the compose stack only
	}{
		{name: "an edge of the lab", old: "api->store", new: "web->api"},
		{name: "an edge of the shop is unknown", old: "api->store", new: "orders->payments",
			want: []string{`phases[1].faults[0].network.edge: unknown edge "orders->payments"; allowed: client->web, web->api, api->store`}},
		{name: "a process fault on a service of the lab", old: faultLine, new: "      - process: {service: store, action: pause}"},
		{name: "a service of the shop is unknown", old: faultLine, new: "      - process: {service: orders, action: pause}",
			want: []string{`phases[1].faults[0].process.service: unknown service "orders"; allowed: web, api, store`}},
		{name: "a container fault on a service of the lab", old: faultLine, new: "      - container: {service: web, action: pause}", compose: true},
		{name: "a request fault on a service with a fault admin API", old: faultLine, new: `      - request: {service: api, method: "*", grpc_code: UNAVAILABLE}`},
		{name: "a method of a service whose lab lists none", old: faultLine, new: `      - request: {service: api, method: "/api.v1.API/Get", grpc_code: UNAVAILABLE}`,
			want: []string{`phases[1].faults[0].request.method: api has no method "/api.v1.API/Get"; allowed: *`}},
		{name: "the protocol decides the status: web serves HTTP", old: faultLine, new: `      - request: {service: web, method: "*", grpc_code: UNAVAILABLE}`,
			want: []string{"phases[1].faults[0].request.grpc_code: grpc_code applies to gRPC services; web serves HTTP: use http_status"}},
		{name: "the protocol decides the status: api serves gRPC", old: faultLine, new: `      - request: {service: api, method: "*", http_status: 503}`,
			want: []string{"phases[1].faults[0].request.http_status: http_status applies to HTTP services; api serves gRPC: use grpc_code"}},
		{name: "a request fault on a service without one", old: faultLine, new: `      - request: {service: store, method: "*", latency: 100ms}`,
			want: []string{"phases[1].faults[0].request.service: service store has no fault admin API in the lab (small.yaml:21): request faults need the faultinject package (services/faultinject) and `faults:` in the lab; allowed: web, api"}},
		{name: "a request fault on a shop service is refused for its service only", old: faultLine, new: `      - request: {service: payments, method: Nope, latency: 100ms}`,
			want: []string{`phases[1].faults[0].request.service: unknown service "payments"; allowed: web, api, store`}},
		{name: "the lab's knobs", old: "load:", new: "services:\n  web: {cache: false}\n  api: {pool: 32}\n  store: {mode: fast}\nload:",
			knobs: []Knob{{Service: "web", Flag: "cache", Value: "false"}, {Service: "api", Flag: "pool", Value: "32"}, {Service: "store", Flag: "mode", Value: "fast"}}},
		{name: "a knob's bounds", old: "load:", new: "services:\n  api: {pool: 33}\nload:",
			want: []string{"services.api.pool: 33 is out of range: must be from 1 to 32"}},
		{name: "a knob's type", old: "load:", new: "services:\n  api: {pool: 2s}\nload:",
			want: []string{`services.api.pool: want a whole number, got "2s"`}},
		{name: "a string knob's values", old: "load:", new: "services:\n  store: {mode: slow}\nload:",
			want: []string{`services.store.mode: unknown value "slow"; allowed: fast, safe`}},
		{name: "a shop knob is unknown", old: "load:", new: "services:\n  api: {retries: false}\nload:",
			want: []string{"services.api.retries: unknown field; allowed: pool"}},
		{name: "a shop service has no knobs", old: "load:", new: "services:\n  orders: {retries: false}\nload:",
			want: []string{"services.orders: unknown field; allowed: web, api, store"}},
		{name: "a lab without invariants", old: "checks:\n", new: "checks:\n  invariants: [no_lost_items]\n",
			want: []string{`checks.invariants[0]: the lab (small.yaml) declares no invariants, so there is no "no_lost_items": declare it under invariants: in the lab file`}},
		{name: "trace checks name the lab's services", old: "checks:\n", new: "checks:\n  traces:\n    - {name: reach, service: web, phase: fault, require_services: [web, store]}\n"},
		{name: "trace checks refuse the shop's services", old: "checks:\n", new: "checks:\n  traces:\n    - {name: reach, service: web, phase: fault, require_services: [gateway]}\n",
			want: []string{`checks.traces[0].require_services[0]: unknown value "gateway"; allowed: web, api, store`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Contains(t, smallBase, tt.old)
			doc := strings.Replace(smallBase, tt.old, tt.new, 1)
			if tt.compose {
				doc = strings.Replace(doc, "expect: pass\n", "expect: pass\nstacks: [compose]\n", 1)
			}
			assert.Equal(t, tt.want, problems(t, doc, small))
			if tt.want == nil {
				s, err := Parse("t.yaml", []byte(doc), WithScriptCheck(anyScript), small)
				require.NoError(t, err)
				assert.Equal(t, tt.knobs, s.Knobs)
			}
		})
	}
}

// A scenario runs on the stacks its lab can run on: without `stacks:`,
// those; a stack the lab cannot run on is an error at its line, saying
// which service lacks what.
func TestStacksFollowTheLab(t *testing.T) {
	localOnly, err := lab.Parse("local.yaml", []byte(`name: local-only
services:
  api:
    protocol: http
    ports: {public: 7080}
    local: {command: ./api}
    ready: {http: {port: public, path: /healthz}}
  store:
    protocol: grpc
    ports: {public: 7081}
    local: {command: ./store}
    ready: {grpc: {port: public}}
edges:
  client->api: {proxy_port: 7000}
  api->store: {proxy_port: 7001}
load: {scripts: .}
`))
	require.NoError(t, err)
	doc := strings.Replace(base, "store->ledger", "api->store", 1)

	sc, err := Parse("t.yaml", []byte(doc), WithLab(localOnly), WithScriptCheck(anyScript))
	require.NoError(t, err)
	assert.Equal(t, []string{StackLocal, StackKubernetes, StackRemote}, sc.Stacks, "without stacks: the lab's (kubernetes and remote run any lab)")
	assert.False(t, sc.RunsOn(StackCompose))

	_, err = Parse("t.yaml", []byte("stacks: [local, compose]\n"+doc), WithLab(localOnly), WithScriptCheck(anyScript))
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	require.Len(t, verr.Problems, 1)
	assert.Equal(t, `t.yaml:1:17: stacks[1]: lab local-only cannot run on the compose stack: service api has no compose image (services.api.compose, local.yaml:3); allowed: local, kubernetes, remote`,
		verr.Problems[0].String())

	sc, err = Parse("t.yaml", []byte(doc), WithLab(parseSmallLab(t)), WithScriptCheck(anyScript))
	require.NoError(t, err)
	assert.Equal(t, Stacks(), sc.Stacks, "a lab with both: every stack")
}
