package cli

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	"github.com/chaoslab/chaoslab/harness/scenario"
)

func TestStackSelection(t *testing.T) {
	scenarios := filepath.Join("..", "..", "scenarios")
	loadtests := filepath.Join("..", "..", "loadtests")
	tests := []struct {
		name     string
		vars     map[string]string
		args     []string
		wantCode exitcode.Code
		wantErr  string
	}{
		{name: "unknown stack", args: []string{"run", "-stack", "k8s"}, wantCode: exitcode.Usage, wantErr: `-stack "k8s": the stacks are local, compose, kubernetes and remote`},
		{name: "unknown stack from the environment", vars: map[string]string{"CHAOSLAB_STACK": "nomad"}, args: []string{"down"}, wantCode: exitcode.Usage, wantErr: `-stack "nomad"`},
		{name: "no rounds", args: []string{"run", "-repeat", "0"}, wantCode: exitcode.Usage, wantErr: "-repeat must be from 1 to 100, got 0"},
		{name: "no compose lab to run on", args: []string{"run", "-stack", "compose", "-compose-run-dir", "RUNDIR"}, wantCode: exitcode.Infra, wantErr: "no compose lab in"},
		{name: "no compose lab to clean", args: []string{"clean", "-stack", "compose", "-compose-run-dir", "RUNDIR"}, wantCode: exitcode.Infra, wantErr: "start one with `chaoslab up -stack compose`"},
		{name: "no kubernetes lab to run on", args: []string{"run", "-stack", "kubernetes", "-kube-run-dir", "RUNDIR"}, wantCode: exitcode.Infra, wantErr: "no kubernetes lab in"},
		{name: "no kubernetes lab to clean", args: []string{"clean", "-stack", "kubernetes", "-kube-run-dir", "RUNDIR"}, wantCode: exitcode.Infra, wantErr: "start one with `chaoslab up -stack kubernetes`"},
		{name: "no kubernetes lab for status", args: []string{"status", "-stack", "kubernetes", "-kube-run-dir", "RUNDIR"}, wantCode: exitcode.Infra, wantErr: "no kubernetes lab in"},
		{name: "bad kubernetes endpoints", args: []string{"status", "-stack", "kubernetes", "-kube-endpoints", "ssh"}, wantCode: exitcode.Usage, wantErr: `"ssh": one of port-forward or in-cluster`},
		{name: "no compose lab for status", vars: map[string]string{"CHAOSLAB_STACK": "compose"}, args: []string{"status", "-compose-run-dir", "RUNDIR"}, wantCode: exitcode.Infra, wantErr: "no compose lab in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string(nil), tt.args...)
			for i, a := range args {
				if a == "RUNDIR" {
					args[i] = dir
				}
			}
			if args[0] == "run" {
				args = append(args, "-scenarios", scenarios, "-loadtests", loadtests, "-slos", librarySLOs, "-lab", libraryLab)
			}
			env, _, errOut := testEnv(tt.vars)
			code := Run(t.Context(), env, args)
			assert.Equal(t, tt.wantCode, code, errOut.String())
			assert.Contains(t, errOut.String(), tt.wantErr)
		})
	}
}

func TestForStackSaysWhatItLeavesOut(t *testing.T) {
	both := &scenario.Scenario{Name: "latency-payments", Stacks: []string{"local", "compose"}}
	composeOnly := &scenario.Scenario{Name: "payments-disconnect", Stacks: []string{"compose"}}

	env, out, _ := testEnv(nil)
	got, err := forStack(env, []*scenario.Scenario{both, composeOnly}, stackLocal)
	require.NoError(t, err)
	assert.Equal(t, []*scenario.Scenario{both}, got)
	assert.Contains(t, out.String(), "not on the local stack: payments-disconnect (runs on compose)")

	env, out, _ = testEnv(nil)
	got, err = forStack(env, []*scenario.Scenario{both, composeOnly}, stackCompose)
	require.NoError(t, err)
	assert.Len(t, got, 2)
	assert.Empty(t, out.String())

	env, _, _ = testEnv(nil)
	_, err = forStack(env, []*scenario.Scenario{composeOnly}, stackLocal)
	var ee *exitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, exitcode.Usage, ee.code)
}
