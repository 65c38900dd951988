package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/stack"
)

// flagNames are the names of the flags registered on fs, sorted.
func flagNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	return names
}

func TestStackTable(t *testing.T) {
	toolsDir := defaultToolsDir
	stacks := newStacks(&toolsDir)

	names := make([]string, len(stacks))
	for i, p := range stacks {
		names[i] = p.Name()
	}
	require.Equal(t, []string{stackLocal, stackCompose, stackKubernetes, stackRemote}, names, "the table, in -stack's order (the first is the default)")
	assert.Equal(t, scenario.Stacks(), names, "every stack a scenario file can name has a provider, and only those")

	tests := []struct {
		stack     string
		summary   string
		flags     []string
		chaosFlag string // registered by ChaosFlags; "" when the stack has none
	}{
		{stack: stackLocal, summary: "processes on 127.0.0.1",
			flags: []string{"bin-dir", "port-offset", "rules", "run-dir", "stop-grace"}, chaosFlag: "chaos-run-dir"},
		{stack: stackCompose, summary: "docker-compose.yml",
			flags: []string{"compose-dir", "compose-offline", "compose-run-dir", "image-tag"}},
		{stack: stackKubernetes, summary: "a Kubernetes cluster, client-go",
			flags:     []string{"kube-context", "kube-endpoints", "kube-image-tag", "kube-port-offset", "kube-run-dir", "kubeconfig", "namespace"},
			chaosFlag: "kube-chaos-run-dir"},
		{stack: stackRemote, summary: "a lab running elsewhere, given by the URLs of -remote FILE",
			flags: []string{"remote", "remote-run-dir"}},
	}
	require.Len(t, tests, len(stacks), "a test case per stack")
	for i, tt := range tests {
		t.Run(tt.stack, func(t *testing.T) {
			p := stacks[i]
			assert.Equal(t, tt.stack, p.Name())
			assert.Equal(t, tt.summary, p.Summary())

			env, _, _ := testEnv(nil)
			fs := flag.NewFlagSet(tt.stack, flag.ContinueOnError)
			p.Flags(fs, env)
			assert.Equal(t, tt.flags, flagNames(fs))
			fs.VisitAll(func(f *flag.Flag) {
				assert.True(t, strings.HasPrefix(f.Usage, tt.stack+": "), "-%s's help says which stack it is for: %q", f.Name, f.Usage)
			})

			c, ok := p.(chaosFlagger)
			assert.Equal(t, tt.chaosFlag != "", ok, "whether the stack moves the lab chaos starts")
			if ok {
				cfs := flag.NewFlagSet("chaos", flag.ContinueOnError)
				c.ChaosFlags(cfs)
				assert.Equal(t, []string{tt.chaosFlag}, flagNames(cfs))
			}
		})
	}
}

func TestLabFlagsRegistersEveryStacksFlags(t *testing.T) {
	env, _, _ := testEnv(nil)
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	o := labFlags(fs, env) // a flag two stacks define would panic here
	want := []string{"stack", "tools-dir"}
	for _, p := range o.stacks {
		pfs := flag.NewFlagSet(p.Name(), flag.ContinueOnError)
		p.Flags(pfs, env)
		want = append(want, flagNames(pfs)...)
	}
	sort.Strings(want)
	assert.Equal(t, want, flagNames(fs))
	assert.Equal(t, "where the lab runs: local (processes on 127.0.0.1), compose (docker-compose.yml), kubernetes (a Kubernetes cluster, client-go) or remote (a lab running elsewhere, given by the URLs of -remote FILE); default $CHAOSLAB_STACK or local",
		fs.Lookup("stack").Usage)
}

func TestCheckChoosesTheStack(t *testing.T) {
	tests := []struct {
		stack   string
		want    string // the provider chosen; "" for an error
		wantErr string
	}{
		{stack: "local", want: stackLocal},
		{stack: "compose", want: stackCompose},
		{stack: "remote", want: stackRemote},
		{stack: "kubernetes", want: stackKubernetes},
		{stack: "k8s", wantErr: `-stack "k8s": the stacks are local, compose, kubernetes and remote`},
		{stack: "", wantErr: `-stack "": the stacks are local, compose, kubernetes and remote`},
		{stack: "Compose", wantErr: `-stack "Compose": the stacks are local, compose, kubernetes and remote`},
		{stack: "local ", wantErr: `-stack "local ": the stacks are local, compose, kubernetes and remote`},
	}
	for _, tt := range tests {
		t.Run(tt.stack, func(t *testing.T) {
			env, _, _ := testEnv(nil)
			fs := flag.NewFlagSet("up", flag.ContinueOnError)
			o := labFlags(fs, env)
			require.NoError(t, fs.Parse([]string{"-stack", tt.stack}))
			err := o.check()
			if tt.wantErr != "" {
				var ee *exitError
				require.ErrorAs(t, err, &ee)
				assert.Equal(t, exitcode.Usage, ee.code)
				assert.EqualError(t, err, tt.wantErr)
				assert.Nil(t, o.p)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, o.p.Name())
		})
	}
}

