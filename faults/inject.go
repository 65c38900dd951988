package faults

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// NamePrefix starts the name of every toxic and in-service fault chaoslab
// sets: "chaoslab-<Applied.ID>". Rollback removes whatever carries it.
const NamePrefix = "chaoslab-"

// Injector applies faults to a lab and removes them, recording each in a
// Ledger before acting so that nothing it applied outlives a crash. It is
// safe for concurrent use.
type Injector struct {
	env    Env
	ledger *Ledger
	now    func() time.Time
	seq    atomic.Uint64

	mu      sync.Mutex
	kills   map[string]*restartJob       // kills applied by this Injector, by ID
	flags   map[string]map[string]string // the knobs a killed service ran with, by ID
	removed map[string]bool              // IDs this Injector removed
}

// NewInjector returns an Injector acting on env and recording in ledger.
func NewInjector(env Env, ledger *Ledger) *Injector {
	return &Injector{
		env: env, ledger: ledger, now: time.Now,
		kills: map[string]*restartJob{}, flags: map[string]map[string]string{}, removed: map[string]bool{},
	}
}

// newID returns a fault ID unique across runs.
func (in *Injector) newID() string {
	return fmt.Sprintf("f-%d-%d", in.now().UnixNano(), in.seq.Add(1))
}

// Apply applies the fault s and returns it as applied. It records the
// intent in the ledger first, then acts, then records it applied; when
// acting fails it undoes what may have been done and returns the error. A
// fault the Env cannot apply at all (a container fault without Containers,
// …) fails before anything is recorded.
//
// A kill with RestartAfter restarts the service in a goroutine after that
// delay, bounded by ctx; Remove restarts it at once if that has not
// happened yet (and waits for a restart under way).
//
// Apply checks the fault's own values (Spec.Validate with the lab's
// topology is the scenario parser's job) and that a service fault names
// one of the Env's Services; Toxiproxy refuses an unknown edge.
func (in *Injector) Apply(ctx context.Context, runID, scenario, phase string, s Spec) (Applied, error) {
	if err := joinProblems(s.problems(nil)); err != nil {
		return Applied{}, fmt.Errorf("applying %s: %w", s, err)
	}
	f := s.Fault()
	if f.Kind() != KindNetwork {
		if err := in.knownService(f.Target()); err != nil {
			return Applied{}, fmt.Errorf("applying %s: %w", s, err)
		}
	}
	// A fault that this Env could not remove would fail every rollback:
	// it is never recorded.
	if err := f.capable(in); err != nil {
		return Applied{}, fmt.Errorf("applying %s: %w", s, err)
	}
	id := in.newID()
	a := Applied{ID: id, RunID: runID, Scenario: scenario, Phase: phase, Spec: s, Handle: f.handle(id)}
	if err := in.ledger.append(Record{Event: EventIntent, ID: a.ID, Fault: &a}); err != nil {
		return Applied{}, fmt.Errorf("applying %s: %w", s, err)
	}
	if err := f.apply(ctx, in, a); err != nil {
		err = fmt.Errorf("applying %s: %w", s, err)
		_ = in.ledger.append(Record{Event: EventError, ID: a.ID, Error: err.Error()})
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if uerr := in.Remove(uctx, a); uerr != nil {
			return Applied{}, errors.Join(err, fmt.Errorf("undoing it (it stays in the ledger for `chaoslab clean`): %w", uerr))
		}
		return Applied{}, err
	}
	a.AppliedAt = in.now().UTC()
	if err := in.ledger.append(Record{Event: EventApplied, ID: a.ID, Fault: &a}); err != nil {
		// The intent is recorded: the fault is pending all the same.
		return a, fmt.Errorf("applied %s: %w", s, err)
	}
	return a, nil
}

