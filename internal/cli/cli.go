// Package cli implements the chaoslab command: one file (and one test) per
// subcommand. Everything a command touches of the operating system comes
// through Env, so commands run in memory in tests.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/chaoslab/chaoslab/harness/exitcode"
)

// Env is the process environment a command may use.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Getwd          func() (string, error)
}

// OS is the real process environment.
func OS() Env {
	return Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Getwd: os.Getwd}
}

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, env Env, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"token":    {summary: "mint an HS256 JWT with the lab's key (hs256-jwt auth)", run: runToken},
		"list":     {summary: "list the scenario library: expectation, duration, faults, purpose", run: runList},
		"run":      {summary: "run scenarios against the running lab; report and exit code", run: runCmd},
		"explore":  {summary: "find the faults that break a lab: a fault space from a baseline's traces, run point by point, a matrix", run: runExplore},
		"chaos":    {summary: "up, run the scenario library (or one), down: the main job (make chaos)", run: runChaos},
		"up":       {summary: "start the local lab (Jaeger, Prometheus, Toxiproxy, the shop) on 127.0.0.1", run: runUp},
		"down":     {summary: "stop every process of the local lab, even if `up` was killed", run: runDown},
		"status":   {summary: "show the local lab's components: running, ready, memory", run: runStatus},
		"validate": {summary: "check scenario files (default: scenarios/) before anything runs", run: runValidate},
		"report":   {summary: "regenerate a chaos run's reports (HTML, JUnit) from its journals and print its summary", run: runReport},
		"clean":    {summary: "remove every fault and knob chaoslab left in the lab (after a crashed or killed run)", run: runClean},
		"slo":      {summary: "generate the Prometheus rules of slo/slos.yaml, or check the committed ones", run: runSLO},

		"manifests":    {summary: "write the lab as Kubernetes manifests: a kustomize base and overlays, a k6-operator TestRun", run: runManifests},
		"compose-file": {summary: "generate docker-compose.yml and compose/ from the lab file, or check the committed ones", run: runComposeFile},
		"remote-file":  {summary: "write the remote endpoints file of the running lab, for -stack remote (docs/remote.md)", run: runRemoteFile},
	}
}

// exitError carries an exit code chosen by a command.
type exitError struct {
	code exitcode.Code
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitcode.Usage, err: fmt.Errorf(format, args...)}
}

// Run runs the command line args (without the program name) and returns the
// process exit code.
func Run(ctx context.Context, env Env, args []string) exitcode.Code {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		printHelp(env.Stdout, cmds)
		if len(args) == 0 {
			return exitcode.Usage
		}
		return exitcode.OK
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "chaoslab: unknown command %q\n\n", args[0])
		printHelp(env.Stderr, cmds)
		return exitcode.Usage
	}
	err := cmd.run(ctx, env, args[1:])
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitcode.OK
	}
	fmt.Fprintf(env.Stderr, "chaoslab %s: %v\n", args[0], err)
	return codeOf(err)
}

// codeOf is the exit code err carries: that of the innermost exitError in
// its chain — the most specific, as when a stack's invalid input file (2)
// is wrapped by the failure to start or reach the lab (4) — and
// exitcode.Infra when it carries none.
func codeOf(err error) exitcode.Code {
	code := exitcode.Infra
	for {
		var ee *exitError
		if !errors.As(err, &ee) {
			return code
		}
		code, err = ee.code, ee.err
	}
}

func printHelp(w io.Writer, cmds map[string]command) {
	fmt.Fprint(w, `chaoslab — an observability and resilience lab for Go microservices.

Usage: chaoslab <command> [flags]   (chaoslab <command> -help for its flags)

Commands:
`)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprint(w, `
Exit codes: 0 ok, 1 a check failed, 2 bad usage or input, 3 inconclusive, 4 lab/infrastructure error.
`)
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(env Env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: chaoslab %s\n\nFlags:\n", strings.TrimSpace(usage))
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and maps a flag error to a usage exit code.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: exitcode.Usage, err: err}
	}
	return nil
}
