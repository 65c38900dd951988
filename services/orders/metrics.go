package orders

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Label values of the saga metrics.
const (
	outcomeConfirmed = "confirmed"
	outcomeFailed    = "failed"
	stepRelease      = "release"
	stepRefund       = "refund"
	resultOK         = "ok"
	resultError      = "error"

	refusedTooLittleTime = "too_little_time"
)

// metrics are the saga's Prometheus collectors.
type metrics struct {
	// outcomes counts sagas that reached a final state.
	outcomes *prometheus.CounterVec
	// compensations counts compensating steps by their result after retries.
	compensations *prometheus.CounterVec
	// recovered counts PENDING orders resumed to a final state.
	recovered prometheus.Counter
	// commits counts the best-effort reservation commits after confirmation.
	commits *prometheus.CounterVec
	// refused counts new orders refused before anything was recorded.
	refused *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_saga_outcomes_total",
			Help: "Order sagas that reached a final state, by outcome (confirmed, failed) and failure reason.",
		}, []string{"outcome", "reason"}),
		compensations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_saga_compensations_total",
			Help: "Compensating steps of order sagas (release, refund) by result (ok, error) after retries.",
		}, []string{"step", "result"}),
		recovered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chaoslab_saga_recovered_total",
			Help: "Pending orders (crash leftovers, unfinished compensations) resumed to a final state.",
		}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_saga_commits_total",
			Help: "Best-effort commits of the reservation of a confirmed order, by result (ok, error).",
		}, []string{"result"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_saga_refused_total",
			Help: "New orders refused before anything was recorded, by reason (too_little_time: the request's deadline left less than -min-deadline).",
		}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{m.outcomes, m.compensations, m.recovered, m.commits, m.refused} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering saga metrics: %w", err)
		}
	}
	// Start every known series at zero so that rates and alerts see them.
	m.outcomes.WithLabelValues(outcomeConfirmed, "")
	for _, r := range []string{ReasonOutOfStock, ReasonUnknownProduct, ReasonPaymentDeclined,
		ReasonDependencyUnavailable, ReasonDeadlineExceeded, ReasonInternal} {
		m.outcomes.WithLabelValues(outcomeFailed, r)
	}
	for _, step := range []string{stepRelease, stepRefund} {
		for _, res := range []string{resultOK, resultError} {
			m.compensations.WithLabelValues(step, res)
		}
	}
	m.commits.WithLabelValues(resultOK)
	m.commits.WithLabelValues(resultError)
	m.refused.WithLabelValues(refusedTooLittleTime)
	return m, nil
}
