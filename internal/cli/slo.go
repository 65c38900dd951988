package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/chaoslab/chaoslab/harness/exitcode"
	iofs "io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/chaoslab/chaoslab/harness/slodef"
)

// sloUsage is the usage line of chaoslab slo.
const sloUsage = `slo generate|check [-defs FILE] [-out DIR]

generate  writes the Prometheus rules of the SLO definitions (recording rules
          and burn-rate alerts) to DIR
check     fails (exit 1) when the rule files in DIR differ from what generate
          would write`

// runSLO generates the Prometheus rules of the SLO definitions, or checks
// that the committed ones are up to date.
func runSLO(_ context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "slo", sloUsage)
	defs := fs.String("defs", filepath.Join("slo", "slos.yaml"), "the SLO definitions")
	out := fs.String("out", filepath.Join("slo", "rules"), "the directory of the generated rule files")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		fs.Usage()
		return usageErr("want a subcommand: generate or check")
	}
	sub := args[0]
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected arguments %q: the flags come after the subcommand", fs.Args())
	}
	if sub != "generate" && sub != "check" {
		return usageErr("unknown subcommand %q: want generate or check", sub)
	}
	set, err := slodef.Load(*defs)
	if err != nil {
		var verr *slodef.ValidationError
		if errors.As(err, &verr) {
			for _, p := range verr.Problems {
				fmt.Fprintln(env.Stderr, p.String())
			}
			return usageErr("%s has %d problems", *defs, len(verr.Problems))
		}
		return usageErr("%v", err)
	}
	files, err := set.Files()
	if err != nil {
		return err
	}
	names := slices.Sorted(maps.Keys(files))
	if sub == "generate" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return fmt.Errorf("creating the rules' directory: %w", err)
		}
		for _, n := range names {
			path := filepath.Join(*out, n)
			if err := writeAtomic(path, files[n]); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "wrote %s\n", path)
		}
		fmt.Fprintf(env.Stdout, "%d SLOs: %s\n", len(set.SLOs), strings.Join(set.Names(), ", "))
		return nil
	}
	stale := 0
	for _, n := range names {
		path := filepath.Join(*out, n)
		have, err := os.ReadFile(path)
		switch {
		case errors.Is(err, iofs.ErrNotExist):
			fmt.Fprintf(env.Stderr, "%s: missing\n", path)
			stale++
		case err != nil:
			return fmt.Errorf("reading the generated rules: %w", err)
		case !bytes.Equal(have, files[n]):
			fmt.Fprintf(env.Stderr, "%s:%d: differs from what generate writes from %s\n", path, firstDiffLine(have, files[n]), *defs)
			stale++
		default:
			fmt.Fprintf(env.Stdout, "ok  %s\n", path)
		}
	}
	if stale > 0 {
		return &exitError{code: exitcode.CheckFailed, err: fmt.Errorf("%d rule files are out of date with %s: run `chaoslab slo generate` (make slo) and commit them", stale, *defs)}
	}
	return nil
}

// firstDiffLine returns the 1-based number of the first line where a and b
// differ.
func firstDiffLine(a, b []byte) int {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(la), len(lb)) {
		if !bytes.Equal(la[i], lb[i]) {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

// writeAtomic writes data to path through a temporary file and a rename,
// so that a reader never sees half a file.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