// fakeStack is a stack that only has a name: enough for the table's help
// and errors.
type fakeStack struct{ name, summary string }

func (f fakeStack) Name() string                                             { return f.name }
func (f fakeStack) Summary() string                                          { return f.summary }
func (f fakeStack) Flags(*flag.FlagSet, Env)                                 {}
func (f fakeStack) Describe() string                                         { return f.name + " lab" }
func (f fakeStack) Up(context.Context, *labfile.Lab, io.Writer) (lab, error) { return nil, nil }
func (f fakeStack) Attach(*labfile.Lab) (lab, error)                         { return nil, nil }
func (f fakeStack) Down(context.Context, io.Writer) error                    { return nil }
func (f fakeStack) Status(context.Context, io.Writer) error                  { return nil }
func (f fakeStack) Hints(io.Writer, stack.Endpoints)                         {}
func (f fakeStack) Capabilities(*labfile.Lab) (scenario.Capabilities, error) {
	return scenario.Capabilities{Stack: f.name}, nil
}

func TestANewStackIsOneTableLine(t *testing.T) {
	toolsDir := defaultToolsDir
	o := &labOptions{stacks: append(newStacks(&toolsDir), fakeStack{name: "k8s", summary: "a cluster"})}

	assert.Equal(t, "local (processes on 127.0.0.1), compose (docker-compose.yml), kubernetes (a Kubernetes cluster, client-go), remote (a lab running elsewhere, given by the URLs of -remote FILE) or k8s (a cluster)", o.stackHelp())
	o.stack = "nomad"
	assert.EqualError(t, o.check(), `-stack "nomad": the stacks are local, compose, kubernetes, remote and k8s`)
	o.stack = "k8s"
	require.NoError(t, o.check())
	assert.Equal(t, "k8s lab", o.describe())
}

func TestJoinList(t *testing.T) {
	tests := []struct {
		items []string
		want  string
	}{
		{items: nil, want: ""},
		{items: []string{"local"}, want: "local"},
		{items: []string{"local", "compose"}, want: "local and compose"},
		{items: []string{"local", "compose", "remote"}, want: "local, compose and remote"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, joinList(tt.items, "and"))
		})
	}
}

func TestLabEnvFallbacks(t *testing.T) {
	tests := []struct {
		name  string
		vars  map[string]string
		args  []string
		stack string
		flags map[string]string // flag → its value after parsing
		desc  string
	}{
		{name: "defaults", stack: stackLocal,
			flags: map[string]string{"port-offset": "0", "compose-offline": "false", "run-dir": ".run/lab", "tools-dir": ".tools/bin"},
			desc:  "local lab in .run/lab"},
		{name: "CHAOSLAB_STACK", vars: map[string]string{"CHAOSLAB_STACK": "compose"}, stack: stackCompose,
			desc: "compose lab (project chaoslab, pulling third-party images when missing)"},
		{name: "-stack over CHAOSLAB_STACK", vars: map[string]string{"CHAOSLAB_STACK": "compose"}, args: []string{"-stack", "local"}, stack: stackLocal},
		{name: "CHAOSLAB_PORT_OFFSET", vars: map[string]string{"CHAOSLAB_PORT_OFFSET": "7"}, stack: stackLocal,
			flags: map[string]string{"port-offset": "7"}},
		{name: "CHAOSLAB_PORT_OFFSET not a number", vars: map[string]string{"CHAOSLAB_PORT_OFFSET": "seven"}, stack: stackLocal,
			flags: map[string]string{"port-offset": "0"}},
		{name: "-port-offset over CHAOSLAB_PORT_OFFSET", vars: map[string]string{"CHAOSLAB_PORT_OFFSET": "7"}, args: []string{"-port-offset", "3"}, stack: stackLocal,
			flags: map[string]string{"port-offset": "3"}},
		{name: "CHAOSLAB_COMPOSE_OFFLINE", vars: map[string]string{"CHAOSLAB_STACK": "compose", "CHAOSLAB_COMPOSE_OFFLINE": "true"}, stack: stackCompose,
			flags: map[string]string{"compose-offline": "true"},
			desc:  "compose lab (project chaoslab, offline stand-in images, no Grafana)"},
		{name: "CHAOSLAB_COMPOSE_OFFLINE=1", vars: map[string]string{"CHAOSLAB_COMPOSE_OFFLINE": "1"}, stack: stackLocal,
			flags: map[string]string{"compose-offline": "true"}},
		{name: "CHAOSLAB_COMPOSE_OFFLINE not a bool", vars: map[string]string{"CHAOSLAB_COMPOSE_OFFLINE": "yes please"}, stack: stackLocal,
			flags: map[string]string{"compose-offline": "false"}},
		{name: "-compose-offline=false over CHAOSLAB_COMPOSE_OFFLINE", vars: map[string]string{"CHAOSLAB_COMPOSE_OFFLINE": "true"},
			args: []string{"-stack", "compose", "-compose-offline=false"}, stack: stackCompose,
			flags: map[string]string{"compose-offline": "false"},
			desc:  "compose lab (project chaoslab, pulling third-party images when missing)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _, _ := testEnv(tt.vars)
			fs := flag.NewFlagSet("up", flag.ContinueOnError)
			o := labFlags(fs, env)
			require.NoError(t, fs.Parse(tt.args))
			require.NoError(t, o.check())
			assert.Equal(t, tt.stack, o.p.Name())
			for name, want := range tt.flags {
				f := fs.Lookup(name)
				require.NotNil(t, f, name)
				assert.Equal(t, want, f.Value.String(), "-%s", name)
			}
			if tt.desc != "" {
				assert.Equal(t, tt.desc, o.describe())
			}
		})
	}
}

