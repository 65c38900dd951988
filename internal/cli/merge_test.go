package cli

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/report"
)

// shardRun writes, under root, the report directory of shard k/n of
// library: its manifest naming part, and a journal for each of ran (each
// with the verdict its outcome gives) — ran may differ from part, as in a
// run cut short. It returns the directory.
func shardRun(t *testing.T, root string, k, n int, library, part []string, ran map[string]string) string {
	t.Helper()
	shard := journal.Shard{Index: k, Count: n, Library: library}
	id := newRunID(time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC), &shard)
	dir := filepath.Join(root, id)
	require.NoError(t, report.WriteManifest(dir, report.Manifest{RunID: id, Shard: shard, Scenarios: part}))
	start := time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	i := 0
	for _, name := range part {
		outcome, ok := ran[name]
		if !ok {
			continue
		}
		j := scenarioJournal(name, journal.Pass, outcome, "", start.Add(time.Duration(i)*time.Minute))
		j.RunID, j.Shard = id, &shard
		writeJournals(t, dir, j)
		// what else a scenario's directory holds comes along
		require.NoError(t, os.WriteFile(filepath.Join(dir, name, "k6.log"), []byte("{}\n"), 0o644))
		i++
	}
	return dir
}

func TestReportMerge(t *testing.T) {
	library := []string{"a", "b", "c", "d", "e"}
	pass := func(names ...string) map[string]string {
		m := map[string]string{}
		for _, n := range names {
			m[n] = journal.Pass
		}
		return m
	}
	tests := []struct {
		name string
		// runs writes the directories to merge under root.
		runs     func(t *testing.T, root string) []string
		flags    []string
		wantCode exitcode.Code
		wantErr  []string
		// wantScenarios are the merged report's, in order (on success).
		wantScenarios []string
	}{
		{
			name: "three shards, every scenario once",
			runs: func(t *testing.T, root string) []string {
				return []string{
					shardRun(t, root, 2, 3, library, []string{"b", "e"}, pass("b", "e")),
					shardRun(t, root, 1, 3, library, []string{"a", "d"}, pass("a", "d")),
					shardRun(t, root, 3, 3, library, []string{"c"}, pass("c")),
				}
			},
			wantCode: exitcode.OK, wantScenarios: library,
		},
		{
			name: "a failed check in one shard fails the merged run",
			runs: func(t *testing.T, root string) []string {
				return []string{
					shardRun(t, root, 1, 2, library, []string{"a", "b", "c"}, map[string]string{"a": journal.Pass, "b": journal.Fail, "c": journal.Pass}),
					shardRun(t, root, 2, 2, library, []string{"d", "e"}, map[string]string{"d": journal.Pass, "e": journal.Inconclusive}),
				}
			},
			wantCode: exitcode.CheckFailed, wantErr: []string{"2 of 5 scenarios did not end as expected (1 unexpected, 1 inconclusive"},
			wantScenarios: library,
		},
		{
			name: "an empty shard (more shards than scenarios) counts as run",
			runs: func(t *testing.T, root string) []string {
				lib := []string{"a", "b"}
				return []string{
					shardRun(t, root, 1, 3, lib, []string{"a"}, pass("a")),
					shardRun(t, root, 2, 3, lib, []string{"b"}, pass("b")),
					shardRun(t, root, 3, 3, lib, nil, nil),
				}
			},
			wantCode: exitcode.OK, wantScenarios: []string{"a", "b"},
		},
		{
			name: "overlapping shards are refused",
			runs: func(t *testing.T, root string) []string {
				return []string{
					shardRun(t, root, 1, 2, library, []string{"a", "b", "c"}, pass("a", "b", "c")),
					shardRun(t, root, 2, 2, library, []string{"c", "d", "e"}, pass("c", "d", "e")),
				}
			},
			wantCode: exitcode.Usage, wantErr: []string{"c ran in 2 of the runs", "the shards overlap"},
		},
		{
			name: "overlaps are refused with -partial too",
			runs: func(t *testing.T, root string) []string {
				return []string{
					shardRun(t, root, 1, 2, library, []string{"a", "b", "c"}, pass("a", "b", "c")),
					shardRun(t, root, 2, 2, library, []string{"c", "d", "e"}, pass("c", "d", "e")),
				}
			},
			flags: []string{"-partial"}, wantCode: exitcode.Usage, wantErr: []string{"the shards overlap"},
		},
		{
			name: "a shard not given leaves scenarios out",
			runs: func(t *testing.T, root string) []string {
				return []string{
					shardRun(t, root, 1, 3, library, []string{"a", "d"}, pass("a", "d")),
					shardRun(t, root, 3, 3, library, []string{"c"}, pass("c")),
				}
			},
			wantCode: exitcode.Usage, wantErr: []string{"b is missing: no shard given has it", "e is missing", "shard 2/3 is not among the runs"},
		},
		{
			name: "a shard cut short leaves scenarios out",
			runs: func(t *testing.T, root string) []string {
				return []string{
					shardRun(t, root, 1, 2, library, []string{"a", "b", "c"}, pass("a")),
					shardRun(t, root, 2, 2, library, []string{"d", "e"}, pass("d", "e")),
				}
			},
			wantCode: exitcode.Usage, wantErr: []string{"b is missing: shard 1/2", "has no journal of it: cut short?", "c is missing"},
		},
		{
			name: "-partial merges what there is",
			runs: func(t *testing.T, root string) []string {
				return []string{
					shardRun(t, root, 1, 2, library, []string{"a", "b", "c"}, pass("a")),
					shardRun(t, root, 2, 2, library, []string{"d", "e"}, pass("d", "e")),
				}
			},
			flags: []string{"-partial"}, wantCode: exitcode.OK, wantScenarios: []string{"a", "d", "e"},
		},
		{
			name: "the same shard twice",
			runs: func(t *testing.T, root string) []string {
				return []string{
					shardRun(t, root, 1, 2, library, []string{"a", "b", "c"}, pass("a", "b", "c")),
					shardRun(t, filepath.Join(root, "again"), 1, 2, library, []string{"a", "b", "c"}, nil),
					shardRun(t, root, 2, 2, library, []string{"d", "e"}, pass("d", "e")),
				}
			},
			wantCode: exitcode.Usage, wantErr: []string{"shard 1/2 given twice"},
		},
		{
			name: "shards of different libraries",
			runs: func(t *testing.T, root string) []string {
				return []string{
					shardRun(t, root, 1, 2, library, []string{"a", "b", "c"}, pass("a", "b", "c")),
					shardRun(t, filepath.Join(root, "other"), 2, 2, []string{"a", "b", "c", "d", "e", "f"}, []string{"d", "e", "f"}, pass("d", "e", "f")),
				}
			},
			wantCode: exitcode.Usage, wantErr: []string{"not shards of one run"},
		},
		{
			name: "a run that is not a shard",
			runs: func(t *testing.T, root string) []string {
				dir := filepath.Join(root, "plain")
				writeJournals(t, dir, scenarioJournal("a", journal.Pass, journal.Pass, "", time.Now()))
				return []string{dir, shardRun(t, root, 2, 2, library, []string{"d", "e"}, pass("d", "e"))}
			},
			wantCode: exitcode.Usage, wantErr: []string{"is not a shard (no shard.json)", "-partial"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dirs := tt.runs(t, root)
			out := filepath.Join(root, "merged")
			env, stdout, errOut := testEnv(nil)
			args := append([]string{"report", "-merge", "-o", out}, tt.flags...)
			code := Run(t.Context(), env, append(args, dirs...))
			require.Equal(t, tt.wantCode, code, "stdout:\n%s\nstderr:\n%s", stdout, errOut)
			for _, e := range tt.wantErr {
				assert.Contains(t, errOut.String(), e)
			}
			if tt.wantScenarios == nil {
				assert.NoDirExists(t, out, "nothing is written when the merge is refused")
				return
			}
			js, err := report.Load(out)
			require.NoError(t, err)
			var got []string
			for _, j := range js {
				got = append(got, j.Scenario)
				assert.FileExists(t, filepath.Join(out, j.Scenario, "k6.log"), "the scenario's directory is copied whole")
				assert.FileExists(t, filepath.Join(out, j.Scenario, "report.html"))
			}
			assert.ElementsMatch(t, tt.wantScenarios, got)
			for _, f := range []string{"junit.xml", "index.html", "summary.json", report.MergedFile} {
				assert.FileExists(t, filepath.Join(out, f))
			}
			b, err := os.ReadFile(filepath.Join(out, "junit.xml"))
			require.NoError(t, err)
			var suites struct {
				Suites []struct {
					Name string `xml:"name,attr"`
				} `xml:"testsuite"`
			}
			require.NoError(t, xml.Unmarshal(b, &suites))
			var inJUnit []string
			for _, s := range suites.Suites {
				inJUnit = append(inJUnit, s.Name)
			}
			assert.Equal(t, tt.wantScenarios, inJUnit, "one JUnit file, the library's order")
			assert.Contains(t, stdout.String(), report.Count(js).String())
		})
	}
}

