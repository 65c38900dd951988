package scenario

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
)

// remoteLike is a stack that reaches a lab through URLs: Toxiproxy for the
// edges but store->cache, admin APIs for every service but ledger.
var remoteLike = Capabilities{
	Stack: "far",
	Can:   []Ability{{Kind: faults.KindNetwork, Via: "Toxiproxy"}, {Kind: faults.KindRequest, Via: "admin APIs"}},
	Why:   map[string]string{faults.KindProcess: "it owns no processes", KindKnobs: "it owns no processes"},
	Refused: map[string]map[string]string{
		faults.KindNetwork: {"store->cache": "the endpoints file names no proxy for it"},
		faults.KindRequest: {"ledger": "the endpoints file gives it no admin URL"},
	},
}

// everything applies every kind, as the local lab does.
var everything = Capabilities{Stack: "near", Can: []Ability{
	{Kind: faults.KindNetwork, Via: "Toxiproxy"}, {Kind: faults.KindProcess, Via: "signals"},
	{Kind: faults.KindRequest, Via: "admin APIs"}, {Kind: KindKnobs, Via: "restarts"},
}}

func TestCheckOn(t *testing.T) {
	const allowed = "; allowed: network faults (Toxiproxy), request faults (admin APIs)"
	const fault = "      - network: {edge: store->ledger, toxic: latency, attributes: {latency: 100}}"
	tests := []struct {
		name string
		doc  func(t *testing.T) string
		caps Capabilities
		want []string // the problems; none: the stack runs it
		uses []string
	}{
		{name: "a network fault on a stack with Toxiproxy", doc: func(*testing.T) string { return base },
			caps: remoteLike, uses: []string{faults.KindNetwork}},
		{name: "a process fault on a stack without processes",
			doc:  func(t *testing.T) string { return edit(t, fault, "      - process: {service: store, action: kill}") },
			caps: remoteLike, uses: []string{faults.KindProcess},
			want: []string{"t.yaml:14:9: phases[1].faults[0].process: stack far cannot apply process faults: it owns no processes" + allowed}},
		{name: "a process fault written as a block",
			doc: func(t *testing.T) string {
				return edit(t, fault, "      - request: {service: store, method: '*', grpc_code: UNAVAILABLE}\n      - process:\n          service: store\n          action: pause")
			},
			caps: remoteLike, uses: []string{faults.KindProcess, faults.KindRequest},
			want: []string{"t.yaml:15:9: phases[1].faults[1].process: stack far cannot apply process faults: it owns no processes" + allowed}},
		{name: "a network fault on an edge without a proxy",
			doc:  func(t *testing.T) string { return edit(t, "edge: store->ledger", "edge: store->cache") },
			caps: remoteLike, uses: []string{faults.KindNetwork},
			want: []string{"t.yaml:14:9: phases[1].faults[0].network: stack far cannot apply network faults to store->cache: the endpoints file names no proxy for it" + allowed}},
		{name: "a request fault on a service without an admin URL",
			doc: func(t *testing.T) string {
				return edit(t, fault, "      - request: {service: ledger, method: '*', grpc_code: UNAVAILABLE}")
			},
			caps: remoteLike, uses: []string{faults.KindRequest},
			want: []string{"t.yaml:14:9: phases[1].faults[0].request: stack far cannot apply request faults to ledger: the endpoints file gives it no admin URL" + allowed}},
		{name: "network faults on a stack without Toxiproxy",
			doc: func(*testing.T) string { return base },
			caps: Capabilities{Stack: "far", Can: []Ability{{Kind: faults.KindRequest, Via: "admin APIs"}},
				Why: map[string]string{faults.KindNetwork: "its endpoints file gives no Toxiproxy URL"}},
			uses: []string{faults.KindNetwork},
			want: []string{"t.yaml:14:9: phases[1].faults[0].network: stack far cannot apply network faults: its endpoints file gives no Toxiproxy URL; allowed: request faults (admin APIs)"}},
		{name: "knobs that restate the defaults need no restart",
			doc: func(t *testing.T) string {
				return edit(t, "load:", "services:\n  store: {retries: true, call-timeout: 1000ms}\nload:")
			},
			caps: remoteLike, uses: []string{faults.KindNetwork}},
		{name: "a knob that differs from the default needs a restart",
			doc: func(t *testing.T) string {
				return edit(t, "load:", "services:\n  store:\n    retries: true\n    call-timeout: 800ms\n  cache: {mode: fast}\nload:")
			},
			caps: remoteLike, uses: []string{KindKnobs, faults.KindNetwork},
			want: []string{
				"t.yaml:7:19: services.store.call-timeout: stack far cannot restart store with knob call-timeout=800ms (the lab's default: 1s): it owns no processes" + allowed,
				"t.yaml:8:17: services.cache.mode: stack far cannot restart cache with knob mode=fast (the lab's default: safe): it owns no processes" + allowed,
			}},
		{name: "a stack that applies everything runs it all",
			doc: func(t *testing.T) string {
				return edit(t, fault, "      - process: {service: store, action: kill}\n      - request: {service: ledger, method: '*', grpc_code: UNAVAILABLE}")
			},
			caps: everything, uses: []string{faults.KindProcess, faults.KindRequest}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(tt.doc(t)), WithScriptCheck(anyScript), WithLab(testLab(t)))
			require.NoError(t, err, "the scenario is valid in itself")
			assert.Equal(t, tt.uses, s.kinds())
			err = s.CheckOn(tt.caps)
			if len(tt.want) == 0 {
				assert.NoError(t, err)
				return
			}
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			var got []string
			for _, p := range verr.Problems {
				got = append(got, p.String())
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
