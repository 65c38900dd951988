package cli

import labfile "github.com/chaoslab/chaoslab/harness/lab"

// knobDefault returns the runner's IsDefault for lab file lf: whether value
// is the default the lab file declares for service's knob flag, both in the
// flag's canonical syntax ("1s" and "1000ms" are one value). A knob without
// a declared default, or one the lab file does not know, is never a
// default.
func knobDefault(lf *labfile.Lab) func(service, flag, value string) bool {
	return func(service, flag, value string) bool {
		s, ok := lf.Service(service)
		if !ok {
			return false
		}
		k, ok := s.Knob(flag)
		if !ok || k.Default == "" {
			return false
		}
		v, err := k.Parse(value)
		if err != nil {
			return false
		}
		d, err := k.Parse(k.Default)
		return err == nil && v == d
	}
}
