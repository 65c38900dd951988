// Package checks turns a lab's settle probe and invariants (docs/lab.md,
// Settle and Invariants) into what the runner evaluates: a builtin is looked
// up in the Builtins the caller registers (the lab's Go package provides
// them, like labs/shop), a command runs with the run as JSON on its standard
// input and prints its verdict on its standard output, an http checker gets
// the run as the body of a POST and answers its verdict.
//
// A verdict becomes a journal.Check: any violation fails on data, nothing
// examined is inconclusive, otherwise it passes. A checker that has not
// decided — a command that exits non-zero or times out, an answer other than
// 200, a verdict that does not decode — is inconclusive, not on data, with
// what went wrong in its detail.
package checks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/lab"
)

// BuiltinInvariants evaluates a lab's invariants written in Go: names (each
// one of Builtins.Invariants) over the run in, one check each in the order
// of names. The checks of one call may share what they read of the system.
type BuiltinInvariants func(ctx context.Context, names []string, in lab.RunInput) []journal.Check

// SettleProbe is a settle probe written in Go: how much work is still in
// flight.
type SettleProbe func(ctx context.Context) (lab.SettleStatus, error)

// Builtins are the checkers a lab's Go package registers, which a lab file
// names with `builtin:`.
type Builtins struct {
	// Invariants are the names of the built-in invariants, which
	// CheckInvariants evaluates.
	Invariants []string
	// CheckInvariants evaluates built-in invariants; nil when there are
	// none.
	CheckInvariants BuiltinInvariants
	// Settle are the built-in settle probes by name.
	Settle map[string]SettleProbe
}

// Names returns the names a lab file may give `builtin:`, for
// lab.WithBuiltins.
func (b Builtins) Names() lab.Builtins {
	names := make([]string, 0, len(b.Settle))
	for name := range b.Settle {
		names = append(names, name)
	}
	slices.Sort(names)
	return lab.Builtins{Invariants: slices.Clone(b.Invariants), Settle: names}
}

// Set is a lab's settle probe and invariants, ready to evaluate.
type Set struct {
	lab      *lab.Lab
	vars     lab.HarnessVars
	builtins Builtins
	client   *http.Client
	// probeTimeout bounds one settle probe.
	probeTimeout time.Duration
}

// Option changes a Set.
type Option func(*Set)

// WithHTTPClient makes the http checkers use c (default: a client without
// a timeout of its own; each call is bounded by its checker's timeout).
func WithHTTPClient(c *http.Client) Option { return func(s *Set) { s.client = c } }

// defaultProbeTimeout bounds one settle probe.
const defaultProbeTimeout = 5 * time.Second

