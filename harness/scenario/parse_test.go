package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// base is a valid scenario that the rule tests change one thing in.
const base = `name: t
purpose: test
expect: pass
load:
  script: checkout.js
  executor: constant-arrival-rate
  rate: 10
phases:
  - name: baseline
    duration: 10s
  - name: fault
    duration: 10s
    faults:
      - network: {edge: store->ledger, toxic: latency, attributes: {latency: 100}}
  - name: recovery
    duration: 15s
checks:
  slo:
    - name: p99
      phase: fault
      query: rate(x[$window])
      objective: "<= 2 * baseline"
`

// methodsOf returns the methods of service in the tests' lab.
func methodsOf(t *testing.T, service string) []string {
	t.Helper()
	s, ok := testLab(t).Service(service)
	require.True(t, ok, service)
	require.NotEmpty(t, s.Methods, service)
	return s.Methods
}

// anyScript accepts every script.
func anyScript(string) error { return nil }

// edit returns base with old replaced by new; old must be in base, so
// that a test cannot pass because its edit did nothing.
func edit(t *testing.T, old, new string) string {
	t.Helper()
	require.Contains(t, base, old)
	return strings.Replace(base, old, new, 1)
}

// positionRE is the "file:line:col: " prefix of a problem.
var positionRE = regexp.MustCompile(`^t\.yaml:\d+:\d+: `)

