package scenario

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
)

// disconnect is base with its network fault replaced by a container fault
// and no stacks: invalid until it says stacks: [compose].
func disconnect(t *testing.T) string {
	return edit(t, "- network: {edge: store->ledger, toxic: latency, attributes: {latency: 100}}",
		"- container: {service: ledger, action: disconnect}")
}

// withStacks returns doc with a stacks line after expect.
func withStacks(t *testing.T, doc, stacks string) string {
	t.Helper()
	require.Contains(t, doc, "expect: pass\n")
	return strings.Replace(doc, "expect: pass\n", "expect: pass\n"+stacks+"\n", 1)
}

// replaceIn returns doc with old replaced by new; old must be in doc.
func replaceIn(t *testing.T, doc, old, new string) string {
	t.Helper()
	require.Contains(t, doc, old)
	return strings.Replace(doc, old, new, 1)
}

func TestStacks(t *testing.T) {
	tests := []struct {
		name           string
		doc            func(t *testing.T) string
		stacks         []string
		local, compose bool
		kubernetes     bool
	}{
		{name: "every stack by default", doc: func(*testing.T) string { return base },
			stacks: []string{StackLocal, StackCompose, StackKubernetes, StackRemote}, local: true, compose: true, kubernetes: true},
		{name: "compose only", doc: func(t *testing.T) string { return withStacks(t, base, "stacks: [compose]") },
			stacks: []string{StackCompose}, compose: true},
		{name: "local only", doc: func(t *testing.T) string { return withStacks(t, base, "stacks: [local]") },
			stacks: []string{StackLocal}, local: true},
		{name: "both, in the order of Stacks", doc: func(t *testing.T) string { return withStacks(t, base, "stacks:\n  - compose\n  - local") },
			stacks: []string{StackLocal, StackCompose}, local: true, compose: true},
		{name: "a container fault on compose", doc: func(t *testing.T) string { return withStacks(t, disconnect(t), "stacks: [compose]") },
			stacks: []string{StackCompose}, compose: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(tt.doc(t)), WithScriptCheck(anyScript), WithLab(testLab(t)))
			require.NoError(t, err)
			assert.Equal(t, tt.stacks, s.Stacks)
			assert.Equal(t, tt.local, s.RunsOn(StackLocal))
			assert.Equal(t, tt.compose, s.RunsOn(StackCompose))
			assert.Equal(t, tt.kubernetes, s.RunsOn(StackKubernetes))
		})
	}
	assert.Equal(t, []string{"local", "compose", "kubernetes", "remote"}, Stacks())
}

func TestContainerFaults(t *testing.T) {
	s, err := Parse("t.yaml", []byte(withStacks(t, replaceIn(t, disconnect(t),
		"- container: {service: ledger, action: disconnect}",
		"- container: {service: ledger, action: disconnect}\n      - container: {service: store, action: kill}\n"+
			"      - container:\n          service: cache\n          action: pause\n      - container: {service: api, action: stop}"),
		"stacks: [compose]")), WithScriptCheck(anyScript), WithLab(testLab(t)))
	require.NoError(t, err)
	assert.Equal(t, []faults.Spec{
		{Container: &faults.ContainerFault{Service: "ledger", Action: "disconnect"}},
		{Container: &faults.ContainerFault{Service: "store", Action: "kill"}},
		{Container: &faults.ContainerFault{Service: "cache", Action: "pause"}},
		{Container: &faults.ContainerFault{Service: "api", Action: "stop"}},
	}, s.Phases[1].Faults)
	assert.Equal(t, "container ledger disconnect", s.Phases[1].Faults[0].String())
}

