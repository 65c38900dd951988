package cli

import (
	"errors"
	"flag"
	"path/filepath"

	"github.com/chaoslab/chaoslab/harness/diag"
	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/scenario"
)

// defaultLabFile is the shop's lab file, the default of -lab.
var defaultLabFile = filepath.Join("labs", "shop", "lab.yaml")

// registerLabFile registers -lab on fs, the lab file that scenarios are
// checked against, into path. Each command that checks scenarios calls it
// once (suiteFlags.register for run, chaos and list; validate).
func registerLabFile(fs *flag.FlagSet, path *string) {
	fs.StringVar(path, "lab", defaultLabFile,
		"the lab file (docs/lab.md): the system the stacks run and scenarios are checked against")
}

// shopBuiltins are the built-in checkers a lab file may name: the shop's
// invariants (harness/invariants) and its settle probe.
func shopBuiltins() labfile.Builtins {
	return labfile.Builtins{Invariants: scenario.Invariants(), Settle: []string{"no_pending_orders"}}
}

// loadLabFile loads and checks the lab file at path; an invalid one is a
// usage error listing its problems (file:line:col), like an invalid scenario.
func loadLabFile(path string) (*labfile.Lab, error) {
	l, err := labfile.Load(path, labfile.WithBuiltins(shopBuiltins()))
	var verr *diag.ValidationError
	switch {
	case errors.As(err, &verr):
		return nil, usageErr("invalid lab file %s, nothing was checked or run:\n%w", path, err)
	case err != nil:
		return nil, usageErr("-lab: %v", err)
	}
	return l, nil
}

// labOption returns the scenario option that checks scenarios against the
// lab file at path.
func labOption(path string) (scenario.Option, error) {
	l, err := loadLabFile(path)
	if err != nil {
		return nil, err
	}
	return scenario.WithLab(l), nil
}