// Remove removes the fault a, then records it removed in the ledger.
// Removing a fault that is gone, or was never in place, is not an error,
// and removing it again does nothing.
//
// network: the toxic is removed, or the proxy enabled again (down).
// request: the in-service fault is deleted. process: a paused service gets
// SIGCONT; a killed one is restarted unless its delayed restart already
// did (a restart under way is waited for); a restart needs nothing — after
// a crash (a fault this Injector did not apply), a killed or restarted
// service is restarted only if it is not running, when Processes can tell.
// container: from the container's state, a stopped or killed container is
// started, a paused one unpaused, a disconnected one connected.
func (in *Injector) Remove(ctx context.Context, a Applied) error {
	in.mu.Lock()
	done := in.removed[a.ID]
	in.mu.Unlock()
	if done {
		return nil
	}
	if err := in.undo(ctx, a); err != nil {
		err = fmt.Errorf("removing %s: %w", a.Spec, err)
		_ = in.ledger.append(Record{Event: EventError, ID: a.ID, Error: err.Error()})
		return err
	}
	in.mu.Lock()
	in.removed[a.ID] = true
	delete(in.kills, a.ID)
	delete(in.flags, a.ID)
	in.mu.Unlock()
	if err := in.ledger.append(Record{Event: EventRemoved, ID: a.ID}); err != nil {
		return fmt.Errorf("removed %s: %w", a.Spec, err)
	}
	return nil
}

// undo takes the fault away.
func (in *Injector) undo(ctx context.Context, a Applied) error {
	f := a.Spec.Fault()
	if f == nil {
		return errors.New("empty fault")
	}
	return f.undo(ctx, in, a)
}

// Rollback is what RollbackPending did.
type Rollback struct {
	// Faults are the pending faults it removed, newest first.
	Faults []Applied
	// Knobs are the services it restarted with the lab's defaults: first
	// the pending knobs of the ledger, newest first, then those the sweep
	// found running with overrides that no pending record explained (no
	// ID, RunID or Scenario).
	Knobs []Knobs
}

// runningFlags returns the knobs service runs with now, beyond the lab's
// defaults, when the Processes can tell (KnobStatus); nil otherwise.
func (in *Injector) runningFlags(service string) map[string]string {
	if st, ok := in.env.Processes.(KnobStatus); ok {
		if f := st.Overrides(service); len(f) > 0 {
			return f
		}
	}
	return nil
}

// RollbackPending removes every fault the ledger says may still be in place
// (newest first), then restores the defaults of every service the ledger
// says may still run with knobs (newest first, one restart per service),
// and returns what it undid. Then, belt and braces, it removes every toxic
// named chaoslab-* from every proxy, enables every proxy, deletes every
// in-service fault whose id starts with chaoslab- on every service, in a
// lab of containers connects, unpauses or starts every service's container
// that is disconnected, paused or not running, and, when the lab can tell
// (KnobStatus), restarts with its defaults every service that runs with
// overrides. The runner calls it when it starts (a previous run may have
// crashed); `chaoslab clean` is this.
func (in *Injector) RollbackPending(ctx context.Context) (Rollback, error) {
	pending, knobs, err := in.ledger.pending()
	if err != nil {
		return Rollback{}, err
	}
	var rb Rollback
	var errs []error
	for i := len(pending) - 1; i >= 0; i-- {
		a := pending[i]
		if err := in.Remove(ctx, a); err != nil {
			errs = append(errs, err)
			continue
		}
		rb.Faults = append(rb.Faults, a)
	}
	// After the faults: a paused service is resumed before it is restarted.
	restored, err := in.rollbackKnobs(ctx, knobs)
	rb.Knobs = append(rb.Knobs, restored...)
	errs = append(errs, err)
	found, err := in.sweep(ctx)
	rb.Knobs = append(rb.Knobs, found...)
	errs = append(errs, err)
	return rb, errors.Join(errs...)
}

// sweep removes whatever chaoslab left in the lab that the ledger does not
// know of, kind by kind, and returns the overrides it found services
// running with.
func (in *Injector) sweep(ctx context.Context) ([]Knobs, error) {
	var errs []error
	for _, k := range envelope() {
		if s, ok := k.zero.(sweeper); ok {
			errs = append(errs, s.sweep(ctx, in))
		}
	}
	// Last: a service's container must run before it can be restarted.
	found, err := in.sweepKnobs(ctx)
	errs = append(errs, err)
	return found, errors.Join(errs...)
}
