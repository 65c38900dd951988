package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/chaoslab/chaoslab/harness/exitcode"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/report"
)

// runReport regenerates the reports of a chaos run from its journals —
// each scenario's report.html, the run's junit.xml, index.html and
// summary.json — prints the summary table, and exits with the code the
// verdicts call for (0 as expected, 1 unexpected, 3 inconclusive, 4 an
// infrastructure error). With -merge it joins the shards of one run into
// one report directory first; with -cost it prints what each scenario cost
// beyond its phases.
func runReport(_ context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "report", `report [-reports DIR] [run-dir]   (default: the latest run under -reports)
       chaoslab report -merge [-o DIR] [-partial] shard-run-dir ...
       chaoslab report -cost run-dir [run-dir ...]`)
	root := fs.String("reports", filepath.Join("reports", "chaos"), "directory holding the runs, one directory per run id")
	merge := fs.Bool("merge", false, "join the report directories of the shards of one run (chaoslab chaos -shard K/N) into one (-o): every scenario of the library exactly once, one JUnit file, one summary, one exit code")
	out := fs.String("o", "", "with -merge: the merged report directory, new or empty (default: <-reports>/<first shard's run id without its shard>-merged)")
	partial := fs.Bool("partial", false, "with -merge: merge what the directories hold even if scenarios are missing or they are not shards of one run (shards that overlap are refused all the same)")
	cost := fs.Bool("cost", false, "print what each scenario of the run directories cost beyond its phases (from the journals' timestamps), one column per directory: compare runs before and after a change")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *merge && *cost:
		return usageErr("-merge and -cost do not go together")
	case *merge:
		return mergeReports(env, *root, *out, *partial, fs.Args())
	case *cost:
		return reportCost(env, fs.Args())
	case *out != "" || *partial:
		return usageErr("-o and -partial go with -merge")
	}
	if fs.NArg() > 1 {
		return usageErr("one run directory at most, got %d arguments (to join shards: -merge)", fs.NArg())
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
	return summarizeRun(env, runDir, js)
}

// summarizeRun prints the summary of js (the run in runDir) and returns the
// exit code its verdicts call for.
func summarizeRun(env Env, runDir string, js []*journal.Journal) error {
	report.Summary(env.Stdout, js)
	fmt.Fprintf(env.Stdout, "report: %s\n", filepath.Join(runDir, "index.html"))
	if code := report.ExitCode(js); code != exitcode.OK {
		c := report.Count(js)
		return &exitError{code: code, err: fmt.Errorf("%d of %d scenarios did not end as expected (%d unexpected, %d inconclusive, %d errors)",
			c.Scenarios-c.AsExpected, c.Scenarios, c.Unexpected, c.Inconclusive, c.Errors)}
	}
	return nil
}

// mergeReports joins the shard run directories dirs into out (default:
// under root) and exits with the merged run's code. Directories that do
// not make one library — overlapping, missing scenarios (unless partial),
// shards of different runs — are a usage error, and nothing is written.
func mergeReports(env Env, root, out string, partial bool, dirs []string) error {
	if len(dirs) == 0 {
		return usageErr("-merge needs the report directories of the shards, e.g. chaoslab report -merge reports/chaos/*-shard*of3")
	}
	var parts []report.Part
	for _, d := range dirs {
		abs, err := resolve(env, d)
		if err != nil {
			return err
		}
		p, err := report.LoadPart(abs)
		if err != nil {
			return usageErr("%w", err)
		}
		p.Dir = d
		parts = append(parts, p)
		for i := range parts[:len(parts)-1] {
			if same, err := sameDir(parts[i].Dir, d, env); err == nil && same {
				return usageErr("%s is given twice", d)
			}
		}
	}
	js, missing, err := report.Merge(parts, partial)
	if err != nil {
		return usageErr("%w", err)
	}
	if len(js) == 0 {
		return usageErr("none of the %d directories holds a journal: nothing to merge", len(dirs))
	}
	if out == "" {
		out = filepath.Join(root, mergedRunID(parts)+"-merged")
	}
	outAbs, err := resolve(env, out)
	if err != nil {
		return err
	}
	// The sources stay where they are: the merged report gets copies.
	srcs := make([]report.Part, len(parts))
	for i, p := range parts {
		srcs[i] = p
		if srcs[i].Dir, err = resolve(env, p.Dir); err != nil {
			return err
		}
	}
	if err := report.WriteMerged(outAbs, srcs, js, missing); err != nil {
		code := exitcode.Infra
		if errors.Is(err, report.ErrNotEmpty) {
			code = exitcode.Usage
		}
		return &exitError{code: code, err: fmt.Errorf("writing the merged report: %w", err)}
	}
	for _, p := range parts {
		what := "not a shard"
		if p.Manifest != nil {
			what = "shard " + p.Manifest.Shard.String()
		}
		fmt.Fprintf(env.Stdout, "%s: %s, %d scenarios\n", p.Dir, what, len(p.Journals))
	}
	if len(missing) > 0 {
		fmt.Fprintf(env.Stdout, "merged without %d scenarios of the library (-partial): %s\n", len(missing), strings.Join(missing, ", "))
	}
	fmt.Fprintln(env.Stdout)
	return summarizeRun(env, out, js)
}

// mergedRunID names a merged run after its first shard's run id, without
// the shard: 20261203-151500-shard1of3 → 20261203-151500,
// 20261203-151500-shard1of3-r2 → 20261203-151500-r2.
func mergedRunID(parts []report.Part) string {
	for _, p := range parts {
		id := ""
		if p.Manifest != nil {
			id = p.Manifest.RunID
		} else if len(p.Journals) > 0 {
			id = p.Journals[0].RunID
		}
		if id != "" {
			return withoutShard(id)
		}
	}
	return "run"
}

// withoutShard removes the shard newRunID put in a run id: "-shard2of3".
func withoutShard(id string) string {
	i := strings.LastIndex(id, "-shard")
	if i < 0 {
		return id
	}
	rest := id[i+len("-shard"):]
	k, n, ok := strings.Cut(rest, "of")
	if !ok || k == "" || strings.Trim(k, "0123456789") != "" {
		return id
	}
	digits := len(n) - len(strings.TrimLeft(n, "0123456789"))
	if digits == 0 {
		return id
	}
	return id[:i] + n[digits:]
}

// sameDir reports whether a and b are one directory.
func sameDir(a, b string, env Env) (bool, error) {
	aa, err := resolve(env, a)
	if err != nil {
		return false, err
	}
	bb, err := resolve(env, b)
	if err != nil {
		return false, err
	}
	ia, err := os.Stat(aa)
	if err != nil {
		return false, err
	}
	ib, err := os.Stat(bb)
	if err != nil {
		return false, err
	}
	return os.SameFile(ia, ib), nil
}

// reportCost prints the cost table of the runs in dirs, one column each.
func reportCost(env Env, dirs []string) error {
	if len(dirs) == 0 {
		return usageErr("-cost needs one or more run directories (say, a run before a change and one after)")
	}
	var labels []string
	var runs [][]*journal.Journal
	for _, d := range dirs {
		abs, err := resolve(env, d)
		if err != nil {
			return err
		}
		js, err := report.Load(abs)
		if err != nil {
			return usageErr("%w", err)
		}
		labels = append(labels, filepath.Base(filepath.Clean(d)))
		runs = append(runs, js)
	}
	report.Cost(env.Stdout, labels, runs)
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
