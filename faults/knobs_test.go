package faults_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
)

// knobProcs is process control that keeps, like the local lab's state
// file, the flags each service runs with beyond its defaults
// (faults.KnobStatus), and whether it runs (faults.ProcessStatus).
type knobProcs struct {
	mu        sync.Mutex
	log       []string
	overrides map[string]map[string]string
	running   map[string]bool
	// restartErr, when set, fails every Restart with flags (a service that
	// refuses a flag); defaultsErr every Restart with the defaults.
	restartErr, defaultsErr error
}

func newKnobProcs() *knobProcs {
	p := &knobProcs{overrides: map[string]map[string]string{}, running: map[string]bool{}}
	for _, s := range startOrder() {
		p.running[s] = true
	}
	return p
}

func (p *knobProcs) Signal(_ context.Context, service string, sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, fmt.Sprintf("signal %s %s", service, sig))
	if !p.running[service] {
		return fmt.Errorf("%s is not running", service)
	}
	return nil
}

func (p *knobProcs) Restart(_ context.Context, service string, flags map[string]string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(flags) == 0 {
		p.log = append(p.log, "restart "+service+" (defaults)")
		if p.defaultsErr != nil {
			return p.defaultsErr
		}
		delete(p.overrides, service)
		p.running[service] = true
		return nil
	}
	p.log = append(p.log, "restart "+service+" "+faults.Knobs{Flags: flags}.FlagString())
	// Like the local lab: the old process is stopped and the new one is
	// recorded with its flags before it has to get ready.
	p.overrides[service] = maps.Clone(flags)
	if p.restartErr != nil {
		p.running[service] = false
		return p.restartErr
	}
	p.running[service] = true
	return nil
}

func (p *knobProcs) Overrides(service string) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.overrides[service])
}

func (p *knobProcs) Running(service string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running[service]
}

func (p *knobProcs) calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.log)
}

// plainProcs is process control that cannot tell what a service runs with.
type plainProcs struct{ p *knobProcs }

func (p plainProcs) Signal(ctx context.Context, service string, sig syscall.Signal) error {
	return p.p.Signal(ctx, service, sig)
}

func (p plainProcs) Restart(ctx context.Context, service string, flags map[string]string) error {
	return p.p.Restart(ctx, service, flags)
}

var noRetries = map[string]string{"retries": "false", "breaker": "false"}

func pendingKnobs(t *testing.T, l *faults.Ledger) []string {
	t.Helper()
	p, err := l.PendingKnobs()
	require.NoError(t, err)
	out := make([]string, 0, len(p))
	for _, k := range p {
		out = append(out, k.Summary())
	}
	return out
}

// events returns the ledger's records as "event id-prefix payload".
func events(t *testing.T, l *faults.Ledger) []string {
	t.Helper()
	recs, err := l.Records()
	require.NoError(t, err)
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		e := r.Event + " " + r.ID[:2]
		switch {
		case r.Knobs != nil:
			e += " knobs " + r.Knobs.Summary()
		case r.Fault != nil:
			e += " fault " + r.Fault.Summary()
		}
		out = append(out, e)
	}
	return out
}

// A knob change goes through the ledger like a fault: intent before the
// restart, applied after it, removed once the defaults are back.
func TestApplyRemoveKnobs(t *testing.T) {
	procs := newKnobProcs()
	in, ledger := newInjector(t, faults.Env{Services: startOrder(), Processes: procs})
	before := time.Now()
	k, err := in.ApplyKnobs(t.Context(), "run-1", "sc", svcStore, noRetries)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(k.ID, "k-"), k.ID)
	assert.Equal(t, "run-1", k.RunID)
	assert.Equal(t, "sc", k.Scenario)
	assert.Equal(t, noRetries, k.Flags)
	assert.False(t, k.AppliedAt.Before(before.Truncate(time.Microsecond)))
	assert.Equal(t, "store with -breaker=false -retries=false", k.Summary())
	assert.Equal(t, []string{"store with -breaker=false -retries=false"}, pendingKnobs(t, ledger))
	assert.Empty(t, pendingIDs(t, ledger), "knobs are no pending fault")
	assert.Equal(t, noRetries, procs.Overrides(svcStore))

	require.NoError(t, in.RemoveKnobs(t.Context(), k))
	assert.Empty(t, pendingKnobs(t, ledger))
	assert.Empty(t, procs.Overrides(svcStore))
	require.NoError(t, in.RemoveKnobs(t.Context(), k), "removing again")
	assert.Equal(t, []string{"restart store -breaker=false -retries=false", "restart store (defaults)"}, procs.calls(),
		"removing again restarts nothing")
	assert.Equal(t, []string{
		"intent k- knobs store with -breaker=false -retries=false",
		"applied k- knobs store with -breaker=false -retries=false",
		"removed k-",
	}, events(t, ledger))

	recs, err := ledger.Records()
	require.NoError(t, err)
	assert.True(t, recs[0].Knobs.AppliedAt.IsZero(), "the intent is recorded before the restart")
	assert.False(t, recs[1].Knobs.AppliedAt.IsZero())
}

