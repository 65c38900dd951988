package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/scenario"
)

// forCapabilities holds the scenarios to what the chosen stack can apply
// to lab file lf's system (provider.Capabilities), before anything runs. A
// scenario the stack cannot run — a process fault or a knob that needs a
// restart on a stack that owns no process, a request fault on a service
// whose admin API it does not reach — is refused with every such fault at
// its line (exit 2) when it was named (a file argument, or -scenario), and
// left out, saying why, when it came from a directory; none left is a
// usage error.
func (o *labOptions) forCapabilities(env Env, scs []*scenario.Scenario, lf *labfile.Lab, named func(*scenario.Scenario) bool) ([]*scenario.Scenario, error) {
	caps, err := o.p.Capabilities(lf)
	if err != nil {
		return nil, err
	}
	var out []*scenario.Scenario
	var refused []error
	for _, sc := range scs {
		err := sc.CheckOn(caps)
		switch {
		case err == nil:
			out = append(out, sc)
		case named(sc):
			refused = append(refused, err)
		default:
			var verr *scenario.ValidationError
			first := err.Error()
			if errors.As(err, &verr) && len(verr.Problems) > 0 {
				first = verr.Problems[0].String()
			}
			fmt.Fprintf(env.Stdout, "not on the %s stack: %s (%s)\n", caps.Stack, sc.Name, first)
		}
	}
	if len(refused) > 0 {
		return nil, &exitError{code: exitcode.Usage, err: fmt.Errorf("the %s stack cannot run these scenarios, nothing was run:\n%w", caps.Stack, errors.Join(refused...))}
	}
	if len(out) == 0 {
		return nil, usageErr("none of the %d scenarios can run on the %s stack (see above)", len(scs), caps.Stack)
	}
	return out, nil
}

// namedBy returns whether a scenario was named on the command line: by
// -scenario (name), or as a file among args (not found in a directory).
func namedBy(args []string, name string) func(*scenario.Scenario) bool {
	if name != "" {
		return func(*scenario.Scenario) bool { return true }
	}
	files := map[string]bool{}
	for _, a := range args {
		if info, err := os.Stat(a); err == nil && !info.IsDir() {
			files[filepath.Clean(a)] = true
		}
	}
	return func(sc *scenario.Scenario) bool { return files[filepath.Clean(sc.File)] }
}
