package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/chaoslab/chaoslab/harness/diag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/harness/lab"
)

// Option changes how scenario files are checked.
type Option func(*config)

// config is what the options set.
type config struct {
	scriptCheck func(script string) error
	sloCheck    func(name string) error
	// lab is WithLab's; Parse refuses to work without one.
	lab *lab.Lab
}

// WithScriptCheck replaces the check that a load script exists: check
// returns an error saying what is wrong when script (a file name like
// "load.js") cannot be used. The default is ScriptsIn of the lab's scripts
// directory (lab.Lab.Load.Scripts, resolved against the lab's root).
func WithScriptCheck(check func(script string) error) Option {
	return func(c *config) { c.scriptCheck = check }
}

// WithSLOCheck checks the SLO names that SLO checks give (`slo: <name>`):
// check returns an error saying what is wrong when no SLO definition has
// that name, so a typo is reported at its line before anything runs. The
// default accepts any name.
func WithSLOCheck(check func(name string) error) Option {
	return func(c *config) { c.sloCheck = check }
}

// ScriptsIn returns a script check that accepts the files in dir, and
// whose error lists the scripts dir has.
func ScriptsIn(dir string) func(string) error {
	return func(script string) error {
		info, err := os.Stat(filepath.Join(dir, script))
		if err == nil && info.Mode().IsRegular() {
			return nil
		}
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("no k6 script %q: the scripts' directory %s does not exist", script, dir)
		}
		have, _ := filepath.Glob(filepath.Join(dir, "*.js"))
		for i, h := range have {
			have[i] = filepath.Base(h)
		}
		if len(have) == 0 {
			return fmt.Errorf("no k6 script %q in %s, which has no scripts", script, dir)
		}
		return fmt.Errorf("no k6 script %q in %s; allowed: %s", script, dir, strings.Join(have, ", "))
	}
}

// newConfig applies opts to the defaults.
func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.scriptCheck == nil && c.lab != nil {
		c.scriptCheck = ScriptsIn(c.lab.Path(c.lab.Load.Scripts))
	}
	return c
}

// Load reads and checks the scenario file at path. A file with problems
// returns a *ValidationError listing all of them.
func Load(path string, opts ...Option) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading scenario: %w", err)
	}
	return Parse(path, data, opts...)
}

// Files returns the scenario files in dir (*.yaml and *.yml), sorted.
func Files(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing scenarios: %w", err)
	}
	var files []string
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no scenario files (*.yaml) in %s", dir)
	}
	return files, nil
}

// LoadDir reads and checks every scenario file in dir. When any file has
// problems, it returns a *ValidationError listing the problems of all the
// files, and no scenarios.
func LoadDir(dir string, opts ...Option) ([]*Scenario, error) {
	files, err := Files(dir)
	if err != nil {
		return nil, err
	}
	var (
		out      []*Scenario
		problems []Problem
		names    = map[string]string{}
	)
	for _, f := range files {
		s, err := Load(f, opts...)
		var verr *ValidationError
		switch {
		case errors.As(err, &verr):
			problems = append(problems, verr.Problems...)
			continue
		case err != nil:
			return nil, err
		}
		if other, ok := names[s.Name]; ok {
			problems = append(problems, Problem{File: f, Field: "name",
				Msg: fmt.Sprintf("scenario %q is also defined by %s: keep one of the two files", s.Name, other)})
			continue
		}
		names[s.Name] = f
		out = append(out, s)
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return out, nil
}

// blockObjectiveRE finds an unquoted objective that YAML reads as the start
// of a folded block (">= 0.99").
var blockObjectiveRE = regexp.MustCompile(`:\s+>\s*[=0-9.]`)

// syntaxProblem turns a YAML syntax error into a Problem, with a hint when
// the line holds an unquoted objective.
func syntaxProblem(name string, data []byte, err error) Problem {
	p := diag.YAMLSyntax(name, err)
	lines := strings.Split(string(data), "\n")
	if p.Line >= 1 && p.Line <= len(lines) && blockObjectiveRE.MatchString(lines[p.Line-1]) {
		p.Msg += `; quote an objective that starts with '>', like ">= 0.99"`
	}
	return p
}

// atLeastFirstLine puts a problem the YAML error gave no line at 1:1.
func atLeastFirstLine(p Problem) Problem {
	if p.Line == 0 {
		p.Line, p.Column = 1, 1
	}
	return p
}

// Parse reads and checks a scenario; name is the file it came from, for
// messages and for the scenario's name.
func Parse(name string, data []byte, opts ...Option) (*Scenario, error) {
	cfg := newConfig(opts)
	if cfg.lab == nil {
		return nil, errNoLab
	}
	d := &decoder{file: name, lab: cfg.lab, topology: cfg.lab.FaultTopology()}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	// The problems of the file as a whole are at 1:1, or at the line the
	// YAML error names, the way harness/lab places them.
	empty := func() {
		d.problems = append(d.problems, Problem{File: name, Line: 1, Column: 1,
			Msg: "the file is empty: a scenario needs " + strings.Join(requiredTop(), ", ")})
	}
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		empty()
		return nil, d.result()
	case err != nil:
		d.problems = append(d.problems, atLeastFirstLine(syntaxProblem(name, data, err)))
		return nil, d.result()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		const one = "a scenario file holds one YAML document: "
		if err != nil && extra.Line == 0 {
			p := diag.YAMLSyntax(name, err)
			p.Msg = one + p.Msg
			d.problems = append(d.problems, atLeastFirstLine(p))
		} else {
			d.errorf(&extra, "", nil, "%s", one+`remove the "---" and what follows`)
		}
	}
	if len(doc.Content) == 0 {
		empty()
		return nil, d.result()
	}
	root := doc.Content[0]
	s := &Scenario{File: name}
	d.scenario(root, s, cfg)
	if err := d.result(); err != nil {
		return nil, err
	}
	s.uses = d.uses
	return s, nil
}

