package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/chaoslab/chaoslab/harness/exitcode"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/chaoslab/chaoslab/harness/report"
)

// runReport regenerates the reports of a chaos run from its journals —
// each scenario's report.html, the run's junit.xml, index.html and
// summary.json — prints the summary table, and exits with the code the
// verdicts call for (0 as expected, 1 unexpected, 3 inconclusive, 4 an
// infrastructure error).
func runReport(_ context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "report", "report [-reports DIR] [run-dir]   (default: the latest run under -reports)")
	root := fs.String("reports", filepath.Join("reports", "chaos"), "directory holding the runs, one directory per run id")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageErr("one run directory at most, got %d arguments", fs.NArg())
	}
	runDir := fs.Arg(0)
	if runDir == "" {
		dir, err := resolve(env, *root)
		if err != nil {
			return err
		}
		if runDir, err = report.Latest(dir); err != nil {
			return usageErr("%w; name a run directory or run `make chaos` first", err)
		}
	} else {
		var err error
		if runDir, err = resolve(env, runDir); err != nil {
			return err
		}
	}

	js, err := report.Load(runDir)
	if err != nil {
		return usageErr("%w", err)
	}
	for _, j := range js {
		// A scenario's report goes next to its journal, and only there.
		dir := filepath.Join(runDir, j.Scenario)
		if filepath.Base(j.Scenario) != j.Scenario || !hasJournal(dir) {
			fmt.Fprintf(env.Stderr, "chaoslab report: scenario %q has no directory of its own in %s; no report.html for it\n", j.Scenario, runDir)
			continue
		}
		if err := report.WriteScenario(dir, j); err != nil {
			return err
		}
	}
	if err := report.WriteSuite(runDir, js); err != nil {
		return err
	}
	report.Summary(env.Stdout, js)
	fmt.Fprintf(env.Stdout, "report: %s\n", filepath.Join(runDir, "index.html"))

	if code := report.ExitCode(js); code != exitcode.OK {
		c := report.Count(js)
		return &exitError{code: code, err: fmt.Errorf("%d of %d scenarios did not end as expected (%d unexpected, %d inconclusive, %d errors)",
			c.Scenarios-c.AsExpected, c.Scenarios, c.Unexpected, c.Inconclusive, c.Errors)}
	}
	return nil
}

// resolve makes a relative path relative to the working directory.
func resolve(env Env, path string) (string, error) {
	if filepath.IsAbs(path) {
		return path, nil
	}
	wd, err := env.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the working directory: %w", err)
	}
	return filepath.Join(wd, path), nil
}

// hasJournal reports whether dir holds a journal.json.
func hasJournal(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "journal.json"))
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}
