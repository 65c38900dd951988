package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// fuzzPositionRE is the "file:line:col: " every problem starts with.
var fuzzPositionRE = regexp.MustCompile(`^fuzz\.yaml:[1-9][0-9]*:[1-9][0-9]*: `)

// FuzzParse feeds arbitrary bytes to the scenario parser, checking against
// the tests' lab, seeded from the scenario library and the bad scenarios
// of testdata. It may not panic; it
// refuses a file only with a *ValidationError whose every problem is
// positioned (file:line:col), the whole file's at 1:1 or the line the YAML
// error names; and a scenario it accepts has phases, a load and checks.
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
	// The whole-file problems it once found without a position: an empty
	// file, YAML errors without a line, a second document that does not
	// parse (with and without a line).
	for _, s := range []string{"", `"`, "%", "[]0", "00 #\n0"} {
		f.Add([]byte(s))
	}
	anyScript := WithScriptCheck(func(string) error { return nil })
	withLab := WithLab(testLab(f))

	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data, anyScript, withLab)
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("the error is a %T, not a *ValidationError: %v", err, err)
			}
			if len(verr.Problems) == 0 {
				t.Fatal("a ValidationError without problems")
			}
			for _, p := range verr.Problems {
				if !fuzzPositionRE.MatchString(p.String()) {
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
