// Package config parses a service's flags, with environment variables as a
// fallback: a flag not given on the command line takes the value of
// PREFIX + its name in upper case with "-" as "_" (BOOKINGS_DESK_ + addr),
// when that variable is set.
package config

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// ErrHelp is returned when -h or -help was asked for: the usage was printed.
var ErrHelp = flag.ErrHelp

// Parse parses args into fs, then fills the flags args did not set from
// getenv.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string, prefix string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: every setting is a flag (-help lists them)", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		name := prefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q (for -%s): %w", name, v, f.Name, err))
			}
		}
	})
	return errors.Join(errs...)
}
