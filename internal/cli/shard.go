package cli

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/report"
	"github.com/chaoslab/chaoslab/harness/scenario"
)

// maxShards bounds N in -shard K/N.
const maxShards = 100

// shardFlag is -shard K/N: run the K-th of N balanced parts of the
// selected library. The zero value runs all of it.
type shardFlag struct {
	index, count int
}

// String is "K/N", or "" when not sharded.
func (s *shardFlag) String() string {
	if s == nil || s.count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.index, s.count)
}

// Set parses "K/N": 1 ≤ K ≤ N ≤ maxShards.
func (s *shardFlag) Set(v string) error {
	k, n, ok := strings.Cut(strings.TrimSpace(v), "/")
	if !ok {
		return fmt.Errorf("want K/N, like 2/3 (the 2nd of 3 parts), got %q", v)
	}
	index, err1 := strconv.Atoi(k)
	count, err2 := strconv.Atoi(n)
	switch {
	case err1 != nil || err2 != nil:
		return fmt.Errorf("want K/N with whole numbers, like 2/3, got %q", v)
	case count < 1 || count > maxShards:
		return fmt.Errorf("N must be from 1 to %d, got %d", maxShards, count)
	case index < 1 || index > count:
		return fmt.Errorf("K must be from 1 to N (%d), got %d", count, index)
	}
	s.index, s.count = index, count
	return nil
}

// sharded reports whether -shard was given.
func (s *shardFlag) sharded() bool { return s.count > 0 }

// Estimates of what a scenario costs beyond its phases, for balancing the
// shards (measured here: docs/ci.md): the runner's own steps, and each
// service restarted for knobs that are not the lab's defaults (restart,
// wait until scraped, restore).
const (
	scenarioOverhead = 1500 * time.Millisecond
	restartOverhead  = 2500 * time.Millisecond
)

// expectedDuration is how long sc is expected to take on a lab: its phases,
// the runner's overhead, and a restart for each service whose knobs change
// a default (isDefault nil: every knob does).
func expectedDuration(sc *scenario.Scenario, isDefault func(service, flag, value string) bool) time.Duration {
	d := sc.Duration() + scenarioOverhead
	restarted := map[string]bool{}
	for _, k := range sc.Knobs {
		if isDefault == nil || !isDefault(k.Service, k.Flag, k.Value) {
			restarted[k.Service] = true
		}
	}
	return d + time.Duration(len(restarted))*restartOverhead
}

// partition splits scs into n parts of about equal expected duration
// (cost), deterministically. First greedy, longest first: each scenario,
// from the longest down (equal costs by name), goes to the part with the
// least so far (the lowest-numbered on a tie). Then, while moving one
// scenario out of the longest part, or swapping it with one of another
// part, leaves both parts shorter than the longest was, the best such
// change is made (scenarios looked at by name): greedy alone leaves the
// library's 3 parts 15 s apart, this a few seconds. Every scenario is in
// exactly one part; a part keeps the library's order; with n above
// len(scs) some parts are empty.
func partition(scs []*scenario.Scenario, n int, cost func(*scenario.Scenario) time.Duration) [][]*scenario.Scenario {
	if n < 1 {
		n = 1
	}
	costs := make([]time.Duration, len(scs))
	for i, sc := range scs {
		costs[i] = cost(sc)
	}
	byName := make([]int, len(scs))
	for i := range byName {
		byName[i] = i
	}
	slices.SortStableFunc(byName, func(a, b int) int { return cmp.Compare(scs[a].Name, scs[b].Name) })
	order := slices.Clone(byName)
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(costs[b], costs[a]) })

	load := make([]time.Duration, n)
	part := make([]int, len(scs))
	for _, i := range order {
		best := 0
		for p := 1; p < n; p++ {
			if load[p] < load[best] {
				best = p
			}
		}
		part[i] = best
		load[best] += costs[i]
	}

	// Improve: each change lowers the longest part and leaves the other
	// below where the longest was, so the parts' loads, sorted, fall
	// lexicographically: it ends.
	for range len(scs) * n {
		longest := 0
		for p := 1; p < n; p++ {
			if load[p] > load[longest] {
				longest = p
			}
		}
		bestMax, a, b, to := load[longest], -1, -1, -1
		for p := range n {
			if p == longest {
				continue
			}
			for _, i := range byName {
				if part[i] != longest {
					continue
				}
				if m := max(load[longest]-costs[i], load[p]+costs[i]); m < bestMax {
					bestMax, a, b, to = m, i, -1, p
				}
				for _, k := range byName {
					if part[k] != p {
						continue
					}
					d := costs[i] - costs[k]
					if m := max(load[longest]-d, load[p]+d); m < bestMax {
						bestMax, a, b, to = m, i, k, p
					}
				}
			}
		}
		if a < 0 {
			break
		}
		load[longest] -= costs[a]
		load[to] += costs[a]
		part[a] = to
		if b >= 0 {
			load[to] -= costs[b]
			load[longest] += costs[b]
			part[b] = longest
		}
	}

	out := make([][]*scenario.Scenario, n)
	for i, sc := range scs {
		out[part[i]] = append(out[part[i]], sc)
	}
	return out
}

// shardOf returns shard s of the library scs (its scenarios in library
// order), what the journals record of it, and each part's expected
// duration, for the progress line.
func shardOf(s shardFlag, scs []*scenario.Scenario, cost func(*scenario.Scenario) time.Duration) ([]*scenario.Scenario, *journal.Shard, []time.Duration) {
	parts := partition(scs, s.count, cost)
	library := make([]string, len(scs))
	for i, sc := range scs {
		library[i] = sc.Name
	}
	expected := make([]time.Duration, len(parts))
	for i, p := range parts {
		for _, sc := range p {
			expected[i] += cost(sc)
		}
	}
	return parts[s.index-1], &journal.Shard{Index: s.index, Count: s.count, Library: library}, expected
}

// newRunID names a run by its start time, and its shard when it is one:
// 20261203-151500, 20261203-151500-shard2of3.
func newRunID(now time.Time, shard *journal.Shard) string {
	id := now.UTC().Format("20060102-150405")
	if shard != nil {
		id += fmt.Sprintf("-shard%dof%d", shard.Index, shard.Count)
	}
	return id
}

// writeManifest writes shard.json into runDir when the run is shard of a
// library (nil: not sharded, nothing written), naming its part scs.
func writeManifest(runDir, runID string, shard *journal.Shard, scs []*scenario.Scenario) error {
	if shard == nil {
		return nil
	}
	names := make([]string, len(scs))
	for i, sc := range scs {
		names[i] = sc.Name
	}
	if err := report.WriteManifest(runDir, report.Manifest{RunID: runID, Shard: *shard, Scenarios: names}); err != nil {
		return fmt.Errorf("writing the shard's manifest: %w", err)
	}
	return nil
}
