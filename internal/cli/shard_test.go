package cli

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	"github.com/chaoslab/chaoslab/harness/report"
	"github.com/chaoslab/chaoslab/harness/scenario"
)

func TestShardFlag(t *testing.T) {
	tests := []struct {
		in      string
		k, n    int
		wantErr string
	}{
		{in: "1/3", k: 1, n: 3},
		{in: "3/3", k: 3, n: 3},
		{in: "1/1", k: 1, n: 1},
		{in: " 2/5 ", k: 2, n: 5},
		{in: "0/3", wantErr: "K must be from 1 to N (3), got 0"},
		{in: "4/3", wantErr: "K must be from 1 to N (3), got 4"},
		{in: "-1/3", wantErr: "K must be from 1 to N"},
		{in: "1/0", wantErr: "N must be from 1 to 100, got 0"},
		{in: "1/101", wantErr: "N must be from 1 to 100"},
		{in: "x", wantErr: `want K/N, like 2/3`},
		{in: "a/b", wantErr: "want K/N with whole numbers"},
		{in: "1/3/5", wantErr: "want K/N with whole numbers"},
		{in: "", wantErr: "want K/N"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var s shardFlag
			err := s.Set(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.False(t, s.sharded(), "a bad value leaves it unsharded")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.k, s.index)
			assert.Equal(t, tt.n, s.count)
			assert.Equal(t, fmt.Sprintf("%d/%d", tt.k, tt.n), s.String())
		})
	}
}

// A bad -shard is a usage error, before anything starts.
func TestChaosRejectsABadShard(t *testing.T) {
	for _, v := range []string{"0/3", "4/3", "x"} {
		t.Run(v, func(t *testing.T) {
			env, _, errOut := testEnv(nil)
			code := Run(t.Context(), env, []string{"chaos", "-shard", v, "-lab", libraryLab})
			assert.Equal(t, exitcode.Usage, code, errOut.String())
			assert.Contains(t, errOut.String(), "-shard")
		})
	}
}

// timed is a scenario whose phases last secs seconds.
func timed(name string, secs int, knobs ...scenario.Knob) *scenario.Scenario {
	return &scenario.Scenario{Name: name, Knobs: knobs, Phases: []scenario.Phase{{Name: "p", Duration: time.Duration(secs) * time.Second}}}
}

func phaseCost(sc *scenario.Scenario) time.Duration { return sc.Duration() }

func names(scs []*scenario.Scenario) []string {
	out := make([]string, len(scs))
	for i, sc := range scs {
		out[i] = sc.Name
	}
	return out
}