func TestReportMergeUsage(t *testing.T) {
	root := t.TempDir()
	library := []string{"a"}
	dir := shardRun(t, root, 1, 1, library, library, map[string]string{"a": journal.Pass})
	notEmpty := filepath.Join(root, "full")
	require.NoError(t, os.MkdirAll(notEmpty, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(notEmpty, "x"), nil, 0o644))
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no directory", []string{"report", "-merge"}, "-merge needs the report directories"},
		{"merge and cost", []string{"report", "-merge", "-cost", dir}, "do not go together"},
		{"-o without -merge", []string{"report", "-o", "x", dir}, "go with -merge"},
		{"a directory twice", []string{"report", "-merge", "-o", filepath.Join(root, "m"), dir, dir}, "given twice"},
		{"into a directory that is not empty", []string{"report", "-merge", "-o", notEmpty, dir}, "not empty"},
		{"not a run", []string{"report", "-merge", "-o", filepath.Join(root, "m2"), t.TempDir()}, "not a run directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _, errOut := testEnv(nil)
			assert.Equal(t, exitcode.Usage, Run(t.Context(), env, tt.args))
			assert.Contains(t, errOut.String(), tt.wantErr)
		})
	}
}

// Without -o the merged run goes under -reports, named after the shards'
// run id.
func TestReportMergeDefaultDirectory(t *testing.T) {
	root := t.TempDir()
	dir := shardRun(t, root, 1, 1, []string{"a"}, []string{"a"}, map[string]string{"a": journal.Pass})
	env, stdout, errOut := testEnv(nil)
	require.Equal(t, exitcode.OK, Run(t.Context(), env, []string{"report", "-merge", "-reports", root, dir}), errOut.String())
	want := filepath.Join(root, "20261203-150000-merged")
	assert.FileExists(t, filepath.Join(want, "junit.xml"))
	assert.Contains(t, stdout.String(), "report: "+filepath.Join(want, "index.html"))
}