func TestApplyKnobsFailure(t *testing.T) {
	t.Run("the restart fails: defaults restored, not pending", func(t *testing.T) {
		procs := newKnobProcs()
		procs.restartErr = errors.New("flag provided but not defined: -retries")
		in, ledger := newInjector(t, faults.Env{Services: startOrder(), Processes: procs})
		_, err := in.ApplyKnobs(t.Context(), "r", "sc", svcStore, noRetries)
		require.ErrorContains(t, err, "flag provided but not defined")
		assert.Empty(t, pendingKnobs(t, ledger))
		assert.Equal(t, []string{"restart store -breaker=false -retries=false", "restart store (defaults)"}, procs.calls())
		assert.True(t, procs.Running(svcStore))
		assert.Empty(t, procs.Overrides(svcStore))
	})
	t.Run("the defaults cannot be restored either: stays pending", func(t *testing.T) {
		procs := newKnobProcs()
		procs.restartErr = errors.New("not ready")
		procs.defaultsErr = errors.New("not ready either")
		in, ledger := newInjector(t, faults.Env{Services: startOrder(), Processes: procs})
		_, err := in.ApplyKnobs(t.Context(), "r", "sc", svcStore, noRetries)
		require.ErrorContains(t, err, "chaoslab clean")
		assert.Equal(t, []string{"store with -breaker=false -retries=false"}, pendingKnobs(t, ledger))
	})
	for _, tt := range []struct {
		name    string
		env     faults.Env
		service string
		flags   map[string]string
		want    string
	}{
		{"unknown service", faults.Env{Services: startOrder(), Processes: newKnobProcs()}, "shipping", noRetries, `unknown service "shipping"`},
		{"no flags", faults.Env{Services: startOrder(), Processes: newKnobProcs()}, svcStore, nil, "no flags"},
		{"a dash in the name", faults.Env{Services: startOrder(), Processes: newKnobProcs()}, svcStore, map[string]string{"-retries": "false"}, "invalid flag name"},
		{"no process control", faults.Env{Services: startOrder()}, svcStore, noRetries, "no process control"},
	} {
		t.Run(tt.name+": nothing recorded", func(t *testing.T) {
			in, ledger := newInjector(t, tt.env)
			_, err := in.ApplyKnobs(t.Context(), "r", "sc", tt.service, tt.flags)
			require.ErrorContains(t, err, tt.want)
			recs, err := ledger.Records()
			require.NoError(t, err)
			assert.Empty(t, recs)
		})
	}
}

// TestRollbackRestoresKnobs: a run restarted services with knobs, applied a
// fault and crashed; the rollback removes the fault, then restores each
// service's defaults, and says whose knobs they were.
func TestRollbackRestoresKnobs(t *testing.T) {
	procs := newKnobProcs()
	env := faults.Env{Services: startOrder(), Processes: procs}
	path := faults.LedgerPath(t.TempDir())
	l1, err := faults.OpenLedger(path)
	require.NoError(t, err)
	in1 := faults.NewInjector(env, l1)
	ko, err := in1.ApplyKnobs(t.Context(), "run-crashed", "no-retries", svcStore, noRetries)
	require.NoError(t, err)
	kg, err := in1.ApplyKnobs(t.Context(), "run-crashed", "no-retries", svcAPI, map[string]string{"rate-limit": "5"})
	require.NoError(t, err)
	a, err := in1.Apply(t.Context(), "run-crashed", "no-retries", "fault", procFault(svcStore, faults.ActionPause, 0))
	require.NoError(t, err)
	require.NoError(t, l1.Close())

	l2, err := faults.OpenLedger(path)
	require.NoError(t, err)
	t.Cleanup(func() { l2.Close() })
	pk, err := l2.PendingKnobs()
	require.NoError(t, err)
	for i := range pk {
		pk[i].AppliedAt = pk[i].AppliedAt.Round(0)
	}
	ko.AppliedAt, kg.AppliedAt = ko.AppliedAt.Round(0), kg.AppliedAt.Round(0)
	require.Equal(t, []faults.Knobs{ko, kg}, pk, "the ledger holds the knobs as applied")

	start := len(procs.calls())
	rb, err := faults.NewInjector(env, l2).RollbackPending(t.Context())
	require.NoError(t, err)
	require.Len(t, rb.Faults, 1)
	assert.Equal(t, a.ID, rb.Faults[0].ID)
	require.Len(t, rb.Knobs, 2)
	assert.Equal(t, []string{kg.ID, ko.ID}, []string{rb.Knobs[0].ID, rb.Knobs[1].ID}, "newest first")
	assert.Equal(t, "run-crashed", rb.Knobs[1].RunID)
	assert.Equal(t, "no-retries", rb.Knobs[1].Scenario)
	assert.Equal(t, noRetries, rb.Knobs[1].Flags)
	assert.Equal(t, []string{
		"signal store continued",
		"restart api (defaults)",
		"restart store (defaults)",
	}, procs.calls()[start:], "the fault first (a paused service is resumed before its restart), then the knobs; the sweep finds nothing left")
	assert.Empty(t, pendingKnobs(t, l2))
	assert.Empty(t, pendingIDs(t, l2))

	again, err := faults.NewInjector(env, l2).RollbackPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, faults.Rollback{}, again, "nothing left to roll back")
}