// problems parses doc as t.yaml against the tests' lab (or the lab of
// opts) and returns its problems without their positions, checking that
// each has one.
func problems(t *testing.T, doc string, opts ...Option) []string {
	t.Helper()
	_, err := Parse("t.yaml", []byte(doc), append([]Option{WithScriptCheck(anyScript), WithLab(testLab(t))}, opts...)...)
	if err == nil {
		return nil
	}
	var verr *ValidationError
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

func TestRules(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		opts     []Option
		want     []string
	}{
		// The top of the file.
		{name: "expect is required", old: "expect: pass\n", new: "",
			want: []string{"expect: missing: pass, or fail for a scenario whose checks must fail (resilience off)"}},
		{name: "expect is pass or fail", old: "expect: pass", new: "expect: maybe",
			want: []string{`expect: unknown value "maybe"; allowed: pass, fail`}},
		{name: "purpose is required", old: "purpose: test", new: "purpose: ''",
			want: []string{"purpose: is empty"}},
		{name: "unknown fields name the allowed ones", old: "expect: pass", new: "expect: pass\ntimeout: 5s",
			want: []string{"timeout: unknown field; allowed: name, purpose, expect, stacks, services, load, phases, checks"}},
		{name: "repeated fields", old: "expect: pass", new: "expect: pass\nexpect: fail",
			want: []string{"expect: repeated field: it is already set on line 3"}},
		{name: "name is the file name", old: "name: t", new: "name: other",
			want: []string{`name: "other" differs from the file name: name the file other.yaml or the scenario "t"`}},
		{name: "name's characters", old: "name: t", new: "name: T x",
			want: []string{`name: "T x": use 1 to 64 lowercase letters, digits, '-', '_' or '.'`}},
		{name: "a string where a list goes", old: "phases:\n  - name: baseline", new: "phases: baseline\nx:\n  - name: baseline",
			want: []string{"phases: want a list, got \"baseline\"", "x: unknown field; allowed: name, purpose, expect, stacks, services, load, phases, checks"}},

		// Phases.
		{name: "at least one phase", old: "phases:\n", new: "phases: []\nold_phases:\n",
			want: []string{"phases: is empty: give at least one phase, like {name: baseline, duration: 15s}",
				"old_phases: unknown field; allowed: name, purpose, expect, stacks, services, load, phases, checks"}},
		{name: "durations are positive", old: "duration: 10s\n  - name: fault", new: "duration: 0s\n  - name: fault",
			want: []string{"phases[0].duration: 0s is out of range: must be from 1s to 1h0m0s"}},
		{name: "durations have a unit", old: "duration: 10s\n  - name: fault", new: "duration: 10\n  - name: fault",
			want: []string{`phases[0].duration: 10 has no unit: write a duration like "10s" or "500ms"`}},
		{name: "durations parse", old: "duration: 10s\n  - name: fault", new: "duration: ten seconds\n  - name: fault",
			want: []string{`phases[0].duration: "ten seconds" is not a duration: write one like "15s", "500ms" or "1m30s"`}},
		{name: "phase duration is required", old: "    duration: 15s\n", new: "",
			want: []string{`phases[2].duration: missing: how long the phase lasts, like "15s"`}},
		{name: "phase names are unique", old: "name: recovery", new: "name: fault",
			want: []string{`phases[2].name: repeated phase name: phases[1] is "fault" already`}},
		{name: "phase names are identifiers", old: "name: recovery", new: "name: Recovery Phase",
			want: []string{`phases[2].name: "Recovery Phase": use 1 to 32 lowercase letters, digits, '-' or '_', starting with a letter`}},
		{name: "unknown phase field", old: "    duration: 15s\n", new: "    duration: 15s\n    load: 5\n",
			want: []string{"phases[2].load: unknown field; allowed: name, duration, faults"}},
		{name: "the timeline is bounded", old: "duration: 15s", new: "duration: 1h",
			want: []string{"phases: the phases last 1h0m20s in all: keep a scenario under 1h0m0s"}},

		// Faults.
		{name: "fault model rules, at the field",
			old: "{edge: store->ledger, toxic: latency, attributes: {latency: 100}}",
			new: "{edge: store->paymets, toxic: latency, stream: up, attributes: {latency: 0, rate: 4}}",
			want: []string{
				"phases[1].faults[0].network.edge: unknown edge \"store->paymets\"; allowed: " + strings.Join(testLab(t).EdgeNames(), ", "),
				`phases[1].faults[0].network.stream: unknown value "up"; allowed: downstream, upstream`,
				"phases[1].faults[0].network.attributes.latency: latency 0: must be from 1 to 3600000 (ms)",
				`phases[1].faults[0].network.attributes.rate: latency has no attribute "rate"; allowed: latency, jitter`,
			}},
		{name: "missing required attribute",
			old: "attributes: {latency: 100}", new: "attributes: {jitter: 5}",
			want: []string{"phases[1].faults[0].network.attributes: latency needs attribute latency (ms)"}},
		{name: "a bad attribute value is reported once",
			old: "attributes: {latency: 100}", new: "attributes: {latency: 100ms}",
			want: []string{`phases[1].faults[0].network.attributes.latency: want a whole number, got "100ms"`}},
		{name: "a fault kind that is not a mapping",
			old: "{edge: store->ledger, toxic: latency, attributes: {latency: 100}}", new: "down",
			want: []string{`phases[1].faults[0].network: want a mapping of field: value, got "down"; allowed: edge, toxic, stream, toxicity, attributes, replica`}},
		{name: "toxicity in (0, 1]",
			old: "toxic: latency,", new: "toxic: latency, toxicity: 0,",
			want: []string{"phases[1].faults[0].network.toxicity: 0 is out of range: must be in (0, 1]"}},
		{name: "unknown kind of fault",
			old: "- network: {edge", new: "- netwrk: {edge",
			want: []string{"phases[1].faults[0].netwrk: unknown field; allowed: network, process, request, container",
				"phases[1].faults[0]: the fault is empty: set one of network, process, request or container; allowed: network, process, request, container"}},
		{name: "one kind per fault",
			old: "attributes: {latency: 100}}", new: "attributes: {latency: 100}}\n        process: {service: store, action: pause}",
			want: []string{"phases[1].faults[0]: set only one of network, process, request or container per fault: list them as separate faults; allowed: network, process, request, container"}},
		{name: "unknown field of a fault kind",
			old: "toxic: latency,", new: "toxic: latency, proxy: x,",
			want: []string{"phases[1].faults[0].network.proxy: unknown field; allowed: edge, toxic, stream, toxicity, attributes, replica"}},
		{name: "process fault rules",
			old: "- network: {edge: store->ledger, toxic: latency, attributes: {latency: 100}}",
			new: "- process: {service: stor, action: kill, restart_after: 20s}",
			want: []string{
				`phases[1].faults[0].process.service: unknown service "stor"; allowed: api, store, cache, ledger`,
				"phases[1].faults[0].process.restart_after: 20s is longer than the phase (10s): the service is started again at the phase's end at the latest",
			}},
		{name: "two process faults on one service",
			old:  "- network: {edge: store->ledger, toxic: latency, attributes: {latency: 100}}",
			new:  "- process: {service: store, action: kill}\n      - process: {service: store, action: pause}",
			want: []string{"phases[1].faults[1]: phases[1].faults[0] already puts a process fault on store in this phase: merge the two, or use another phase"}},
		{name: "two toxics in one place",
			old: "attributes: {latency: 100}}", new: "attributes: {latency: 100}}\n      - network: {edge: store->ledger, toxic: latency, attributes: {latency: 5}}",
			want: []string{"phases[1].faults[1]: phases[1].faults[0] already puts a latency toxic on store->ledger downstream in this phase: merge the two, or use another phase"}},
		{name: "request fault rules, and faultinject's",
			old: "- network: {edge: store->ledger, toxic: latency, attributes: {latency: 100}}",
			new: "- request: {service: ledger, method: /ledger.v1.LedgerService/Debits, grpc_code: NOPE, http_status: 503}",
			want: []string{
				`phases[1].faults[0].request.method: ledger has no method "/ledger.v1.LedgerService/Debits"; allowed: *, ` + strings.Join(methodsOf(t, "ledger"), ", "),
				`phases[1].faults[0].request.grpc_code: grpc_code "NOPE": not a gRPC status code name; use a canonical name like UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL or RESOURCE_EXHAUSTED`,
				"phases[1].faults[0].request.http_status: http_status applies to HTTP services; ledger serves gRPC: use grpc_code",
			}},
		{name: "a request fault on a service without a fault admin API, at the lab's line",
			old: "- network: {edge: store->ledger, toxic: latency, attributes: {latency: 100}}",
			new: "- request: {service: cache, method: /cache.v1.CacheService/Lookup, grpc_code: UNAVAILABLE}",
			want: []string{
				"phases[1].faults[0].request.service: service cache has no fault admin API in the lab (testdata/lab/lab.yaml:38): request faults need the faultinject package (services/faultinject) and `faults:` in the lab; allowed: api, store, ledger",
			}},
		{name: "the methods are the service's own",
			old: "- network: {edge: store->ledger, toxic: latency, attributes: {latency: 100}}",
			new: "- request: {service: store, method: /ledger.v1.LedgerService/Debit, grpc_code: UNAVAILABLE}",
			want: []string{
				"phases[1].faults[0].request.method: store has no method \"/ledger.v1.LedgerService/Debit\"; allowed: *, /store.v1.StoreService/Put, /store.v1.StoreService/Get, /store.v1.StoreService/List",
			}},
		{name: "an HTTP service's routes",
			old: "- network: {edge: store->ledger, toxic: latency, attributes: {latency: 100}}",
			new: "- request: {service: api, method: \"GET /v1/items/{id}\", http_status: 503}\n      - request: {service: api, method: GET /v1/items, http_status: 503}",
			want: []string{
				"phases[1].faults[1].request.method: api has no method \"GET /v1/items\"; allowed: *, POST /v1/items, GET /v1/items/{id}, GET /v1/catalog",
			}},
		{name: "request fault field types",
			old: "- network: {edge: store->ledger, toxic: latency, attributes: {latency: 100}}",
			new: "- request: {service: api, method: '*', http_status: 200, abort: yes, latency: 5}",
			want: []string{
				"phases[1].faults[0].request.http_status: 200 is out of range: must be from 400 to 599",
				`phases[1].faults[0].request.abort: want true or false, got "yes"`,
				`phases[1].faults[0].request.latency: 5 has no unit: write a duration like "5s" or "500ms"`,
			}},

		// Services.
		{name: "knobs", old: "load:", new: "services:\n  store: {retries: maybe, retry-max-attempts: 9, rate-limit: 5}\n  catalog: {}\nload:",
			want: []string{
				`services.store.retries: want true or false, got "maybe"`,
				"services.store.retry-max-attempts: 9 is out of range: must be from 2 to 5",
				"services.store.rate-limit: unknown field; allowed: " + strings.Join(testLab(t).KnobNames("store"), ", "),
				"services.catalog: unknown field; allowed: api, store, cache, ledger",
			}},
		{name: "knob durations", old: "load:", new: "services:\n  api: {request-timeout: 3, rate-limit: -1}\nload:",
			want: []string{
				`services.api.request-timeout: 3 has no unit: write a duration like "3s" or "500ms"`,
				"services.api.rate-limit: -1 is out of range: must be from 0 to 1e+06",
			}},

		// Load.
		{name: "the script must exist", old: "load:", new: "load:",
			opts: []Option{WithScriptCheck(func(s string) error { return errors.New("no k6 script \"" + s + "\" here") })},
			want: []string{`load.script: no k6 script "checkout.js" here`}},
		{name: "a script is a file name", old: "script: checkout.js", new: "script: ../checkout.js",
			want: []string{`load.script: "../checkout.js": name a k6 script by its file name in the lab's scripts directory (loadtests), like "load.js"`}},
		{name: "executor", old: "executor: constant-arrival-rate", new: "executor: constant-vus",
			want: []string{`load.executor: unknown value "constant-vus"; allowed: constant-arrival-rate, ramping-arrival-rate`}},
		{name: "constant takes a rate", old: "  rate: 10\n", new: "  stages: []\n",
			want: []string{"load.rate: missing: iterations started per time_unit, like 15",
				"load.stages: applies to ramping-arrival-rate only: constant-arrival-rate takes rate"}},
		{name: "the rate is bounded", old: "rate: 10", new: "rate: 100\n  time_unit: 10ms",
			want: []string{"load: 100 iterations per 10ms is more than 1000 per second: lower the rate or lengthen time_unit"}},
		{name: "max_vus at least pre_allocated_vus", old: "rate: 10", new: "rate: 10\n  pre_allocated_vus: 20\n  max_vus: 5",
			want: []string{"load.max_vus: 5 is below pre_allocated_vus (20)"}},
		{name: "ramping stages span the phases", old: "executor: constant-arrival-rate\n  rate: 10",
			new: "executor: ramping-arrival-rate\n  rate: 10\n  stages:\n    - {target: 10, duration: 30s}",
			want: []string{"load.rate: applies to constant-arrival-rate only: ramping-arrival-rate takes start_rate and stages",
				"load.stages: the stages last 30s but the phases 35s: the load must span the phases exactly"}},
		{name: "ramping stage fields", old: "executor: constant-arrival-rate\n  rate: 10",
			new: "executor: ramping-arrival-rate\n  stages:\n    - {target: 2000, duration: 35s}\n    - {duration: 0s}",
			want: []string{"load.stages[0].target: 2000 is out of range: must be from 0 to 1000",
				"load.stages[1].target: missing: the rate to reach, like 20",
				"load.stages[1].duration: 0s is out of range: must be from 1s to 1h0m0s"}},

		// SLO checks.
		{name: "phase references exist", old: "phase: fault", new: "phase: faults",
			want: []string{`checks.slo[0].phase: no phase "faults"; allowed: baseline, fault, recovery`}},
		{name: "relative objectives refer to an earlier phase", old: `"<= 2 * baseline"`, new: `"<= 2 * recovery"`,
			want: []string{`checks.slo[0].objective: compares with phase "recovery": a relative objective compares with a phase that runs before "fault"`}},
		{name: "relative objectives do not refer to their own phase", old: `"<= 2 * baseline"`, new: `"<= 2 * fault"`,
			want: []string{`checks.slo[0].objective: compares with phase "fault": a relative objective compares with a phase that runs before "fault"`}},
		{name: "relative objectives refer to a phase", old: `"<= 2 * baseline"`, new: `"<= 2 * base"`,
			want: []string{`checks.slo[0].objective: compares with phase "base", which does not exist; allowed: baseline, fault, recovery`}},
		{name: "objective syntax", old: `"<= 2 * baseline"`, new: `"at most 2"`,
			want: []string{`checks.slo[0].objective: "at most 2" does not start with a comparison (<, <=, >, >=, ==): ` + objectiveSyntax}},
		{name: "queries use $window", old: "rate(x[$window])", new: "rate(x[5m])",
			want: []string{"checks.slo[0].query: does not use $window, so it would not measure its phase: write ranges as [$window], like rate(x[$window])"}},
		{name: "unknown placeholders", old: "rate(x[$window])", new: "rate(x[$window]) / rate(y[$windows])",
			want: []string{`checks.slo[0].query: unknown placeholder "$windows" (only $window is replaced) at column 27: rate(x[$window]) / rate(y[$windows ⟵ here`}},
		{name: "brackets", old: "rate(x[$window])", new: `sum(rate(x{code=~"5.."}[$window])`,
			want: []string{`checks.slo[0].query: unclosed left parenthesis at the end: sum(rate(x{code=~"5.."}[$window]) ⟵ here`}},
		// What the bracket-and-quote checker let through: Prometheus's parser
		// refuses it.
		{name: "PromQL syntax", old: "rate(x[$window])", new: `sum by (le) rate(x[$window])`,
			want: []string{`checks.slo[0].query: unexpected identifier "rate" in aggregation at column 13: sum by (le) rate ⟵ here`}},
		{name: "PromQL functions", old: "rate(x[$window])", new: `histogram_quantil(0.99, sum by (le) (rate(x_bucket[$window])))`,
			want: []string{`checks.slo[0].query: unknown function with name "histogram_quantil" at column 1: histogram_quantil ⟵ here`}},
		{name: "one value per evaluation", old: "rate(x[$window])", new: `x[$window]`,
			want: []string{"checks.slo[0].query: returns a range vector, not one value per evaluation: give a range to a function, like rate(x[$window]) or max_over_time(x[$window])"}},
		{name: "$window in a string is not a window", old: "rate(x[$window])", new: `label_replace(rate(x[5m]), "w", "$window", "", "")`,
			want: []string{"checks.slo[0].query: does not use $window, so it would not measure its phase: write ranges as [$window], like rate(x[$window])"}},
		// What it refused: quotes, brackets and $ in a comment are no PromQL.
		{name: "a PromQL comment", old: "query: rate(x[$window])", new: `query: "rate(x[$window]) # don't (yet) count $retries"`},
		{name: "query or slo", old: "      query: rate(x[$window])\n", new: "",
			want: []string{"checks.slo[0].query: missing: PromQL with $window for the phase's range, or slo: the name of an SLO definition"}},
		{name: "not both", old: "      query: rate(x[$window])\n", new: "      query: rate(x[$window])\n      slo: checkout-latency\n",
			want: []string{"checks.slo[0].slo: set query or slo, not both"}},
		{name: "the SLO must be defined", old: "      query: rate(x[$window])\n", new: "      slo: checkout-availabilty\n",
			opts: []Option{WithSLOCheck(func(n string) error {
				if n == "checkout-availability" {
					return nil
				}
				return errors.New(`unknown SLO "` + n + `"; defined in slo/slos.yaml: checkout-availability`)
			})},
			want: []string{`checks.slo[0].slo: unknown SLO "checkout-availabilty"; defined in slo/slos.yaml: checkout-availability`}},
		{name: "policies", old: `"<= 2 * baseline"`, new: "\"<= 2 * baseline\"\n      on_empty: ignore\n      on_nan: fail",
			want: []string{`checks.slo[0].on_empty: unknown value "ignore"; allowed: fail, inconclusive`}},
		{name: "a policy cannot pass what was not measured", old: `"<= 2 * baseline"`, new: "\"<= 2 * baseline\"\n      on_empty: pass\n      on_nan: pass",
			want: []string{
				"checks.slo[0].on_empty: pass: a check that measured nothing never passes; when no series means \"none happened\", make the query say 0 (e.g. `sum(rate(errors_total[$window])) or vector(0)`); allowed: fail, inconclusive",
				"checks.slo[0].on_nan: pass: a check that measured nothing never passes; when no series means \"none happened\", make the query say 0 (e.g. `sum(rate(errors_total[$window])) or vector(0)`); allowed: fail, inconclusive",
			}},
		{name: "check names are unique", old: "checks:\n  slo:", new: "checks:\n  invariants: [no_lost_items]\n  traces:\n    - {name: p99, phase: fault, service: api, max_duration: 1s}\n  slo:",
			want: []string{`checks.slo[0].name: repeated check name: checks.traces[0] is "p99" already`}},
		{name: "at least one check", old: "checks:\n  slo:", new: "checks: {}\nx:\n  slo:",
			want: []string{"checks: no checks: give at least one of slo, recovery, traces or invariants, or the scenario cannot fail",
				"x: unknown field; allowed: name, purpose, expect, stacks, services, load, phases, checks"}},

		// Recovery checks.
		{name: "recovery is measured after a phase that is not the last",
			old: "checks:", new: "checks:\n  recovery:\n    - {name: r, after: recovery, query: 'up', tolerance: '>= 1', within: 5s}",
			want: []string{`checks.recovery[0].within: phase "recovery" is the last one: recovery is measured in the phases after it; add one, like {name: recovery, duration: 20s}`}},
		{name: "recovery needs room",
			old: "checks:", new: "checks:\n  recovery:\n    - {name: r, after: fault, query: 'up', tolerance: '>= 1', within: 14s, step: 500ms}",
			want: []string{`checks.recovery[0].within: within (14s) plus consecutive × step (1.5s) is 15.5s, more than the phases after "fault" last (15s): lengthen them or shorten within`}},
		{name: "recovery queries are instant",
			old: "checks:", new: "checks:\n  recovery:\n    - {name: r, after: fault, query: 'rate(x[$window])', tolerance: '>= 2 * recovery', within: 5s, consecutive: 0}",
			want: []string{
				"checks.recovery[0].query: recovery queries are instant samples: write a short fixed range, like [3s], instead of $window",
				`checks.recovery[0].tolerance: compares with phase "recovery": a relative tolerance compares with a phase that ends by the end of "fault"`,
				"checks.recovery[0].consecutive: 0 is out of range: must be from 1 to 100",
			}},
		{name: "recovery queries return one value",
			old: "checks:", new: "checks:\n  recovery:\n    - {name: r, after: fault, query: 'up[3s]', tolerance: '>= 1', within: 5s}",
			want: []string{"checks.recovery[0].query: returns a range vector, not one value per evaluation: give a range to a function, like rate(x[3s]) or max_over_time(x[3s])"}},
		{name: "recovery needs within",
			old: "checks:", new: "checks:\n  recovery:\n    - {name: r, after: fault, query: 'up', tolerance: '>= 1'}",
			want: []string{`checks.recovery[0].within: missing: the longest recovery that passes, like "10s"`}},
		{name: "recovery of an SLO: query or slo, not both",
			old: "checks:", new: "checks:\n  recovery:\n    - {name: r, after: fault, query: 'up', slo: a, tolerance: '>= 1', within: 5s}",
			want: []string{"checks.recovery[0].slo: set query or slo, not both"}},
		{name: "recovery: range only with slo",
			old: "checks:", new: "checks:\n  recovery:\n    - {name: r, after: fault, query: 'up', range: 2s, tolerance: '>= 1', within: 5s}",
			want: []string{"checks.recovery[0].range: applies to slo only: a query writes its own range, like [3s]"}},
		{name: "recovery of an SLO: a defined SLO, a short range",
			old: "checks:", new: "checks:\n  recovery:\n    - {name: r, after: fault, slo: nope, range: 2m, tolerance: '>= 1', within: 5s}",
			opts: []Option{WithSLOCheck(func(n string) error { return errors.New(`unknown SLO "` + n + `"`) })},
			want: []string{`checks.recovery[0].slo: unknown SLO "nope"`,
				"checks.recovery[0].range: 2m0s is out of range: must be from 1s to 1m0s"}},
		{name: "recovery needs a query or an slo",
			old: "checks:", new: "checks:\n  recovery:\n    - {name: r, after: fault, tolerance: '>= 1', within: 5s}",
			want: []string{"checks.recovery[0].query: missing: an instant PromQL SLI with a short fixed range, like [3s], or slo: the name of an SLO definition"}},

		// Trace checks.
		{name: "one assertion per trace check",
			old: "checks:", new: "checks:\n  traces:\n    - {name: tr, phase: fault, service: api, max_duration: 3s, require_services: [store]}",
			want: []string{"checks.traces[0].require_services: the check already asserts max_duration: one assertion per check, split it into two checks"}},
		{name: "a trace check asserts something",
			old: "checks:", new: "checks:\n  traces:\n    - {name: tr, phase: fault, service: api, min_fraction: 1.5, min_traces: 0, min_coverage: 0}",
			want: []string{
				"checks.traces[0]: missing: an assertion, one of require_event, max_duration or require_services; allowed: require_event, max_duration, require_services",
				"checks.traces[0].min_fraction: 1.5 is out of range: must be in (0, 1]",
				"checks.traces[0].min_traces: 0 is out of range: must be from 1 to 10000",
				"checks.traces[0].min_coverage: 0 is out of range: must be in (0, 1]",
			}},
		{name: "trace services",
			old: "checks:", new: "checks:\n  traces:\n    - {name: tr, phase: fault, service: shop, require_services: [store, store, catalog]}",
			want: []string{
				`checks.traces[0].service: unknown value "shop"; allowed: api, store, cache, ledger`,
				"checks.traces[0].require_services[1]: store is listed twice",
				`checks.traces[0].require_services[2]: unknown value "catalog"; allowed: api, store, cache, ledger`,
			}},
		{name: "require_event fields",
			old: "checks:", new: "checks:\n  traces:\n    - {name: tr, phase: fault, service: api, require_event: {on_service: pay, attributes: {a: [1]}, attr: 1}}",
			want: []string{
				"checks.traces[0].require_event.name: missing: the span event's name, like \"retry\"",
				`checks.traces[0].require_event.on_service: unknown value "pay"; allowed: api, store, cache, ledger`,
				"checks.traces[0].require_event.attributes.a: want a value, got a list",
				"checks.traces[0].require_event.attr: unknown field; allowed: name, on_service, attributes",
			}},

		// Invariants.
		{name: "invariants",
			old: "checks:", new: "checks:\n  invariants: [no_lost_items, no_lost_items, no_lost_money]",
			want: []string{
				`checks.invariants[1]: repeated check name: checks.invariants[0] is "no_lost_items" already`,
				`checks.invariants[2]: unknown value "no_lost_money"; allowed: no_lost_items, no_double_debit, balanced_ledger`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, problems(t, edit(t, tt.old, tt.new), tt.opts...))
		})
	}
}