// report -cost prints each scenario's overhead, one column per run.
func TestReportCost(t *testing.T) {
	root := t.TempDir()
	start := time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	before := filepath.Join(root, "before")
	after := filepath.Join(root, "after")
	jb := scenarioJournal("a", journal.Pass, journal.Pass, "", start)
	jb.Phases[0].Start, jb.Phases[0].End = start.Add(2*time.Second), start.Add(27*time.Second) // 25 s of phases in 30
	ja := scenarioJournal("a", journal.Pass, journal.Pass, "", start)
	ja.Phases[0].Start, ja.Phases[0].End = start.Add(time.Second), start.Add(29*time.Second) // 28 s in 30
	writeJournals(t, before, jb)
	writeJournals(t, after, ja)
	env, stdout, errOut := testEnv(nil)
	require.Equal(t, exitcode.OK, Run(t.Context(), env, []string{"report", "-cost", before, after}), errOut.String())
	assert.Regexp(t, `SCENARIO +PHASES +OVERHEAD before +OVERHEAD after`, stdout.String())
	assert.Regexp(t, `\ba +25.00s +5.00s +2.00s`, stdout.String())

	env, _, errOut = testEnv(nil)
	assert.Equal(t, exitcode.Usage, Run(t.Context(), env, []string{"report", "-cost"}))
	assert.Contains(t, errOut.String(), "-cost needs")
}

func TestWithoutShard(t *testing.T) {
	tests := map[string]string{
		"20261203-151500-shard1of3":    "20261203-151500",
		"20261203-151500-shard12of30":  "20261203-151500",
		"20261203-151500-shard1of3-r2": "20261203-151500-r2",
		"20261203-151500":              "20261203-151500",
		"20261203-151500-shardxof3":    "20261203-151500-shardxof3",
		"20261203-151500-shard1of":     "20261203-151500-shard1of",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) { assert.Equal(t, want, withoutShard(in)) })
	}
}