// TestRollbackKnobsCrashBeforeRestart: a runner killed after recording the
// intent of its knobs, before or in the middle of the restart, leaves a
// service whose flags nobody knows: the rollback restarts it with its
// defaults whether it runs or not.
func TestRollbackKnobsCrashBeforeRestart(t *testing.T) {
	for _, tt := range []struct {
		name    string
		running bool
	}{
		{"before the restart: it runs with its defaults", true},
		{"in the middle of the restart: it was stopped", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			procs := newKnobProcs()
			procs.running[svcStore] = tt.running
			path := faults.LedgerPath(t.TempDir())
			k := faults.Knobs{ID: "k-1-1", RunID: "run-crashed", Scenario: "sc", Service: svcStore, Flags: noRetries}
			b, err := json.Marshal(faults.Record{Event: faults.EventIntent, At: time.Now(), ID: k.ID, Knobs: &k})
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, append(b, '\n'), 0o644))
			l, err := faults.OpenLedger(path)
			require.NoError(t, err)
			t.Cleanup(func() { l.Close() })

			rb, err := faults.NewInjector(faults.Env{Services: startOrder(), Processes: procs}, l).RollbackPending(t.Context())
			require.NoError(t, err)
			assert.Empty(t, rb.Faults)
			require.Len(t, rb.Knobs, 1)
			assert.Equal(t, k, rb.Knobs[0])
			assert.True(t, rb.Knobs[0].AppliedAt.IsZero(), "only intended")
			assert.Equal(t, []string{"restart store (defaults)"}, procs.calls())
			assert.True(t, procs.Running(svcStore))
			assert.Empty(t, pendingKnobs(t, l))
		})
	}
}

// Older knobs of a service whose newer ones were just restored cost no
// second restart.
func TestRollbackKnobsOneRestartPerService(t *testing.T) {
	procs := newKnobProcs()
	in, ledger := newInjector(t, faults.Env{Services: startOrder(), Processes: procs})
	_, err := in.ApplyKnobs(t.Context(), "run-1", "a", svcStore, map[string]string{"retries": "false"})
	require.NoError(t, err)
	_, err = in.ApplyKnobs(t.Context(), "run-1", "b", svcStore, noRetries)
	require.NoError(t, err)
	start := len(procs.calls())

	rb, err := faults.NewInjector(faults.Env{Services: startOrder(), Processes: procs}, ledger).RollbackPending(t.Context())
	require.NoError(t, err)
	require.Len(t, rb.Knobs, 2)
	assert.Equal(t, "b", rb.Knobs[0].Scenario)
	assert.Equal(t, "a", rb.Knobs[1].Scenario)
	assert.Equal(t, []string{"restart store (defaults)"}, procs.calls()[start:])
	assert.Empty(t, pendingKnobs(t, ledger))
}

func TestRollbackKnobsFailure(t *testing.T) {
	procs := newKnobProcs()
	in, ledger := newInjector(t, faults.Env{Services: startOrder(), Processes: procs})
	_, err := in.ApplyKnobs(t.Context(), "run-1", "sc", svcStore, noRetries)
	require.NoError(t, err)
	procs.defaultsErr = errors.New("store: not ready after 30s")

	rb, err := faults.NewInjector(faults.Env{Services: startOrder(), Processes: procs}, ledger).RollbackPending(t.Context())
	require.ErrorContains(t, err, "restoring the defaults of store: store: not ready after 30s")
	assert.Empty(t, rb.Knobs)
	assert.Equal(t, []string{"store with -breaker=false -retries=false"}, pendingKnobs(t, ledger), "stays pending: clean again")

	procs.defaultsErr = nil
	rb, err = faults.NewInjector(faults.Env{Services: startOrder(), Processes: procs}, ledger).RollbackPending(t.Context())
	require.NoError(t, err)
	assert.Len(t, rb.Knobs, 1)
	assert.Empty(t, pendingKnobs(t, ledger))
}