func TestPartition(t *testing.T) {
	library := []*scenario.Scenario{
		timed("baseline", 15), timed("inventory-down", 35), timed("latency", 30), timed("kill9", 30),
		timed("blackhole-no-deadlines", 15), timed("blackhole", 35), timed("no-retries", 20),
		timed("errors", 25), timed("reset-peer", 26), timed("slicer", 25),
	}
	tests := []struct {
		name string
		scs  []*scenario.Scenario
		n    int
		want [][]string
	}{
		{
			name: "the library in three", scs: library, n: 3,
			// Longest first, each to the least loaded part: blackhole 35 → 1,
			// inventory-down 35 → 2, kill9 30 → 3, latency → 3 (60),
			// reset-peer → 1 (61), errors → 2 (60), slicer → 2 (85),
			// no-retries → 3 (80), baseline → 1 (76), blackhole-no-deadlines
			// → 1 (91): 91/85/80 of 256 s. Then swapping blackhole (35, part
			// 1) with kill9 (30, part 3) makes it 86/85/85.
			want: [][]string{
				{"baseline", "kill9", "blackhole-no-deadlines", "reset-peer"},
				{"inventory-down", "errors", "slicer"},
				{"latency", "blackhole", "no-retries"},
			},
		},
		{name: "one part is the library", scs: library, n: 1, want: [][]string{names(library)}},
		{name: "more parts than scenarios", scs: library[:2], n: 4, want: [][]string{{"inventory-down"}, {"baseline"}, nil, nil}},
		{name: "nothing", scs: nil, n: 2, want: [][]string{nil, nil}},
		{name: "equal costs go by name", scs: []*scenario.Scenario{timed("b", 10), timed("a", 10), timed("c", 10)}, n: 2,
			want: [][]string{{"a", "c"}, {"b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := partition(tt.scs, tt.n, phaseCost)
			require.Len(t, parts, tt.n)
			got := make([][]string, len(parts))
			for i, p := range parts {
				if len(p) > 0 {
					got[i] = names(p)
				}
			}
			assert.Equal(t, tt.want, got)

			// Every scenario exactly once, each part in library order.
			var all []string
			for _, p := range parts {
				all = append(all, names(p)...)
				assert.True(t, slices.IsSortedFunc(p, func(a, b *scenario.Scenario) int {
					return slices.Index(tt.scs, a) - slices.Index(tt.scs, b)
				}), "library order")
			}
			assert.ElementsMatch(t, names(tt.scs), all)

			// Deterministic, whatever order the library comes in.
			rev := slices.Clone(tt.scs)
			slices.Reverse(rev)
			for i, p := range partition(rev, tt.n, phaseCost) {
				assert.ElementsMatch(t, got[i], names(p), "part %d", i+1)
			}
		})
	}
}

// Greedy longest-first: no part exceeds the ideal share by more than the
// longest scenario, nor the shortest part by more than that.
func TestPartitionIsBalanced(t *testing.T) {
	var scs []*scenario.Scenario
	for i := range 23 {
		scs = append(scs, timed(fmt.Sprintf("s%02d", i), 10+(i*7)%31))
	}
	var total, longest time.Duration
	for _, sc := range scs {
		total += sc.Duration()
		longest = max(longest, sc.Duration())
	}
	for n := 2; n <= 5; n++ {
		parts := partition(scs, n, phaseCost)
		var lo, hi time.Duration
		for i, p := range parts {
			var d time.Duration
			for _, sc := range p {
				d += sc.Duration()
			}
			if i == 0 || d < lo {
				lo = d
			}
			hi = max(hi, d)
		}
		assert.LessOrEqual(t, hi, total/time.Duration(n)+longest, "n=%d", n)
		assert.LessOrEqual(t, hi-lo, longest, "n=%d: %s to %s", n, lo, hi)
		assert.Less(t, hi-lo, total/time.Duration(4*n), "n=%d: %s to %s: within a quarter of a share", n, lo, hi)
	}
}

// A scenario is expected to take its phases, the runner's overhead and a
// restart for each service whose knobs are not all the lab's defaults.
func TestExpectedDuration(t *testing.T) {
	isDefault := func(_, flag, value string) bool { return flag == "retries" && value == "true" }
	tests := []struct {
		name  string
		knobs []scenario.Knob
		want  time.Duration
	}{
		{"no knobs", nil, 20*time.Second + scenarioOverhead},
		{"knobs at the defaults", []scenario.Knob{{Service: "orders", Flag: "retries", Value: "true"}}, 20*time.Second + scenarioOverhead},
		{"one service restarted", []scenario.Knob{{Service: "orders", Flag: "retries", Value: "false"}, {Service: "orders", Flag: "breaker", Value: "false"}},
			20*time.Second + scenarioOverhead + restartOverhead},
		{"two services restarted", []scenario.Knob{{Service: "orders", Flag: "retries", Value: "false"}, {Service: "gateway", Flag: "deadlines", Value: "false"}},
			20*time.Second + scenarioOverhead + 2*restartOverhead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, expectedDuration(timed("s", 20, tt.knobs...), isDefault))
		})
	}
}

func TestShardOfRecordsTheLibrary(t *testing.T) {
	library := []*scenario.Scenario{timed("a", 30), timed("b", 20), timed("c", 10)}
	part, info, expected := shardOf(shardFlag{index: 2, count: 2}, library, phaseCost)
	assert.Equal(t, []string{"b", "c"}, names(part))
	assert.Equal(t, 2, info.Index)
	assert.Equal(t, 2, info.Count)
	assert.Equal(t, []string{"a", "b", "c"}, info.Library)
	assert.Equal(t, []time.Duration{30 * time.Second, 30 * time.Second}, expected)
	assert.Equal(t, "20261203-151500-shard2of2", newRunID(time.Date(2026, 12, 3, 15, 15, 0, 0, time.UTC), info))
	assert.Equal(t, "20261203-151500", newRunID(time.Date(2026, 12, 3, 15, 15, 0, 0, time.UTC), nil))
}

// A shard whose part is empty starts no lab: it writes its manifest, for
// the merge, and exits 0.
func TestChaosEmptyShardStartsNoLab(t *testing.T) {
	reports := t.TempDir()
	env, out, errOut := testEnv(nil)
	code := Run(t.Context(), env, []string{"chaos", "-lab", libraryLab, "-scenario", "baseline", "-shard", "2/3", "-reports", reports,
		"-tools-dir", filepath.Join(t.TempDir(), "no-tools")})
	require.Equal(t, exitcode.OK, code, errOut.String())
	assert.Contains(t, out.String(), "shard 2/3: 0 of the 1 scenarios")
	assert.Contains(t, out.String(), "no lab started")
	dirs, err := filepath.Glob(filepath.Join(reports, "*-shard2of3"))
	require.NoError(t, err)
	require.Len(t, dirs, 1)
	m, err := report.ReadManifest(dirs[0])
	require.NoError(t, err)
	assert.Equal(t, []string{"baseline"}, m.Library)
	assert.Empty(t, m.Scenarios)
	assert.Equal(t, "2/3", m.Shard.String())
}