func TestChaosKeepsTheLocalLabApart(t *testing.T) {
	tests := []struct {
		name string
		args []string
		desc string
	}{
		{name: "default", desc: "local lab in " + filepath.Join(".run", "chaos")},
		{name: "-chaos-run-dir", args: []string{"-chaos-run-dir", "/tmp/c"}, desc: "local lab in /tmp/c"},
		{name: "-run-dir still works", args: []string{"-run-dir", "/tmp/r"}, desc: "local lab in /tmp/r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _, _ := testEnv(nil)
			fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
			o := labFlags(fs, env)
			o.chaosFlags(fs)
			require.NoError(t, fs.Parse(tt.args))
			require.NoError(t, o.check())
			assert.Equal(t, tt.desc, o.describe())
		})
	}
}

func TestLocalStackUsesTheSharedToolsDir(t *testing.T) {
	env, _, _ := testEnv(nil)
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	o := labFlags(fs, env)
	require.NoError(t, fs.Parse([]string{"-tools-dir", "/opt/tools", "-bin-dir", "/opt/bin"}))
	require.NoError(t, o.check())
	s, ok := o.p.(*localStack)
	require.True(t, ok)
	cfg := s.config(nil)
	assert.Equal(t, "/opt/tools", cfg.ToolsDir)
	assert.Equal(t, "/opt/bin", cfg.BinDir)
	assert.Equal(t, "/opt/tools", o.toolsDir, "runSuite finds k6 there")
}

func TestStackWithoutALab(t *testing.T) {
	tests := []struct {
		stack   string
		dirFlag string
		wantErr string
	}{
		{stack: stackLocal, dirFlag: "-run-dir", wantErr: "no lab in DIR: start one with `chaoslab up`"},
		{stack: stackCompose, dirFlag: "-compose-run-dir", wantErr: "no compose lab in DIR: start one with `chaoslab up -stack compose` (make up)"},
	}
	for _, tt := range tests {
		t.Run(tt.stack, func(t *testing.T) {
			dir := t.TempDir()
			want := strings.ReplaceAll(tt.wantErr, "DIR", dir)
			env, _, _ := testEnv(nil)
			fs := flag.NewFlagSet("status", flag.ContinueOnError)
			o := labFlags(fs, env)
			require.NoError(t, fs.Parse([]string{"-stack", tt.stack, tt.dirFlag, dir}))
			require.NoError(t, o.check())

			l, err := o.attach(nil)
			assert.EqualError(t, err, want)
			assert.True(t, l == nil, "no lab, not a typed nil: %#v", l)

			var out bytes.Buffer
			err = o.p.Status(t.Context(), &out)
			var ee *exitError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, exitcode.Infra, ee.code)
			assert.EqualError(t, err, want)
			assert.Empty(t, out.String())
		})
	}
}

func TestStackHints(t *testing.T) {
	e := stack.Endpoints{JWTKeyFile: "/k/jwt.key"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "local", args: []string{"-run-dir", "/r"},
			want: "\nlogs:   /r/logs/\nstop:   chaoslab down\n"},
		{name: "compose", args: []string{"-stack", "compose"},
			want: "\nGrafana: http://127.0.0.1:3000 (anonymous admin; dashboards in the chaoslab folder)\n" +
				"\nlogs:   docker-compose -p chaoslab logs <service>\nstop:   chaoslab down -stack compose (make down)\n"},
		{name: "compose offline: no Grafana", args: []string{"-stack", "compose", "-compose-offline"},
			want: "\nlogs:   docker-compose -p chaoslab logs <service>\nstop:   chaoslab down -stack compose (make down)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _, _ := testEnv(nil)
			fs := flag.NewFlagSet("up", flag.ContinueOnError)
			o := labFlags(fs, env)
			require.NoError(t, fs.Parse(tt.args))
			require.NoError(t, o.check())
			var out bytes.Buffer
			o.p.Hints(&out, e)
			assert.Equal(t, tt.want, out.String())
		})
	}
}
