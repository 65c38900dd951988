package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/chaoslab/chaoslab/harness/scenario"
)

// runValidate checks scenario files before anything runs: it prints one
// "ok" line per valid file and every problem of the others, and fails with
// exitcode.Usage when any file is invalid. A valid scenario that expects to pass
// but has no check that can be seen to notice its faults missing gets a
// warning (not an error: the sensitivity run decides).
func runValidate(_ context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "validate", "validate [-lab FILE] [-loadtests DIR] [-slos FILE] [file|dir ...]   (default: the lab's scenarios/)")
	loadtests := fs.String("loadtests", "", "directory of the k6 scripts that scenarios name (default: the lab file's load.scripts)")
	slos := fs.String("slos", "", "SLO definitions that scenario checks name (default: the lab file's slos)")
	var labFile string
	registerLabFile(fs, &labFile)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	lf, err := loadLabFile(labFile)
	if err != nil {
		return err
	}
	defaults := labDefaults(lf)
	if *loadtests == "" {
		*loadtests = defaults.loadtests
	}
	if *slos == "" {
		*slos = defaults.slos
	}
	checks, _, err := scenarioChecks(*loadtests, *slos, lf)
	if err != nil {
		return err
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{defaults.scenarios}
	}
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return usageErr("%v", err)
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		inDir, err := scenario.Files(p)
		if err != nil {
			return usageErr("%v", err)
		}
		files = append(files, inDir...)
	}
	invalid := 0
	for _, f := range files {
		s, err := scenario.Load(f, checks...)
		var verr *scenario.ValidationError
		switch {
		case err == nil:
			fmt.Fprintf(env.Stdout, "ok  %s (%d phases, %d checks)\n", f, len(s.Phases), s.Checks.Count())
			if w := s.SensitivityWarning(); w != "" {
				fmt.Fprintf(env.Stderr, "warning: %s\n", w)
			}
			continue
		case errors.As(err, &verr):
			for _, p := range verr.Problems {
				fmt.Fprintln(env.Stderr, p.String())
			}
		default:
			fmt.Fprintf(env.Stderr, "%s: %v\n", f, err)
		}
		invalid++
	}
	if invalid > 0 {
		return usageErr("%d of %d scenario files are invalid", invalid, len(files))
	}
	return nil
}
