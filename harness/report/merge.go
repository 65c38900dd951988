package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/chaoslab/chaoslab/harness/journal"
)

// ShardFile is the manifest a shard's run writes in its report directory
// before it runs anything (chaoslab chaos -shard K/N), so that a merge can
// tell a shard that ran nothing, or was cut short, from one that is whole.
const ShardFile = "shard.json"

// Manifest is shard.json: which part of which library a run is.
type Manifest struct {
	RunID string `json:"run_id"`
	journal.Shard
	// Scenarios are this shard's part of Library, in library order.
	Scenarios []string `json:"scenarios"`
}

// WriteManifest writes m as runDir/shard.json.
func WriteManifest(runDir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return err
	}
	return writeFile(filepath.Join(runDir, ShardFile), append(b, '\n'))
}

// ReadManifest reads runDir/shard.json; an error wrapping fs.ErrNotExist
// when the run is not a shard.
func ReadManifest(runDir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(runDir, ShardFile))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(runDir, ShardFile), err)
	}
	if m.Count < 1 || m.Index < 1 || m.Index > m.Count {
		return nil, fmt.Errorf("%s: shard %d/%d is not a part of anything", filepath.Join(runDir, ShardFile), m.Index, m.Count)
	}
	return &m, nil
}

// Part is one run directory to merge: its shard manifest (nil: not a
// shard) and its journals.
type Part struct {
	Dir      string
	Manifest *Manifest
	Journals []*journal.Journal
}

// LoadPart reads a run directory to merge. A shard that ran no scenario
// (its part was empty) has a manifest and no journals.
func LoadPart(dir string) (Part, error) {
	p := Part{Dir: dir}
	m, err := ReadManifest(dir)
	switch {
	case err == nil:
		p.Manifest = m
	case !errors.Is(err, fs.ErrNotExist):
		return p, err
	}
	dirs, err := journalDirs(dir)
	if err != nil {
		return p, err
	}
	if len(dirs) == 0 && p.Manifest == nil {
		return p, fmt.Errorf("no journals in %s and no %s: not a run directory", dir, ShardFile)
	}
	if len(dirs) > 0 {
		if p.Journals, err = Load(dir); err != nil {
			return p, err
		}
	}
	return p, nil
}

// MergeError is why parts do not make one run: they overlap, leave
// scenarios out, or are shards of different libraries.
type MergeError struct{ Problems []string }

func (e *MergeError) Error() string {
	return "the runs do not make one whole library:\n  " + strings.Join(e.Problems, "\n  ")
}

