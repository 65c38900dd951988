package faultwindows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
)

// knobsInjector is a fakeInjector that restarts services with knobs.
type knobsInjector struct {
	fakeInjector
	applied, removed []string
}

func (k *knobsInjector) ApplyKnobs(_ context.Context, runID, scenario, service string, flags map[string]string) (faults.Knobs, error) {
	k.applied = append(k.applied, service)
	return faults.Knobs{ID: "k-1", RunID: runID, Scenario: scenario, Service: service, Flags: flags}, nil
}

func (k *knobsInjector) RemoveKnobs(_ context.Context, kn faults.Knobs) error {
	k.removed = append(k.removed, kn.Service)
	return nil
}

// recordingSink counts the windows it is told of.
type recordingSink struct{ opened, closed int }

func (s *recordingSink) Opened(context.Context, faults.Applied)            { s.opened++ }
func (s *recordingSink) Closed(context.Context, faults.Applied, time.Time) { s.closed++ }

// Knobs pass through to the wrapped injector (its ledger) and open no
// fault window.
func TestKnobsPassThrough(t *testing.T) {
	next, sink := &knobsInjector{}, &recordingSink{}
	in := Wrap(next, sink)
	k, err := in.ApplyKnobs(t.Context(), "r1", "sc", "orders", map[string]string{"retries": "false"})
	require.NoError(t, err)
	assert.Equal(t, "k-1", k.ID)
	require.NoError(t, in.RemoveKnobs(t.Context(), k))
	assert.Equal(t, []string{"orders"}, next.applied)
	assert.Equal(t, []string{"orders"}, next.removed)
	assert.Zero(t, sink.opened+sink.closed)

	plain := Wrap(&fakeInjector{})
	_, err = plain.ApplyKnobs(t.Context(), "r1", "sc", "orders", map[string]string{"retries": "false"})
	require.ErrorContains(t, err, "cannot restart services")
	require.ErrorContains(t, plain.RemoveKnobs(t.Context(), k), "cannot restart services")
}