// TestRollbackSweepsKnobs: a service that runs with overrides the ledger
// does not know of (a lost ledger, a runner older than knob records) is
// restarted with its defaults; services with their defaults are left
// alone, and so is a lab that cannot tell.
func TestRollbackSweepsKnobs(t *testing.T) {
	procs := newKnobProcs()
	procs.overrides[svcStore] = maps.Clone(noRetries)
	in, ledger := newInjector(t, faults.Env{Services: startOrder(), Processes: procs})
	rb, err := in.RollbackPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, faults.Rollback{Knobs: []faults.Knobs{{Service: svcStore, Flags: noRetries}}}, rb)
	assert.Equal(t, []string{"restart store (defaults)"}, procs.calls())
	assert.Empty(t, procs.Overrides(svcStore))
	recs, err := ledger.Records()
	require.NoError(t, err)
	assert.Empty(t, recs, "the sweep records nothing")

	t.Run("a lab that cannot tell", func(t *testing.T) {
		procs := newKnobProcs()
		procs.overrides[svcStore] = maps.Clone(noRetries)
		in, _ := newInjector(t, faults.Env{Services: startOrder(), Processes: plainProcs{procs}})
		rb, err := in.RollbackPending(t.Context())
		require.NoError(t, err)
		assert.Equal(t, faults.Rollback{}, rb)
		assert.Empty(t, procs.calls())
	})
	t.Run("a restart that fails is an error", func(t *testing.T) {
		procs := newKnobProcs()
		procs.overrides[svcLedger] = map[string]string{"fail-rate": "0.5"}
		procs.defaultsErr = errors.New("exited during start")
		in, _ := newInjector(t, faults.Env{Services: startOrder(), Processes: procs})
		_, err := in.RollbackPending(t.Context())
		require.ErrorContains(t, err, "restoring the defaults of ledger (it runs with -fail-rate=0.5): exited during start")
	})
}

// Knob records and fault records share the ledger without mixing: an older
// ledger (faults only) reads the same, and a knob record is no fault.
func TestLedgerKeepsKnobsApartFromFaults(t *testing.T) {
	procs := newKnobProcs()
	in, ledger := newInjector(t, faults.Env{Services: startOrder(), Processes: procs})
	a, err := in.Apply(t.Context(), "r", "sc", "fault", procFault(svcLedger, faults.ActionPause, 0))
	require.NoError(t, err)
	k, err := in.ApplyKnobs(t.Context(), "r", "sc", svcStore, noRetries)
	require.NoError(t, err)
	assert.Equal(t, []string{a.ID}, pendingIDs(t, ledger))
	assert.Equal(t, []string{k.Summary()}, pendingKnobs(t, ledger))
	require.NoError(t, in.Remove(t.Context(), a))
	assert.Empty(t, pendingIDs(t, ledger))
	assert.Equal(t, []string{k.Summary()}, pendingKnobs(t, ledger))
	assert.Equal(t, []string{
		"intent f- fault process pause on ledger",
		"applied f- fault process pause on ledger",
		"intent k- knobs store with -breaker=false -retries=false",
		"applied k- knobs store with -breaker=false -retries=false",
		"removed f-",
	}, events(t, ledger))
}

// A process fault does not switch a scenario's knobs back: a killed or
// restarted service comes back with the flags it ran with.
func TestProcessFaultsKeepTheKnobs(t *testing.T) {
	tests := []struct {
		name  string
		fault faults.ProcessFault
	}{
		{"kill, restarted after a delay", faults.ProcessFault{Service: svcStore, Action: faults.ActionKill, RestartAfter: 10 * time.Millisecond}},
		{"kill, restarted at the end of the phase", faults.ProcessFault{Service: svcStore, Action: faults.ActionKill}},
		{"restart", faults.ProcessFault{Service: svcStore, Action: faults.ActionRestart}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			procs := newKnobProcs()
			in, _ := newInjector(t, faults.Env{Services: startOrder(), Processes: procs})
			_, err := in.ApplyKnobs(t.Context(), "run-1", "sc", svcStore, noRetries)
			require.NoError(t, err)
			f := tt.fault
			a, err := in.Apply(t.Context(), "run-1", "sc", "kill", faults.Spec{Process: &f})
			require.NoError(t, err)
			time.Sleep(30 * time.Millisecond)
			require.NoError(t, in.Remove(t.Context(), a))
			calls := procs.calls()
			assert.Equal(t, "restart store -breaker=false -retries=false", calls[len(calls)-1], "%v", calls)
			assert.Equal(t, noRetries, procs.Overrides(svcStore))
		})
	}
}