func TestStackRules(t *testing.T) {
	const fault = "phases[1].faults[0].container"
	tests := []struct {
		name string
		doc  func(t *testing.T) string
		want []string
	}{
		// stacks itself.
		{name: "unknown stack", doc: func(t *testing.T) string { return withStacks(t, base, "stacks: [local, nomad]") },
			want: []string{`stacks[1]: unknown value "nomad"; allowed: local, compose, kubernetes, remote`}},
		{name: "a stack listed twice", doc: func(t *testing.T) string { return withStacks(t, base, "stacks: [compose, compose]") },
			want: []string{"stacks[1]: compose is listed twice"}},
		{name: "empty list", doc: func(t *testing.T) string { return withStacks(t, base, "stacks: []") },
			want: []string{"stacks: is empty: list the stacks the scenario runs on, like [compose], or leave stacks out to run on every stack; allowed: local, compose, kubernetes, remote"}},
		{name: "nothing", doc: func(t *testing.T) string { return withStacks(t, base, "stacks:") },
			want: []string{"stacks: is empty: list the stacks the scenario runs on, like [compose], or leave stacks out to run on every stack; allowed: local, compose, kubernetes, remote"}},
		{name: "a string, not a list", doc: func(t *testing.T) string { return withStacks(t, base, "stacks: compose") },
			want: []string{`stacks: want a list, got "compose"`}},
		{name: "a mapping entry", doc: func(t *testing.T) string { return withStacks(t, base, "stacks: [{name: compose}]") },
			want: []string{"stacks[0]: want one of the allowed values, got a mapping; allowed: local, compose, kubernetes, remote"}},

		// Container faults need stacks: [compose].
		{name: "a container fault without stacks", doc: disconnect,
			want: []string{fault + `: container faults need the compose stack, and without "stacks:" the scenario runs on every stack: add "stacks: [compose]" at the top of the file`}},
		{name: "a container fault on local too", doc: func(t *testing.T) string { return withStacks(t, disconnect(t), "stacks: [local, compose]") },
			want: []string{fault + `: container faults need the compose stack, and the scenario runs on local too (stacks, line 4): set "stacks: [compose]"`}},
		{name: "a container fault on local only", doc: func(t *testing.T) string { return withStacks(t, disconnect(t), "stacks: [local]") },
			want: []string{fault + `: container faults need the compose stack, and the scenario runs on local too (stacks, line 4): set "stacks: [compose]"`}},
		{name: "bad stacks are reported once, not again on the fault",
			doc:  func(t *testing.T) string { return withStacks(t, disconnect(t), "stacks: [compose, docker]") },
			want: []string{`stacks[1]: unknown value "docker"; allowed: local, compose, kubernetes, remote`}},
		{name: "an invalid container fault is not also told about stacks",
			doc: func(t *testing.T) string {
				return replaceIn(t, disconnect(t), "action: disconnect", "action: restart")
			},
			want: []string{fault + `.action: unknown action "restart"; allowed: stop, kill, pause, disconnect`}},

		// The container fault's own rules.
		{name: "container fault rules",
			doc: func(t *testing.T) string {
				return withStacks(t, replaceIn(t, disconnect(t), "{service: ledger, action: disconnect}", "{service: toxiproxy}"), "stacks: [compose]")
			},
			want: []string{ // a missing field is reported on its mapping, which comes first
				fault + ".action: action is missing: say what happens to the container; allowed: stop, kill, pause, disconnect",
				fault + `.service: unknown service "toxiproxy"; allowed: api, store, cache, ledger`,
			}},
		{name: "container fault fields",
			doc: func(t *testing.T) string {
				return withStacks(t, replaceIn(t, disconnect(t), "action: disconnect}", "action: [kill], restart_after: 2s}"), "stacks: [compose]")
			},
			want: []string{
				fault + ".action: want a string, got a list",
				fault + ".restart_after: unknown field; allowed: service, action",
			}},
		{name: "a container fault that is not a mapping",
			doc: func(t *testing.T) string {
				return withStacks(t, replaceIn(t, disconnect(t), "{service: ledger, action: disconnect}", "ledger"), "stacks: [compose]")
			},
			want: []string{fault + `: want a mapping of field: value, got "ledger"; allowed: service, action`}},
		{name: "two container faults on one service",
			doc: func(t *testing.T) string {
				return withStacks(t, replaceIn(t, disconnect(t), "action: disconnect}", "action: disconnect}\n      - container: {service: ledger, action: pause}"), "stacks: [compose]")
			},
			want: []string{"phases[1].faults[1]: phases[1].faults[0] already puts a container fault on ledger in this phase: merge the two, or use another phase"}},
		{name: "a process and a container fault on one service",
			doc: func(t *testing.T) string {
				return withStacks(t, replaceIn(t, disconnect(t), "- container:", "- process: {service: ledger, action: kill}\n      - container:"), "stacks: [compose]")
			},
			want: []string{"phases[1].faults[1]: phases[1].faults[0] already puts a process fault on ledger in this phase: merge the two, or use another phase"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, problems(t, tt.doc(t)))
		})
	}
}
