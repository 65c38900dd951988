package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fuzzPositionRE is the "file:line:col: " every problem starts with.
var fuzzPositionRE = regexp.MustCompile(`^fuzz\.yaml:[1-9][0-9]*:[1-9][0-9]*: `)

// knownUnpositioned are the problems FuzzParse found without a position,
// each with the smallest input that shows it. They are defects of Parse
// (parse.go reports them at no node: the lab parser, harness/lab, puts such
// whole-file problems at 1:1 and takes the line from the YAML error when it
// has one). TestKnownUnpositioned fails once one is fixed: then remove it
// here, so that the fuzz target holds Parse to the rule again.
var knownUnpositioned = []struct{ input, problem string }{
	{"", "the file is empty"},
	// YAML syntax errors whose message has no line (diag.YAMLSyntax leaves
	// Line 0): the scanner's, for one.
	{`"`, "found unexpected end of stream: fix the YAML syntax"},
	{"%", "could not find expected directive name: fix the YAML syntax"},
	// A second document that does not parse (its error, with or without a
	// line, is not placed at one).
	{"[]0", "a scenario file holds one YAML document: "},
	{"00 #\n0", "a scenario file holds one YAML document: line 1: "},
}

// unpositionedKnown reports whether problem is one of knownUnpositioned.
func unpositionedKnown(problem string) bool {
	return slices.ContainsFunc(knownUnpositioned, func(k struct{ input, problem string }) bool {
		return strings.Contains(problem, k.problem)
	}) || strings.HasSuffix(problem, ": fix the YAML syntax") && !fuzzPositionRE.MatchString(problem)
}

// FuzzParse feeds arbitrary bytes to the scenario parser, seeded from the
// scenario library and the bad scenarios of testdata. It may not panic; it
// refuses a file only with a *ValidationError whose every problem is
// positioned (file:line:col) but for knownUnpositioned (and any YAML
// syntax error without a line, the class two of them belong to); and a scenario it
// accepts has phases, a load and checks.
//
//	go test -run '^$' -fuzz FuzzParse -fuzztime 60s ./harness/scenario/
func FuzzParse(f *testing.F) {
	var seeds []string
	for _, glob := range []string{"../../scenarios/*.yaml", "testdata/bad/*.yaml"} {
		files, err := filepath.Glob(glob)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, files...)
	}
	if len(seeds) == 0 {
		f.Fatal("no seeds: the scenario library is missing")
	}
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	anyScript := WithScriptCheck(func(string) error { return nil })

	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data, anyScript)
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("the error is a %T, not a *ValidationError: %v", err, err)
			}
			if len(verr.Problems) == 0 {
				t.Fatal("a ValidationError without problems")
			}
			for _, p := range verr.Problems {
				if !fuzzPositionRE.MatchString(p.String()) && !unpositionedKnown(p.String()) {
					t.Fatalf("a problem without its position: %q", p.String())
				}
			}
			return
		}
		if len(s.Phases) == 0 || s.Load.Script == "" || s.Checks.Count() == 0 || s.Duration() <= 0 {
			t.Fatalf("a scenario accepted without phases, load or checks: %+v", s)
		}
	})
}

// TestKnownUnpositioned checks that each known defect is still there, so
// that the allowance in FuzzParse cannot outlive it.
func TestKnownUnpositioned(t *testing.T) {
	for _, k := range knownUnpositioned {
		t.Run(k.problem, func(t *testing.T) {
			_, err := Parse("fuzz.yaml", []byte(k.input))
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			found := false
			for _, p := range verr.Problems {
				if strings.Contains(p.String(), k.problem) {
					found = true
					assert.False(t, fuzzPositionRE.MatchString(p.String()),
						"%q is positioned now: remove it from knownUnpositioned", p.String())
				}
			}
			assert.True(t, found, "Parse(%q) no longer reports %q: remove it from knownUnpositioned", k.input, k.problem)
		})
	}
}
