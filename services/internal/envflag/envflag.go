// Package envflag parses a flag.FlagSet with environment variables as the
// fallback: a flag not given on the command line takes its value from
// PREFIX_NAME (upper case, dashes as underscores) when that is set, e.g.
// -call-timeout from CHAOSLAB_CALL_TIMEOUT.
package envflag

import (
	"flag"
	"fmt"
	"strings"
)

// Parse parses args into fs, then fills every flag that args did not set
// from the environment through getenv.
func Parse(fs *flag.FlagSet, args []string, prefix string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] {
			return
		}
		name := EnvName(prefix, f.Name)
		v := getenv(name)
		if v == "" {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = fmt.Errorf("environment variable %s=%q (for -%s): %w", name, v, f.Name, serr)
		}
	})
	return err
}

// EnvName is the environment variable that backs the flag name.
func EnvName(prefix, name string) string {
	return prefix + "_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}
