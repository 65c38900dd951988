// Package exitcode is the one set of chaoslab's process exit codes: what a
// run's verdicts (harness/report) and a command's errors (internal/cli) map
// to, so that CI can gate on them. The numbers are part of chaoslab's
// interface, documented in the README.
package exitcode

import "fmt"

// Code is a process exit code of chaoslab.
type Code int

// The exit codes.
const (
	// OK: every scenario ended as expected (and the command did its job).
	OK Code = 0
	// CheckFailed: a scenario ended unexpectedly — a gate that should pass
	// failed, a scenario expected to fail passed, or a sensitivity run found
	// a scenario that does not notice its faults missing.
	CheckFailed Code = 1
	// Usage: bad command line, flags or input files; nothing ran.
	Usage Code = 2
	// Inconclusive: no scenario was unexpected but some verdict could not
	// be reached for lack of data.
	Inconclusive Code = 3
	// Infra: the lab or a tool failed (a port in use, a process died, an
	// interrupted run); it takes precedence over every verdict.
	Infra Code = 4
)

// Codes returns every exit code, in numeric order.
func Codes() []Code { return []Code{OK, CheckFailed, Usage, Inconclusive, Infra} }

// String names the code: "ok", "check failed", ….
func (c Code) String() string {
	switch c {
	case OK:
		return "ok"
	case CheckFailed:
		return "check failed"
	case Usage:
		return "bad usage or input"
	case Inconclusive:
		return "inconclusive"
	case Infra:
		return "lab or infrastructure error"
	}
	return fmt.Sprintf("exit code %d", int(c))
}
