package bookings_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/scenario"
	"github.com/chaoslab/chaoslab/harness/slodef"
)

// validate checks a lab folder as `chaoslab validate -lab lab.yaml
// -loadtests loadtests -slos slos.yaml scenarios` does, with chaoslab's
// own loaders, and returns how many scenarios it read.
func validate(t *testing.T, dir string) int {
	t.Helper()
	l, err := lab.Load(filepath.Join(dir, "lab.yaml"))
	if err != nil {
		t.Fatalf("the lab file: %v", err)
	}
	slos, err := slodef.Load(filepath.Join(dir, "slos.yaml"))
	if err != nil {
		t.Fatalf("the SLOs: %v", err)
	}
	scenarios, err := scenario.LoadDir(filepath.Join(dir, "scenarios"),
		scenario.WithLab(l),
		scenario.WithScriptCheck(scenario.ScriptsIn(filepath.Join(dir, "loadtests"))),
		scenario.WithSLOCheck(func(name string) error { _, err := slos.SLO(name); return err }),
	)
	if err != nil {
		t.Fatalf("the scenarios: %v", err)
	}
	return len(scenarios)
}

// TestLabAndScenariosAreValid is `make validate`, without the CLI.
func TestLabAndScenariosAreValid(t *testing.T) {
	if n := validate(t, "."); n < 4 {
		t.Errorf("%d scenarios, want at least 4", n)
	}
}

// TestGuideExamplesAreValid writes the files the guide
// (docs/own-services.md) shows — the blocks that start with "# file: <path>"
// or, for k6 scripts, "// loadtests/<name>.js" — into a folder and checks
// them as chaoslab validate does, so that the guide says only what the
// loaders accept.
func TestGuideExamplesAreValid(t *testing.T) {
	doc, err := os.ReadFile("../../docs/own-services.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	block := regexp.MustCompile("(?s)```\\w*\\n(.*?)```")
	header := regexp.MustCompile(`^(?:# file: (\S+)|// (loadtests/\S+\.js))\n`)
	written := map[string]bool{}
	for _, m := range block.FindAllSubmatch(doc, -1) {
		h := header.FindSubmatch(m[1])
		if h == nil {
			continue
		}
		name := string(h[1]) + string(h[2])
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, m[1], 0o644); err != nil {
			t.Fatal(err)
		}
		written[name] = true
	}
	for _, want := range []string{"lab.yaml", "slos.yaml", "loadtests/write.js", "scenarios/store-latency.yaml"} {
		if !written[want] {
			t.Errorf("the guide shows no %s", want)
		}
	}
	if n := validate(t, dir); n != 1 {
		t.Errorf("%d scenarios in the guide, want 1", n)
	}
}
