package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/exitcode"
)

// Bad input to explore is a usage error (exit 2) that says what is wrong,
// before any lab starts.
func TestExploreRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"an argument", []string{"extra"}, "explore takes no arguments"},
		{"no rate", []string{"-rate", "0"}, "-rate 0"},
		{"a probability above 1", []string{"-probability", "2"}, "-probability 2"},
		{"a throughput of 0", []string{"-throughput", "0"}, "-throughput 0"},
		{"no budget", []string{"-budget", "0s"}, "-budget 0s"},
		{"phases too short", []string{"-fault", "1s"}, "must each hold a few scrapes"},
		{"a restart after the fault", []string{"-restart-after", "9s"}, "-restart-after 9s"},
		{"an unknown rule", []string{"-reduce", "weaker,guess"}, `unknown rule "guess"`},
		{"an unknown focus", []string{"-focus", "nosuch"}, `-focus "nosuch": not a service or edge of lab shop`},
		{"a knob without a value", []string{"-knobs", "orders.retries"}, "want service.flag=value"},
		{"an unknown knob", []string{"-knobs", "orders.nosuch=1"}, "-knobs orders.nosuch=1"},
		{"a knob out of its bounds", []string{"-knobs", "orders.retry-max-attempts=9"}, "-knobs orders.retry-max-attempts=9"},
		{"no journey among several scripts", nil, "-journey: name the k6 script"},
		{"a journey that is not a script", []string{"-journey", "nosuch.js"}, "nosuch.js"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, out, errOut := testEnv(nil)
			args := append([]string{"explore", "-lab", libraryLab, "-loadtests", scriptsDir(t), "-slos", librarySLOs}, tt.args...)
			code := Run(t.Context(), env, args)
			require.Equal(t, exitcode.Usage, code, "stdout: %s\nstderr: %s", out, errOut)
			assert.Contains(t, errOut.String(), tt.want)
			assert.NotContains(t, out.String(), "starting a", "nothing started")
		})
	}
}

func TestExploreHelpExplains(t *testing.T) {
	env, _, errOut := testEnv(nil)
	code := Run(t.Context(), env, []string{"explore", "-help"})
	assert.Equal(t, exitcode.OK, code)
	for _, want := range []string{"fault space", "-budget", "-reduce", "-focus", "-knobs", "-seed", "Exit 0: no point failed"} {
		assert.Contains(t, errOut.String(), want)
	}
}