// Merge checks that parts are the shards of one library, each given once,
// that no scenario ran in two of them and that none is missing, and
// returns their journals in the library's order with the names left out.
// With partial, missing scenarios (and parts that are not shards, or of
// another library) are allowed and only reported; a scenario in two parts
// never is: a merged report holds one verdict per scenario. The problems
// come as a *MergeError.
func Merge(parts []Part, partial bool) ([]*journal.Journal, []string, error) {
	var problems []string
	var library []string
	var ref *Part
	seenShard := map[int]string{}
	for i := range parts {
		p := &parts[i]
		m := p.Manifest
		if m == nil {
			if !partial {
				problems = append(problems, fmt.Sprintf("%s is not a shard (no %s): run it with chaoslab chaos -shard K/N, or pass -partial", p.Dir, ShardFile))
			}
			continue
		}
		if ref == nil {
			ref, library = p, m.Library
		} else if m.Count != ref.Manifest.Count || !slices.Equal(m.Library, ref.Manifest.Library) {
			if !partial {
				problems = append(problems, fmt.Sprintf("%s is shard %s of a library of %d scenarios, %s shard %s of one of %d: not shards of one run",
					p.Dir, m.Shard, len(m.Library), ref.Dir, ref.Manifest.Shard, len(ref.Manifest.Library)))
			}
			for _, n := range m.Library {
				if !slices.Contains(library, n) {
					library = append(library, n)
				}
			}
		}
		if other, dup := seenShard[m.Index]; dup && m.Count == ref.Manifest.Count {
			problems = append(problems, fmt.Sprintf("shard %s given twice: %s and %s", m.Shard, other, p.Dir))
		}
		seenShard[m.Index] = p.Dir
		for _, j := range p.Journals {
			if !slices.Contains(m.Scenarios, j.Scenario) {
				problems = append(problems, fmt.Sprintf("%s: %s ran there, but it is not in shard %s's part (%s)", p.Dir, j.Scenario, m.Shard, strings.Join(m.Scenarios, ", ")))
			}
		}
	}

	ranIn := map[string][]string{}
	var all []*journal.Journal
	for _, p := range parts {
		for _, j := range p.Journals {
			ranIn[j.Scenario] = append(ranIn[j.Scenario], p.Dir)
			all = append(all, j)
		}
	}
	for _, name := range sortedKeys(ranIn) {
		if dirs := ranIn[name]; len(dirs) > 1 {
			problems = append(problems, fmt.Sprintf("%s ran in %d of the runs (%s): the shards overlap", name, len(dirs), strings.Join(dirs, ", ")))
		}
	}

	var missing []string
	for _, name := range library {
		if _, ok := ranIn[name]; ok {
			continue
		}
		missing = append(missing, name)
		if partial {
			continue
		}
		where := "no shard given has it"
		for _, p := range parts {
			if p.Manifest != nil && slices.Contains(p.Manifest.Scenarios, name) {
				where = fmt.Sprintf("shard %s (%s) was to run it and has no journal of it: cut short?", p.Manifest.Shard, p.Dir)
			}
		}
		problems = append(problems, fmt.Sprintf("%s is missing: %s", name, where))
	}
	if ref != nil && !partial {
		for k := 1; k <= ref.Manifest.Count; k++ {
			if _, ok := seenShard[k]; !ok {
				problems = append(problems, fmt.Sprintf("shard %d/%d is not among the runs", k, ref.Manifest.Count))
			}
		}
	}
	if len(problems) > 0 {
		return nil, missing, &MergeError{Problems: problems}
	}

	// The library's order; scenarios it does not name (parts that are not
	// shards) after it, by start time as they were loaded.
	pos := func(name string) int {
		if i := slices.Index(library, name); i >= 0 {
			return i
		}
		return len(library)
	}
	slices.SortStableFunc(all, func(a, b *journal.Journal) int { return pos(a.Scenario) - pos(b.Scenario) })
	return all, missing, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// MergedFile lists, in a merged report directory, the runs it was merged
// from.
const MergedFile = "merged.json"

// mergedFrom is merged.json.
type mergedFrom struct {
	Runs []mergedRun `json:"runs"`
	// Missing are the library's scenarios no run had (merged with -partial).
	Missing []string `json:"missing,omitempty"`
}

type mergedRun struct {
	Dir       string   `json:"dir"`
	RunID     string   `json:"run_id,omitempty"`
	Shard     string   `json:"shard,omitempty"`
	Scenarios []string `json:"scenarios"`
}

// ErrNotEmpty is WriteMerged's refusal to merge into a directory that
// holds something already.
var ErrNotEmpty = errors.New("it is not empty: merge into a new directory")

// WriteMerged makes out one run's report directory of parts' journals js
// (Merge's answer): each scenario's directory copied whole from its part
// (journal, k6's files) with its report.html written again, merged.json
// naming the parts, and the
// suite's junit.xml, index.html and summary.json. out must not exist or be
// empty.
func WriteMerged(out string, parts []Part, js []*journal.Journal, missing []string) error {
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s: %w", out, ErrNotEmpty)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	from := mergedFrom{Missing: missing, Runs: []mergedRun{}}
	for _, p := range parts {
		r := mergedRun{Dir: p.Dir, Scenarios: []string{}}
		if p.Manifest != nil {
			r.RunID, r.Shard = p.Manifest.RunID, p.Manifest.Shard.String()
		}
		for _, j := range p.Journals {
			if r.RunID == "" {
				r.RunID = j.RunID
			}
			r.Scenarios = append(r.Scenarios, j.Scenario)
			if filepath.Base(j.Scenario) != j.Scenario || j.Scenario == "." || j.Scenario == ".." {
				return fmt.Errorf("%s: scenario %q cannot name a directory", p.Dir, j.Scenario)
			}
			dst := filepath.Join(out, j.Scenario)
			if err := copyDir(filepath.Join(p.Dir, j.Scenario), dst); err != nil {
				return fmt.Errorf("copying %s: %w", j.Scenario, err)
			}
			if err := WriteScenario(dst, j); err != nil {
				return err
			}
		}
		from.Runs = append(from.Runs, r)
	}
	b, err := json.MarshalIndent(from, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(out, MergedFile), append(b, '\n')); err != nil {
		return err
	}
	return WriteSuite(out, js)
}

// copyDir copies the regular files and directories under src to dst.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular():
			return nil // sockets, links: nothing a report needs
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		outf, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(outf, in); err != nil {
			outf.Close()
			return err
		}
		return outf.Close()
	})
}
