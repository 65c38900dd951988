package telemetry

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
)

func TestRegisterSharesOneCollectorPerDescriptor(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "chaoslab_shared_total", Help: "h"}
	a := Register(reg, prometheus.NewCounterVec(opts, []string{"target"}))
	b := Register(reg, prometheus.NewCounterVec(opts, []string{"target"}))
	assert.Same(t, a, b, "the second registration returns the first collector")

	unregistered := prometheus.NewCounter(opts)
	assert.Same(t, unregistered, Register[prometheus.Counter](nil, unregistered), "nil registerer: returned as is")

	assert.Panics(t, func() {
		Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chaoslab_shared_total", Help: "other"}, []string{"x"}))
	}, "a clashing definition is a programming error")
}