func TestParseFileLevelProblems(t *testing.T) {
	tests := []struct {
		name, doc string
		want      string
	}{
		{name: "empty", doc: "", want: "t.yaml:1:1: the file is empty: a scenario needs name, purpose, expect, load, phases, checks"},
		{name: "only comments", doc: "# Purpose: nothing yet\n", want: "t.yaml:1:1: the file is empty: a scenario needs name, purpose, expect, load, phases, checks"},
		{name: "not a mapping", doc: "- a\n- b\n", want: "t.yaml:1:1: want a mapping of field: value, got a list; allowed: name, purpose, expect, stacks, services, load, phases, checks"},
		{name: "syntax", doc: "name: t\n  purpose: [x\n", want: "t.yaml:2:1: mapping values are not allowed in this context: fix the YAML syntax"},
		{name: "unclosed flow list", doc: "name: t\npurpose: test\nexpect: [pass\nload: {}\n",
			want: "t.yaml:3:1: did not find expected ',' or ']': fix the YAML syntax"},
		{name: "bad indentation", doc: "name: t\npurpose: test\nexpect:\n  - a\n - b\n",
			want: "t.yaml:5:1: did not find expected key: fix the YAML syntax"},
		{name: "tab", doc: "name: t\npurpose:\n\t- a\n", want: "t.yaml:3:1: found character that cannot start any token: fix the YAML syntax"},
		{name: "unquoted objective", doc: "checks:\n  slo:\n    - objective: >= 0.99\n",
			want: `t.yaml:3:1: did not find expected comment or line break: fix the YAML syntax; quote an objective that starts with '>', like ">= 0.99"`},
		{name: "two documents", doc: base + "---\nname: u\n", want: "t.yaml:23:1: a scenario file holds one YAML document: remove the \"---\" and what follows"},
		{name: "a syntax error without a line", doc: `"`, want: "t.yaml:1:1: found unexpected end of stream: fix the YAML syntax"},
		{name: "a second document that does not parse, without a line", doc: "[]0",
			want: "t.yaml:1:1: a scenario file holds one YAML document: did not find expected <document start>: fix the YAML syntax\n" +
				"t.yaml:1:1: want a mapping of field: value, got a list; allowed: name, purpose, expect, stacks, services, load, phases, checks"},
		{name: "a second document that does not parse, at its line", doc: base + "--- [\n",
			want: "t.yaml:24:1: a scenario file holds one YAML document: did not find expected node content: fix the YAML syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.doc), WithScriptCheck(anyScript), WithLab(testLab(t)))
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestParseValues(t *testing.T) {
	doc := `# Purpose: every default and every kind of fault and check.
name: t
purpose: >
  Everything.
expect: fail
services:
  store: {retries: false, call-timeout: 800ms, retry-max-attempts: 3}
  api: {rate-limit: 12.5}
load:
  script: checkout.js
  executor: ramping-arrival-rate
  start_rate: 2
  stages:
    - {target: 10, duration: 10s}
    - {target: 10, duration: 15s}
phases:
  - name: baseline
    duration: 10s
  - &fault
    name: fault
    duration: 5s
    faults:
      - network: {edge: api->cache, toxic: slicer, attributes: {average_size: 32}}
      - process: {service: ledger, action: pause}
      - request: {service: ledger, method: "*", latency: 20ms}
      - request: {service: ledger, method: "*", grpc_code: unavailable, probability: 0.5}
  - name: recovery
    duration: 10s
checks:
  slo:
    - {name: s, phase: fault, query: 'rate(x[$window])', objective: "< 1"}
    - {name: ref, phase: fault, slo: checkout-latency, objective: ">= baseline", on_empty: fail, on_nan: inconclusive}
  recovery:
    - {name: r, after: fault, query: up, tolerance: ">= 1", within: 5s}
    - {name: rs, after: fault, slo: checkout-availability, tolerance: ">= 0.99", within: 5s}
    - {name: rr, after: fault, slo: checkout-availability, range: 2s, tolerance: ">= 0.99", within: 5s}
  traces:
    - {name: e, phase: fault, service: api, require_event: {name: retry, attributes: {rpc.attempt: 2, peer.service: ledger}}}
    - {name: d, phase: fault, service: api, operation: GET /v1/catalog, max_duration: 1s, min_coverage: 0.8}
    - {name: v, phase: baseline, service: api, require_services: [store, ledger]}
  invariants: [no_double_debit]
`
	s, err := Parse("t.yaml", []byte(doc), WithScriptCheck(anyScript), WithLab(testLab(t)))
	require.NoError(t, err)

	assert.Equal(t, "t", s.Name)
	assert.Equal(t, "Everything.", s.Purpose)
	assert.Equal(t, ExpectFail, s.Expect)
	assert.Equal(t, []Knob{
		{Service: "store", Flag: "retries", Value: "false"},
		{Service: "store", Flag: "call-timeout", Value: "800ms"},
		{Service: "store", Flag: "retry-max-attempts", Value: "3"},
		{Service: "api", Flag: "rate-limit", Value: "12.5"},
	}, s.Knobs)
	assert.Equal(t, map[string]string{"rate-limit": "12.5"}, s.KnobsOf("api"))
	assert.Equal(t, LoadProfile{Script: "checkout.js", Executor: RampingArrivalRate, TimeUnit: time.Second, StartRate: 2,
		Stages:          []Stage{{Target: 10, Duration: 10 * time.Second}, {Target: 10, Duration: 15 * time.Second}},
		PreAllocatedVUs: 10, MaxVUs: 100, GracefulStop: 5 * time.Second}, s.Load)

	require.Len(t, s.Phases, 3)
	assert.Equal(t, 25*time.Second, s.Duration())
	assert.Equal(t, 1, s.PhaseIndex("fault"))
	assert.Equal(t, -1, s.PhaseIndex("nope"))
	assert.Equal(t, 15*time.Second, s.PhaseStart(2))
	var specs []string
	for _, f := range s.Phases[1].Faults {
		specs = append(specs, f.String())
	}
	assert.Equal(t, []string{
		"network api->cache slicer stream=downstream toxicity=1 average_size=32",
		"process ledger pause",
		"request ledger * latency=20ms probability=1",
		"request ledger * grpc_code=UNAVAILABLE probability=0.5",
	}, specs)

	c := s.Checks
	assert.Equal(t, 9, c.Count())
	assert.Equal(t, SLOCheck{Name: "s", Phase: "fault", Query: "rate(x[$window])", Objective: Objective{Op: Less, Value: 1},
		OnEmpty: Inconclusive, OnNaN: Inconclusive}, c.SLO[0])
	assert.Equal(t, "rate(x[5s])", c.SLO[0].QueryFor(5*time.Second))
	assert.Equal(t, SLOCheck{Name: "ref", Phase: "fault", SLO: "checkout-latency",
		Objective: Objective{Op: GreaterEqual, RelativeTo: "baseline", Factor: 1}, OnEmpty: Fail, OnNaN: Inconclusive}, c.SLO[1])
	assert.Equal(t, RecoveryCheck{Name: "r", After: "fault", Query: "up", Tolerance: Objective{Op: GreaterEqual, Value: 1},
		Consecutive: 3, Step: time.Second, Within: 5 * time.Second}, c.Recovery[0])
	assert.Equal(t, RecoveryCheck{Name: "rs", After: "fault", SLO: "checkout-availability", Range: 3 * time.Second,
		Tolerance: Objective{Op: GreaterEqual, Value: 0.99}, Consecutive: 3, Step: time.Second, Within: 5 * time.Second}, c.Recovery[1])
	assert.Equal(t, 2*time.Second, c.Recovery[2].Range)
	assert.Equal(t, TraceCheck{Name: "e", Phase: "fault", Service: "api", MinTraces: 10, MinFraction: 1, MinCoverage: 0.5,
		RequireEvent: &EventRequirement{Name: "retry", Attributes: map[string]string{"rpc.attempt": "2", "peer.service": "ledger"}}}, c.Traces[0])
	assert.Equal(t, TraceRequireEvent, c.Traces[0].Kind())
	assert.Equal(t, TraceMaxDuration, c.Traces[1].Kind())
	assert.Equal(t, "GET /v1/catalog", c.Traces[1].Operation)
	assert.Equal(t, 0.8, c.Traces[1].MinCoverage)
	assert.Equal(t, TraceRequireServices, c.Traces[2].Kind())
	assert.Equal(t, []string{"store", "ledger"}, c.Traces[2].RequireServices)
	assert.Equal(t, []Invariant{Invariant("no_double_debit")}, c.Invariants)
}

func TestPromDuration(t *testing.T) {
	assert.Equal(t, "15s", PromDuration(15*time.Second))
	assert.Equal(t, "90s", PromDuration(90*time.Second))
	assert.Equal(t, "1500ms", PromDuration(1500*time.Millisecond))
}

func TestLoadAndLoadDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(doc), 0o600))
		return p
	}
	good := write("good.yaml", strings.Replace(base, "name: t", "name: good", 1))
	s, err := Load(good, WithScriptCheck(anyScript), WithLab(testLab(t)))
	require.NoError(t, err)
	assert.Equal(t, good, s.File)

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)

	scenarios, err := LoadDir(dir, WithScriptCheck(anyScript), WithLab(testLab(t)))
	require.NoError(t, err)
	require.Len(t, scenarios, 1)

	write("good.yml", strings.Replace(base, "name: t", "name: good", 1))
	write("bad.yaml", strings.Replace(base, "expect: pass", "expect: maybe", 1))
	write("notes.txt", "not a scenario")
	_, err = LoadDir(dir, WithScriptCheck(anyScript), WithLab(testLab(t)))
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	assert.Equal(t, filepath.Join(dir, "bad.yaml")+`:1:7: name: "t" differs from the file name: name the file t.yaml or the scenario "bad"`+"\n"+
		filepath.Join(dir, "bad.yaml")+`:3:9: expect: unknown value "maybe"; allowed: pass, fail`+"\n"+
		filepath.Join(dir, "good.yml")+`: name: scenario "good" is also defined by `+good+": keep one of the two files",
		err.Error())

	_, err = LoadDir(t.TempDir())
	require.ErrorContains(t, err, "no scenario files (*.yaml) in")
}

func TestScriptsIn(t *testing.T) {
	dir := t.TempDir()
	check := ScriptsIn(dir)
	require.EqualError(t, check("checkout.js"), `no k6 script "checkout.js" in `+dir+", which has no scripts")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "checkout.js"), nil, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "products.js"), nil, 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "dir.js"), 0o700))
	require.EqualError(t, ScriptsIn(filepath.Join(dir, "nope"))("checkout.js"),
		`no k6 script "checkout.js": the scripts' directory `+filepath.Join(dir, "nope")+" does not exist")
	require.NoError(t, check("checkout.js"))
	require.EqualError(t, check("dir.js"), `no k6 script "dir.js" in `+dir+"; allowed: checkout.js, dir.js, products.js")
	require.EqualError(t, check("nope.js"), `no k6 script "nope.js" in `+dir+"; allowed: checkout.js, dir.js, products.js")
}
