package scenario

import "fmt"

// RequiresChange reports whether o can only hold when the value moved away
// from the phase it compares with: "> baseline", ">= baseline + 0.03",
// ">= 2 * baseline", "< baseline", "<= baseline - 0.1", "<= 0.5 * baseline"
// (for a base above zero). An absolute objective, or a relative one that
// an unchanged value meets ("<= 2 * baseline"), does not.
func (o Objective) RequiresChange() bool {
	if !o.Relative() {
		return false
	}
	switch o.Op {
	case Greater:
		return o.Factor >= 1 && o.Value >= 0
	case GreaterEqual:
		return o.Factor >= 1 && o.Value >= 0 && (o.Factor > 1 || o.Value > 0)
	case Less:
		return o.Factor <= 1 && o.Value <= 0
	case LessEqual:
		return o.Factor <= 1 && o.Value <= 0 && (o.Factor < 1 || o.Value < 0)
	}
	return false
}

// SensitivityWarning says, for a scenario that expects to pass and has
// faults, when none of its checks can be told from the file alone to
// notice that its fault did nothing; "" otherwise. Told statically: an SLO
// check whose objective requires a change from an earlier phase
// (RequiresChange) or pins a value with == (the breaker's open state), or
// a trace check that requires a span event (a retry). Recovery checks pass
// at 0 s when the SLI never left its tolerance, invariants and latency or
// availability bounds hold on a healthy lab, so they cannot. A warning is
// not an error: the sensitivity run (chaoslab chaos -sensitivity) decides.
func (s *Scenario) SensitivityWarning() string {
	if s.Expect != ExpectPass || s.FaultCount() == 0 {
		return ""
	}
	for _, c := range s.Checks.SLO {
		if c.Objective.RequiresChange() || c.Objective.Op == Equal {
			return ""
		}
	}
	for _, c := range s.Checks.Traces {
		if c.RequireEvent != nil {
			return ""
		}
	}
	return fmt.Sprintf("%s: no check can be seen to notice its faults missing: every check would pass if the injector did nothing "+
		"(recoveries take 0s when nothing broke, invariants and bounds hold on a healthy lab); add one that the fault must move — "+
		"an objective like \">= baseline + 0.03\" or \"> baseline\", an == on a state the fault sets, or a trace check with require_event — "+
		"and prove it with `chaoslab chaos -sensitivity`", s.File)
}
