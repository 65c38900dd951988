package lab

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// KnobError is a knob value a lab does not accept: Msg says what is wrong,
// Allowed lists what may be written instead when that is a choice (services,
// flags, a string knob's values), for a diag.Problem.
type KnobError struct {
	Msg     string
	Allowed []string
}

// Error returns "msg; allowed: a, b".
func (e *KnobError) Error() string {
	if len(e.Allowed) == 0 {
		return e.Msg
	}
	return e.Msg + "; allowed: " + strings.Join(e.Allowed, ", ")
}

// CheckKnob checks that service has the knob flag and that value (in the
// flag's syntax: "true", "3", "800ms", "1000") is of its type and within its
// bounds. It returns a *KnobError. The messages are the scenario parser's
// ("9 is out of range: must be from 2 to 5"), so that it can use it instead
// of its own table.
func (l *Lab) CheckKnob(service, flag, value string) error {
	s, ok := l.Service(service)
	if !ok {
		return &KnobError{Msg: fmt.Sprintf("unknown service %q", service), Allowed: l.ServiceNames()}
	}
	k, ok := s.Knob(flag)
	if !ok {
		names := l.KnobNames(service)
		if len(names) == 0 {
			return &KnobError{Msg: fmt.Sprintf("%s has no knobs", service)}
		}
		return &KnobError{Msg: fmt.Sprintf("%s has no knob %q", service, flag), Allowed: names}
	}
	_, err := k.Parse(value)
	return err
}

// Parse checks value against the knob's type and bounds and returns it in
// the flag's canonical syntax ("1s" for "1000ms", "1000" for "1e3"); the
// error is a *KnobError.
func (k *Knob) Parse(value string) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", &KnobError{Msg: fmt.Sprintf(format, args...)}
	}
	switch k.Type {
	case KnobBool:
		switch value {
		case "true", "false":
			return value, nil
		}
		return bad("want true or false, got %q", value)
	case KnobInt:
		v, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return bad("%q is not a whole number", value)
		}
		if float64(v) < k.Min || float64(v) > k.Max {
			return bad("%d is out of range: must be from %d to %d", v, int64(k.Min), int64(k.Max))
		}
		return strconv.FormatInt(v, 10), nil
	case KnobFloat:
		v, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return bad("%q is not a finite number", value)
		}
		if v < k.Min || v > k.Max {
			return bad("%s is out of range: must be from %s to %s", formatFloat(v), formatFloat(k.Min), formatFloat(k.Max))
		}
		return formatFloat(v), nil
	case KnobDuration:
		v, err := time.ParseDuration(value)
		if err != nil {
			return bad("%q is not a duration: write one like \"15s\", \"500ms\" or \"1m30s\"", value)
		}
		if v < k.MinDuration || v > k.MaxDuration {
			return bad("%s is out of range: must be from %s to %s", v, k.MinDuration, k.MaxDuration)
		}
		return v.String(), nil
	case KnobString:
		if len(k.Values) == 0 {
			return value, nil
		}
		for _, a := range k.Values {
			if a == value {
				return value, nil
			}
		}
		return "", &KnobError{Msg: fmt.Sprintf("unknown value %q", value), Allowed: k.Values}
	}
	return bad("the knob has no type")
}

// Bounds describes the knob's bounds for help texts: "2 to 5", "1ms to
// 1h0m0s", "one of a, b"; empty when it has none.
func (k *Knob) Bounds() string {
	switch k.Type {
	case KnobInt:
		return strconv.FormatInt(int64(k.Min), 10) + " to " + strconv.FormatInt(int64(k.Max), 10)
	case KnobFloat:
		return formatFloat(k.Min) + " to " + formatFloat(k.Max)
	case KnobDuration:
		return k.MinDuration.String() + " to " + k.MaxDuration.String()
	case KnobString:
		if len(k.Values) > 0 {
			return "one of " + strings.Join(k.Values, ", ")
		}
	}
	return ""
}

// KnobEnvName is the environment variable of knob flag for a compose
// service with KnobEnvPrefix prefix: ("CHAOSLAB_ORDERS_", "call-timeout") →
// "CHAOSLAB_ORDERS_CALL_TIMEOUT".
func KnobEnvName(prefix, flag string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}
