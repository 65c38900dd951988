package faults

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Knobs is a service restarted with flags overriding the lab's defaults (a
// scenario's service knobs), as the ledger records it. A knob change is not
// a fault of a scenario's timeline, but it outlives a crashed runner just
// the same, so the Injector records it like one: intent before the
// restart, applied after, removed once the service runs with its defaults
// again.
type Knobs struct {
	// ID is unique across runs: "k-<unix nanos>-<n>". It is empty for
	// overrides that the rollback's sweep found in the lab and that no
	// pending record explains.
	ID string `json:"id,omitempty"`
	// RunID and Scenario say where the knobs came from.
	RunID    string `json:"run_id,omitempty"`
	Scenario string `json:"scenario,omitempty"`
	// Service runs with Flags, flag name (no dash) to value.
	Service string            `json:"service"`
	Flags   map[string]string `json:"flags"`
	// AppliedAt is when the service was running with the flags; zero while
	// they are only intended.
	AppliedAt time.Time `json:"applied_at,omitzero"`
}

// FlagString is the flags as on a command line, sorted by name:
// "-breaker=false -retries=false".
func (k Knobs) FlagString() string {
	parts := make([]string, 0, len(k.Flags))
	for _, name := range slices.Sorted(maps.Keys(k.Flags)) {
		parts = append(parts, "-"+name+"="+k.Flags[name])
	}
	return strings.Join(parts, " ")
}

// Summary describes the knobs for a person: "store with -breaker=false
// -retries=false".
func (k Knobs) Summary() string { return k.Service + " with " + k.FlagString() }

// KnobStatus is an optional ability of an Env's Processes: the flags a
// service currently runs with beyond the lab's defaults (none: it runs with
// its defaults). With it, rollback also restarts with its defaults a
// service that runs with overrides the ledger does not know of.
type KnobStatus interface {
	Overrides(service string) map[string]string
}

// ApplyKnobs restarts service with flags overriding the lab's defaults and
// returns the knobs as applied. Like Apply, it records the intent in the
// ledger first, then restarts, then records them applied; when the restart
// fails it restarts the service with its defaults and returns the error.
// Knobs the Env cannot apply (no process control, an unknown service, no
// flags) fail before anything is recorded.
func (in *Injector) ApplyKnobs(ctx context.Context, runID, scenario, service string, flags map[string]string) (Knobs, error) {
	k := Knobs{RunID: runID, Scenario: scenario, Service: service, Flags: maps.Clone(flags)}
	if err := in.validKnobs(k); err != nil {
		return Knobs{}, fmt.Errorf("applying knobs to %s: %w", service, err)
	}
	procs, err := in.processes()
	if err != nil {
		return Knobs{}, fmt.Errorf("applying knobs to %s: %w", service, err)
	}
	k.ID = fmt.Sprintf("k-%d-%d", in.now().UnixNano(), in.seq.Add(1))
	if err := in.ledger.append(Record{Event: EventIntent, ID: k.ID, Knobs: &k}); err != nil {
		return Knobs{}, fmt.Errorf("applying knobs to %s: %w", service, err)
	}
	if err := procs.Restart(ctx, service, k.Flags); err != nil {
		err = fmt.Errorf("restarting %s with %s: %w", service, k.FlagString(), err)
		_ = in.ledger.append(Record{Event: EventError, ID: k.ID, Error: err.Error()})
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if uerr := in.RemoveKnobs(uctx, k); uerr != nil {
			return Knobs{}, errors.Join(err, fmt.Errorf("restoring its defaults (the knobs stay in the ledger for `chaoslab clean`): %w", uerr))
		}
		return Knobs{}, err
	}
	k.AppliedAt = in.now().UTC()
	if err := in.ledger.append(Record{Event: EventApplied, ID: k.ID, Knobs: &k}); err != nil {
		// The intent is recorded: the knobs are pending all the same.
		return k, fmt.Errorf("applied knobs to %s: %w", service, err)
	}
	return k, nil
}

// validKnobs checks what ApplyKnobs needs of k.
func (in *Injector) validKnobs(k Knobs) error {
	if err := in.knownService(k.Service); err != nil {
		return err
	}
	if len(k.Flags) == 0 {
		return errors.New("no flags: a service without knobs runs with the lab's defaults")
	}
	for name := range k.Flags {
		if name == "" || strings.HasPrefix(name, "-") || strings.ContainsAny(name, "= \t\n") {
			return fmt.Errorf("invalid flag name %q", name)
		}
	}
	return nil
}

// RemoveKnobs restarts k's service with the lab's defaults, then records
// the knobs removed. Removing knobs again does nothing. The restart happens
// whether or not the knobs were ever applied (a crash between the intent
// and the restart, or in the middle of the restart, leaves the service's
// flags unknown: restarting it with its defaults is always right).
func (in *Injector) RemoveKnobs(ctx context.Context, k Knobs) error {
	if in.isRemoved(k.ID) {
		return nil
	}
	procs, err := in.processes()
	if err == nil {
		err = procs.Restart(ctx, k.Service, nil)
	}
	if err != nil {
		err = fmt.Errorf("restoring the defaults of %s: %w", k.Service, err)
		_ = in.ledger.append(Record{Event: EventError, ID: k.ID, Error: err.Error()})
		return err
	}
	return in.recordKnobsRemoved(k)
}

// isRemoved reports whether this Injector removed the fault or knobs id.
func (in *Injector) isRemoved(id string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.removed[id]
}

// recordKnobsRemoved records k removed.
func (in *Injector) recordKnobsRemoved(k Knobs) error {
	in.mu.Lock()
	in.removed[k.ID] = true
	in.mu.Unlock()
	if err := in.ledger.append(Record{Event: EventRemoved, ID: k.ID}); err != nil {
		return fmt.Errorf("restored the defaults of %s: %w", k.Service, err)
	}
	return nil
}

// rollbackKnobs restores the defaults of every service with pending knobs,
// newest first, one restart per service, and returns the knobs it removed.
func (in *Injector) rollbackKnobs(ctx context.Context, pending []Knobs) ([]Knobs, error) {
	var done []Knobs
	var errs []error
	restored := map[string]bool{}
	for i := len(pending) - 1; i >= 0; i-- {
		k := pending[i]
		if restored[k.Service] {
			// Older knobs of a service restored just now: gone with them.
			if err := in.recordKnobsRemoved(k); err != nil {
				errs = append(errs, err)
				continue
			}
			done = append(done, k)
			continue
		}
		if err := in.RemoveKnobs(ctx, k); err != nil {
			errs = append(errs, err)
			continue
		}
		restored[k.Service] = true
		done = append(done, k)
	}
	return done, errors.Join(errs...)
}

// sweepKnobs restarts with its defaults every service of the Env that
// Processes says runs with overrides (when it can tell: KnobStatus), in the
// Env's order (dependencies first), and returns what each ran with.
func (in *Injector) sweepKnobs(ctx context.Context) ([]Knobs, error) {
	status, ok := in.env.Processes.(KnobStatus)
	if !ok {
		return nil, nil
	}
	var found []Knobs
	var errs []error
	for _, svc := range in.env.Services {
		flags := status.Overrides(svc)
		if len(flags) == 0 {
			continue
		}
		k := Knobs{Service: svc, Flags: maps.Clone(flags)}
		if err := in.env.Processes.Restart(ctx, svc, nil); err != nil {
			errs = append(errs, fmt.Errorf("restoring the defaults of %s (it runs with %s): %w", svc, k.FlagString(), err))
			continue
		}
		found = append(found, k)
	}
	return found, errors.Join(errs...)
}
