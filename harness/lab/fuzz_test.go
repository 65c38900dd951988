package lab

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/chaoslab/chaoslab/harness/diag"
)

// fuzzPositionRE is the "file:line:col: " every problem starts with.
var fuzzPositionRE = regexp.MustCompile(`^fuzz\.yaml:[1-9][0-9]*:[1-9][0-9]*: `)

// FuzzParse feeds arbitrary bytes to the lab parser, seeded from the shop's
// lab and the test fixtures. It may not panic; it refuses a file only with a
// *diag.ValidationError whose every problem is positioned (file:line:col);
// and what it accepts is usable: every template renders, every knob's
// default passes CheckKnob, and the port plan has no port twice.
//
//	go test -run '^$' -fuzz FuzzParse -fuzztime 60s ./harness/lab/
func FuzzParse(f *testing.F) {
	seeds := []string{"../../labs/shop/lab.yaml"}
	for _, dir := range []string{"testdata/good", "testdata/bad"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, files...)
	}
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(base))
	f.Add([]byte(""))
	builtins := WithBuiltins(Builtins{Invariants: []string{"no_lost_orders", "no_double_charge", "failed_orders_compensated", "one_shipment_per_confirmed_order", "no_orphan_shipments", "outbox_drained"}, Settle: []string{"no_pending_orders", "no_pending_work"}})

	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse("fuzz.yaml", data, builtins)
		if err != nil {
			var verr *diag.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("the error is a %T, not a *diag.ValidationError: %v", err, err)
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
		checkUsable(t, l)
	})
}

// checkUsable fails when an accepted lab cannot be used.
func checkUsable(t *testing.T, l *Lab) {
	t.Helper()
	local := l.LocalPlacement(3, "/run", "bin", l.Load.Auth.AuthVars("/run/jwt.key", "k"))
	composed := l.ComposePlacement("/run", "dev", l.Load.Auth.AuthVars("/run/jwt.key", "k"))
	for _, s := range l.Services {
		if len(s.Ports) == 0 || s.Replicas < 1 || (s.Local == nil && s.Compose == nil) {
			t.Fatalf("service %s accepted without ports, replicas or a way to run it: %+v", s.Name, s)
		}
		for r := range s.Replicas {
			if s.Local != nil {
				if _, err := l.RenderLocal(s.Name, r, local); err != nil {
					t.Fatalf("an accepted local command does not render: %v", err)
				}
				knobs := map[string]string{}
				for _, k := range s.Knobs {
					knobs[k.Name] = k.Default
				}
				if _, err := l.KnobArgs(s.Name, knobs); err != nil {
					t.Fatalf("accepted knob defaults: %v", err)
				}
			}
			if s.Compose != nil {
				if _, err := l.RenderCompose(s.Name, r, composed); err != nil {
					t.Fatalf("an accepted compose service does not render: %v", err)
				}
			}
		}
		for _, k := range s.Knobs {
			if err := l.CheckKnob(s.Name, k.Name, k.Default); err != nil {
				t.Fatalf("knob %s of %s: its accepted default fails CheckKnob: %v", k.Name, s.Name, err)
			}
		}
	}
	h := l.HarnessVarsFor(local, "http://127.0.0.1:9090")
	for _, inv := range l.Invariants {
		for _, a := range inv.Command {
			if _, err := Render("invariant", a, h); err != nil {
				t.Fatalf("an accepted invariant command does not render: %v", err)
			}
		}
	}
	seen := map[int]PlannedPort{}
	for _, p := range l.PortPlan() {
		if prev, dup := seen[p.Number]; dup {
			t.Fatalf("port %d accepted twice: %s and %s", p.Number, prev, p)
		}
		seen[p.Number] = p
	}
	if len(l.EntryEdges()) == 0 {
		t.Fatal("a lab accepted without an entry edge")
	}
	if _, ok := l.Edge(l.Load.Entry); !ok {
		t.Fatalf("load.entry %q accepted but is no edge", l.Load.Entry)
	}
}
