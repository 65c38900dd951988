package host

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/services/internal/envflag"
	"github.com/chaoslab/chaoslab/services/internal/telemetry"
)

// Command is what a service's main runs: its name, its own flags, where its
// listen addresses go, and how to build it once telemetry exists.
type Command struct {
	// Name is the service name ("orders"); its flags fall back to the
	// environment variables CHAOSLAB_<NAME>_<FLAG>.
	Name string
	// Summary is one line for -help.
	Summary string
	// Host receives -addr, -metrics-addr, -admin-addr and -shutdown-timeout;
	// its current values are the defaults.
	Host *Config
	// Flags registers the service's own flags.
	Flags func(*flag.FlagSet)
	// Build constructs the service after flags are parsed.
	Build func(context.Context, *telemetry.Telemetry) (Service, error)
}

// UsageError is a bad command line or environment; mains exit 2 on it.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// ExitCode maps Main's error to a process exit code: 0 for success and
// -help, 2 for a usage error, 1 otherwise.
func ExitCode(err error) int {
	var usage *UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		return 2
	default:
		return 1
	}
}

// Main parses args (without the program name), sets up telemetry with logs
// to stdout, builds the service and runs it until ctx is cancelled.
func Main(ctx context.Context, cmd Command, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	prefix := "CHAOSLAB_" + strings.ToUpper(cmd.Name)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s — %s\n\nUsage: %s [flags]\n\n", cmd.Name, cmd.Summary, cmd.Name)
		fmt.Fprintf(stderr, "Every flag can also be set through the environment: -metrics-addr as %s.\n\nFlags:\n",
			envflag.EnvName(prefix, "metrics-addr"))
		fs.PrintDefaults()
	}
	tcfg := telemetry.Config{Service: cmd.Name}
	tcfg.RegisterFlags(fs)
	cmd.Host.RegisterFlags(fs)
	if cmd.Flags != nil {
		cmd.Flags(fs)
	}
	if err := envflag.Parse(fs, args, prefix, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &UsageError{Err: err}
	}
	if fs.NArg() > 0 {
		return &UsageError{Err: fmt.Errorf("unexpected arguments %q (see -help)", fs.Args())}
	}

	tel, err := telemetry.New(ctx, tcfg, stdout)
	if err != nil {
		return err
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(flushCtx); err != nil {
			tel.Logger.Warn("flushing telemetry", "err", err)
		}
	}()
	svc, err := cmd.Build(ctx, tel)
	if err != nil {
		return err
	}
	return Run(ctx, *cmd.Host, tel, svc, nil)
}
