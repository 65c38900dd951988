// Package faultwindows publishes when each fault the lab injects is active,
// so that dashboards can shade fault windows on their time series:
//
//   - Gauge: chaoslab_fault_active{run_id,scenario,phase,kind,target,fault},
//     1 while the fault is in place; the series is deleted when the fault is
//     removed. The harness serves it on its metrics listener and the lab's
//     Prometheus scrapes it as job "chaoslab".
//   - Grafana: a region annotation per fault through Grafana's HTTP API, when
//     a Grafana URL is configured.
//
// Injector wraps the fault injector the runner uses and tells every Sink
// when a fault opens and closes; the runner does not know about it.
package faultwindows

import (
	"context"
	"fmt"
	"time"

	"github.com/chaoslab/chaoslab/faults"
)

// Sink is told when a fault window opens (the fault is in place) and closes
// (the fault is removed). Sinks are best effort: a sink that cannot publish
// reports it on its own and never fails the run.
type Sink interface {
	Opened(ctx context.Context, a faults.Applied)
	Closed(ctx context.Context, a faults.Applied, at time.Time)
}

// injector applies and removes faults (faults.Injector).
type injector interface {
	Apply(ctx context.Context, runID, scenario, phase string, s faults.Spec) (faults.Applied, error)
	Remove(ctx context.Context, a faults.Applied) error
}

// knobber restarts services with knobs and with their defaults again
// (faults.Injector).
type knobber interface {
	ApplyKnobs(ctx context.Context, runID, scenario, service string, flags map[string]string) (faults.Knobs, error)
	RemoveKnobs(ctx context.Context, k faults.Knobs) error
}

// Injector is an injector that reports fault windows to its sinks.
type Injector struct {
	next  injector
	sinks []Sink
	now   func() time.Time
}

// Wrap returns next reporting every fault it applies and removes to sinks.
func Wrap(next injector, sinks ...Sink) *Injector {
	return &Injector{next: next, sinks: sinks, now: time.Now}
}

// Apply applies the fault; once it is in place, the window opens.
func (in *Injector) Apply(ctx context.Context, runID, scenario, phase string, s faults.Spec) (faults.Applied, error) {
	a, err := in.next.Apply(ctx, runID, scenario, phase, s)
	if a.AppliedAt.IsZero() {
		return a, err
	}
	for _, sink := range in.sinks {
		sink.Opened(ctx, a)
	}
	return a, err
}

// Remove removes the fault; the window closes even when removing failed,
// since the harness has stopped owning it (`chaoslab clean` takes over).
func (in *Injector) Remove(ctx context.Context, a faults.Applied) error {
	err := in.next.Remove(ctx, a)
	at := in.now()
	for _, sink := range in.sinks {
		sink.Closed(ctx, a, at)
	}
	return err
}

// ApplyKnobs passes the knobs on to the wrapped injector: knobs hold for
// the whole run and are no fault window.
func (in *Injector) ApplyKnobs(ctx context.Context, runID, scenario, service string, flags map[string]string) (faults.Knobs, error) {
	k, ok := in.next.(knobber)
	if !ok {
		return faults.Knobs{}, fmt.Errorf("applying knobs to %s: the wrapped injector cannot restart services", service)
	}
	return k.ApplyKnobs(ctx, runID, scenario, service, flags)
}

// RemoveKnobs passes the removal on to the wrapped injector.
func (in *Injector) RemoveKnobs(ctx context.Context, k faults.Knobs) error {
	kn, ok := in.next.(knobber)
	if !ok {
		return fmt.Errorf("restoring the defaults of %s: the wrapped injector cannot restart services", k.Service)
	}
	return kn.RemoveKnobs(ctx, k)
}
