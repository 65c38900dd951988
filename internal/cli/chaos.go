package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/scenario"
)

// runChaos brings a lab up, runs the scenario library on it, and tears it
// down — always, also on failure or Ctrl-C. This is `make chaos`.
func runChaos(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "chaos", "chaos [flags] [file|dir ...]\n\nStarts a lab (local processes, or -stack compose), runs every scenario (or -scenario NAME) that\nruns on that stack, stops the lab, and exits 0 only if every scenario met its expectation.\nWith -sensitivity, every expect-pass scenario with faults runs with its faults replaced by no-ops and\nmust fail on data: the run proves that each scenario notices a fault that did nothing.\nWith -shard K/N, only the K-th of N parts of the selection runs, on its own lab; chaoslab report -merge\njoins the N report directories into one.")
	o := labFlags(fs, env)
	o.chaosFlags(fs)
	var sf suiteFlags
	sf.register(fs)
	var shard shardFlag
	fs.Var(&shard, "shard", "K/N: run only the K-th of N parts of the selection (e.g. 2/3), balanced by expected duration (phases, the runner's overhead, knob restarts); every scenario is in exactly one part, the same one every time; join the N report directories with chaoslab report -merge")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	scs, defs, lf, err := sf.selectScenarios(fs.Args())
	if err != nil {
		return err
	}
	scs, err = forStack(env, scs, o.stack)
	if err != nil {
		return err
	}
	if scs, err = o.forCapabilities(env, scs, lf, namedBy(fs.Args(), sf.name)); err != nil {
		return err
	}
	if sf.sensitivity {
		if scs, err = forSensitivity(env, scs); err != nil {
			return err
		}
	}
	if shard.sharded() {
		if scs = selectShard(env, shard, &sf, scs, lf); len(scs) == 0 {
			return emptyShard(env, sf)
		}
	}
	start := time.Now()
	fmt.Fprintf(env.Stdout, "starting a %s of lab %s for %d scenarios\n", o.describe(), lf.Name, len(scs))
	lab, err := o.up(ctx, lf, env.Stdout)
	if err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	defer func() {
		o.stop(ctx, env)
		fmt.Fprintf(env.Stdout, "chaos run took %s\n", time.Since(start).Round(time.Second))
	}()
	return runSuite(ctx, env, lab, lf, o, sf, scs, defs)
}

// selectShard returns shard s of the selection scs, records it in sf for
// the journals, and says which scenarios it runs and how the parts
// balance.
func selectShard(env Env, s shardFlag, sf *suiteFlags, scs []*scenario.Scenario, lf *labfile.Lab) []*scenario.Scenario {
	isDefault := knobDefault(lf)
	cost := func(sc *scenario.Scenario) time.Duration { return expectedDuration(sc, isDefault) }
	part, info, expected := shardOf(s, scs, cost)
	sf.shard = info
	names := make([]string, len(part))
	for i, sc := range part {
		names[i] = sc.Name
	}
	all := make([]string, len(expected))
	for i, d := range expected {
		all[i] = d.Round(time.Second).String()
	}
	list := strings.Join(names, ", ")
	if list == "" {
		list = "none"
	}
	fmt.Fprintf(env.Stdout, "shard %s: %d of the %d scenarios, expected %s (the %d shards: %s): %s\n",
		info, len(part), len(scs), expected[s.index-1].Round(time.Second), s.count, strings.Join(all, ", "), list)
	return part
}

// emptyShard is a shard whose part of the library is empty (more shards
// than scenarios): it starts no lab and writes only its manifest, so that
// the merge sees it ran, and whole.
func emptyShard(env Env, sf suiteFlags) error {
	runID := newRunID(time.Now(), sf.shard)
	ids := []string{runID}
	if sf.repeat > 1 {
		ids = ids[:0]
		for round := 1; round <= sf.repeat; round++ {
			ids = append(ids, fmt.Sprintf("%s-r%d", runID, round))
		}
	}
	for _, id := range ids {
		dir := filepath.Join(sf.reports, id)
		if err := writeManifest(dir, id, sf.shard, nil); err != nil {
			return &exitError{code: exitcode.Infra, err: err}
		}
		fmt.Fprintf(env.Stdout, "shard %s has no scenario to run: no lab started; its manifest is in %s\n", sf.shard, dir)
	}
	return nil
}