// result returns the problems found, sorted by position, or nil.
func (d *decoder) result() error {
	if len(d.problems) == 0 {
		return nil
	}
	sort.SliceStable(d.problems, func(i, j int) bool {
		a, b := d.problems[i], d.problems[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return &ValidationError{Problems: d.problems}
}

// topFields returns the fields of the top of a scenario, in the
// documentation's order.
func topFields() []string {
	return []string{"name", "purpose", "expect", "stacks", "services", "load", "phases", "checks"}
}

// requiredTop returns the fields every scenario has.
func requiredTop() []string {
	return []string{"name", "purpose", "expect", "load", "phases", "checks"}
}

// nameRE is what phase and check names look like.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// phaseNameRE is what phase names look like: objectives refer to them.
var phaseNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// scenario reads the top of the file.
func (d *decoder) scenario(root *yaml.Node, s *Scenario, cfg config) {
	top, ok := d.object(root, "", topFields())
	if !ok {
		return
	}
	ext := filepath.Ext(d.file)
	base := strings.TrimSuffix(filepath.Base(d.file), ext)
	if n, ok := d.need(top, "name", fmt.Sprintf("the scenario's name, the file name without .yaml (%q)", base)); ok {
		if v, ok := d.str(n, "name"); ok {
			switch {
			case !nameRE.MatchString(v):
				d.errorf(n, "name", nil, "%q: use 1 to 64 lowercase letters, digits, '-', '_' or '.'", v)
			case v != base && (ext == ".yaml" || ext == ".yml"):
				d.errorf(n, "name", nil, "%q differs from the file name: name the file %s.yaml or the scenario %q", v, v, base)
			}
			s.Name = v
		}
	}
	if n, ok := d.need(top, "purpose", "say in a sentence or two what the scenario shows"); ok {
		if v, ok := d.str(n, "purpose"); ok {
			s.Purpose = strings.TrimSpace(v)
		}
	}
	if n, ok := d.need(top, "expect", "pass, or fail for a scenario whose checks must fail (resilience off)"); ok {
		if v, ok := d.enum(n, "expect", []string{string(ExpectPass), string(ExpectFail)}); ok {
			s.Expect = Expect(v)
		}
	}
	// The stacks first: whether a fault can be applied depends on them.
	s.Stacks, _ = d.labStacks()
	d.stacksRead.list = s.Stacks
	if n := top.get("stacks"); n != nil {
		s.Stacks = d.stacks(n, top.keys["stacks"])
	}
	if n, ok := d.need(top, "phases", "the timeline: a list of phases with a name and a duration"); ok {
		d.phases(n, s)
	}
	if n := top.get("services"); n != nil {
		d.services(n, s)
	}
	if n, ok := d.need(top, "load", "the k6 load: script, executor and rate"); ok {
		d.load(n, s, cfg)
	}
	if n, ok := d.need(top, "checks", "the assertions: slo, recovery, traces or invariants"); ok {
		d.checks(n, s, cfg)
	}
}