// New returns the checks of l: its templates (commands, URLs) are rendered
// with vars, its builtins looked up in b. Every builtin l names must be in
// b.
func New(l *lab.Lab, vars lab.HarnessVars, b Builtins, opts ...Option) (*Set, error) {
	s := &Set{lab: l, vars: vars, builtins: b, client: &http.Client{}, probeTimeout: defaultProbeTimeout}
	for _, o := range opts {
		o(s)
	}
	var errs []error
	if st := l.Settle; st != nil && st.Builtin != "" {
		if _, ok := b.Settle[st.Builtin]; !ok {
			errs = append(errs, fmt.Errorf("lab %s: settle: no built-in settle probe %q is registered", l.Name, st.Builtin))
		}
	}
	for _, inv := range l.Invariants {
		if inv.Builtin == "" {
			continue
		}
		if !slices.Contains(b.Invariants, inv.Builtin) || b.CheckInvariants == nil {
			errs = append(errs, fmt.Errorf("lab %s: invariants.%s: no built-in invariant %q is registered", l.Name, inv.Name, inv.Builtin))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Invariants evaluates the lab's invariants names over the run in, one
// check each in the order of names. A name the lab does not declare is
// inconclusive. The built-in invariants are evaluated in one call, so that
// they read the system once, bounded by the longest of their timeouts; a
// command or http invariant by its own.
func (s *Set) Invariants(ctx context.Context, names []string, in lab.RunInput) []journal.Check {
	out := make([]journal.Check, len(names))
	var builtinAt []int
	var builtinNames []string
	timeout := time.Duration(0)
	for i, name := range names {
		inv, ok := s.lab.Invariant(name)
		switch {
		case !ok:
			out[i] = undecided(name, fmt.Sprintf("lab %s has no invariant %q; it has: %s", s.lab.Name, name, strings.Join(s.lab.InvariantNames(), ", ")))
		case inv.Builtin != "":
			builtinAt = append(builtinAt, i)
			builtinNames = append(builtinNames, inv.Builtin)
			timeout = max(timeout, inv.Timeout)
		default:
			out[i] = s.external(ctx, inv, in)
		}
	}
	if len(builtinNames) > 0 {
		got := s.builtin(ctx, builtinNames, in, timeout)
		for k, i := range builtinAt {
			c := undecided(names[i], fmt.Sprintf("the built-in invariant %s returned no check", builtinNames[k]))
			if k < len(got) {
				c = got[k]
			}
			c.Name, c.Kind = names[i], journal.KindInvariant
			out[i] = c
		}
	}
	return out
}

// builtin evaluates built-in invariants within timeout (0: none).
func (s *Set) builtin(ctx context.Context, names []string, in lab.RunInput, timeout time.Duration) []journal.Check {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return s.builtins.CheckInvariants(ctx, names, in)
}

// external evaluates a command or http invariant.
func (s *Set) external(ctx context.Context, inv *lab.Invariant, in lab.RunInput) journal.Check {
	field := "invariants." + inv.Name
	var answer []byte
	var stderr string
	var err error
	switch inv.Kind() {
	case "command":
		answer, stderr, err = s.runCommand(ctx, field, inv.Command, in, inv.Timeout)
	default:
		answer, err = s.post(ctx, field, inv.HTTP, in, inv.Timeout)
	}
	if err != nil {
		return undecided(inv.Name, err.Error())
	}
	v, err := lab.DecodeVerdict(answer)
	if err != nil {
		return undecided(inv.Name, fmt.Sprintf("%s: %v; it answered %s%s", describe(inv.Checker), err, snippet(answer), stderr))
	}
	return VerdictCheck(inv.Name, v)
}

// maxListed is how many violations a check's detail names.
const maxListed = 5

// VerdictCheck is the check of an invariant named name whose checker
// answered v: fail on data with any violation (their count is the value,
// 0 the threshold), inconclusive when nothing was examined, pass on data
// otherwise. The detail counts what was examined, names up to five
// violations and ends with the checker's own detail.
func VerdictCheck(name string, v lab.Verdict) journal.Check {
	c := journal.Check{
		Name: name, Kind: journal.KindInvariant, Objective: "no violation among the records examined",
		Value: journal.Float(float64(len(v.Violations))), Threshold: journal.Float(0),
	}
	note := ""
	if v.Detail != "" {
		note = " (" + v.Detail + ")"
	}
	switch v.Outcome() {
	case lab.OutcomeFail:
		c.Outcome, c.OnData = journal.Fail, true
		var listed []string
		for _, viol := range v.Violations[:min(len(v.Violations), maxListed)] {
			if viol.Detail != "" {
				listed = append(listed, viol.ID+": "+viol.Detail)
			} else {
				listed = append(listed, viol.ID)
			}
		}
		more := ""
		if n := len(v.Violations) - maxListed; n > 0 {
			more = fmt.Sprintf(" and %d more", n)
		}
		c.Detail = fmt.Sprintf("%s among %s examined: %s%s%s → fail",
			plural(len(v.Violations), "violation"), plural(v.Examined, "record"), strings.Join(listed, "; "), more, note)
	case lab.OutcomeInconclusive:
		c.Outcome, c.NothingToExamine = journal.Inconclusive, true
		c.Detail = "no record examined: nothing to check" + note + " → inconclusive"
	default:
		c.Outcome, c.OnData = journal.Pass, true
		c.Detail = fmt.Sprintf("%s examined, no violation%s → pass", plural(v.Examined, "record"), note)
	}
	return c
}

// undecided is the check of an invariant whose checker did not decide.
func undecided(name, detail string) journal.Check {
	return journal.Check{Name: name, Kind: journal.KindInvariant, Outcome: journal.Inconclusive, Detail: detail}
}

// Settled is how the wait for in-flight work ended.
type Settled struct {
	// Probed is false when the lab has no settle probe: nothing was waited
	// for.
	Probed bool
	// Pending is how much work the last answer said was still in flight (0:
	// settled); Detail is that answer's detail.
	Pending int
	Detail  string
	// Err is why the last probe did not answer, when it did not.
	Err error
	// Waited is how long the wait took; Timeout what bounded it.
	Waited, Timeout time.Duration
}

// Done reports whether the lab settled (or has no probe to wait for).
func (s Settled) Done() bool { return !s.Probed || s.Err == nil && s.Pending == 0 }

// String says how the wait ended, for the runner's commentary.
func (s Settled) String() string {
	switch {
	case !s.Probed:
		return "no settle probe: not waited"
	case s.Done():
		return fmt.Sprintf("settled after %s", s.Waited.Round(time.Millisecond))
	case s.Err != nil:
		return fmt.Sprintf("not settled after %s: the probe did not answer: %v", s.Timeout, s.Err)
	case s.Detail != "":
		return fmt.Sprintf("not settled after %s: %d pending (%s)", s.Timeout, s.Pending, s.Detail)
	}
	return fmt.Sprintf("not settled after %s: %d pending", s.Timeout, s.Pending)
}

// Settle polls the lab's settle probe every interval until it answers that
// nothing is pending, or its timeout passes, or ctx ends. Without a settle
// probe it returns at once.
func (s *Set) Settle(ctx context.Context) Settled {
	st := s.lab.Settle
	if st == nil {
		return Settled{}
	}
	start := time.Now()
	deadline := start.Add(st.Timeout)
	out := Settled{Probed: true, Timeout: st.Timeout}
	for {
		status, err := s.probe(ctx, st)
		out.Pending, out.Detail, out.Err = status.Pending, status.Detail, err
		out.Waited = time.Since(start)
		left := time.Until(deadline)
		if out.Done() || left <= 0 {
			return out
		}
		select {
		case <-time.After(min(st.Interval, left)):
		case <-ctx.Done():
			out.Err = errors.Join(out.Err, ctx.Err())
			return out
		}
	}
}

// probe asks the settle probe once.
func (s *Set) probe(ctx context.Context, st *lab.Settle) (lab.SettleStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, s.probeTimeout)
	defer cancel()
	if st.Builtin != "" {
		return s.builtins.Settle[st.Builtin](ctx)
	}
	var answer []byte
	var stderr string
	var err error
	if st.Kind() == "command" {
		answer, stderr, err = s.runCommand(ctx, "settle", st.Command, nil, s.probeTimeout)
	} else {
		answer, err = s.get(ctx, "settle", st.HTTP, s.probeTimeout)
	}
	if err != nil {
		return lab.SettleStatus{}, err
	}
	status, err := lab.DecodeSettleStatus(answer)
	if err != nil {
		return lab.SettleStatus{}, fmt.Errorf("%s: %w; it answered %s%s", describe(st.Checker), err, snippet(answer), stderr)
	}
	return status, nil
}

// describe names a checker in a detail: "command check-books.sh",
// "http http://127.0.0.1:9000/check".
func describe(c lab.Checker) string {
	switch c.Kind() {
	case "builtin":
		return "builtin " + c.Builtin
	case "command":
		if len(c.Command) > 0 {
			return "command " + c.Command[0]
		}
		return "command"
	}
	return "http " + c.HTTP
}

// maxSnippet is how much of an answer or of stderr a detail quotes.
const maxSnippet = 300

// snippet quotes the start of an answer on one line.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if s == "" {
		return "nothing"
	}
	if len(s) > maxSnippet {
		s = s[:maxSnippet] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// plural writes n things: "1 record", "3 records".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
