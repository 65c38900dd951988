package faultwindows

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chaoslab/chaoslab/faults"
)

// MetricName is the gauge the dashboards' fault annotations query.
const MetricName = "chaoslab_fault_active"

// Gauge is the Sink behind chaoslab_fault_active.
type Gauge struct {
	active *prometheus.GaugeVec
}

// NewGauge registers chaoslab_fault_active with reg.
func NewGauge(reg prometheus.Registerer) (*Gauge, error) {
	g := &Gauge{active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: MetricName,
		Help: "1 while a fault the lab injected is in place (the series goes away when it is removed).",
	}, []string{"run_id", "scenario", "phase", "kind", "target", "fault"})}
	if err := reg.Register(g.active); err != nil {
		return nil, err
	}
	return g, nil
}

func labels(a faults.Applied) prometheus.Labels {
	return prometheus.Labels{
		"run_id": a.RunID, "scenario": a.Scenario, "phase": a.Phase,
		"kind": a.Spec.Kind(), "target": a.Spec.Target(), "fault": a.Spec.String(),
	}
}

// Opened sets the fault's series to 1.
func (g *Gauge) Opened(_ context.Context, a faults.Applied) { g.active.With(labels(a)).Set(1) }

// Closed deletes the fault's series.
func (g *Gauge) Closed(_ context.Context, a faults.Applied, _ time.Time) { g.active.Delete(labels(a)) }
