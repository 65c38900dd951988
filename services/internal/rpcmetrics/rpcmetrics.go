// Package rpcmetrics records RED metrics (rate, errors, duration) for the gRPC
// servers, the HTTP edge and the gRPC clients of the chaoslab shop.
//
// Every constructor takes the prometheus.Registerer to register with. Several
// instances may share one registerer: the collectors are registered once and
// later instances reuse the registered ones (see register). A nil registerer
// records into collectors that nobody gathers, which is handy in tests.
//
// Latency histograms use Buckets (classic buckets that contain the SLO
// thresholds of the lab) and are native histograms too, with a bucket factor
// of 1.1. Observations carry the trace id as an exemplar when the current span
// is sampled, so a latency spike in Prometheus links to a trace in Jaeger
// (exemplars are exposed only in the OpenMetrics format:
// promhttp.HandlerOpts{EnableOpenMetrics: true}).
package rpcmetrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// Buckets returns the classic histogram bucket upper bounds, in seconds, shared
// by every latency histogram of chaoslab. They include the SLO thresholds used
// by the scenarios (100ms, 250ms, 500ms, 1s).
func Buckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
}

// nativeBucketFactor is the growth factor of native histogram buckets.
const nativeBucketFactor = 1.1

// histogramOpts returns the options of a latency histogram named name.
func histogramOpts(name, help string) prometheus.HistogramOpts {
	return prometheus.HistogramOpts{
		Name:                        name,
		Help:                        help,
		Buckets:                     Buckets(),
		NativeHistogramBucketFactor: nativeBucketFactor,
	}
}

// observe records v on o, with the trace id of the span in ctx as an exemplar
// when that span is sampled.
func observe(ctx context.Context, o prometheus.Observer, v float64) {
	sc := trace.SpanContextFromContext(ctx)
	if eo, ok := o.(prometheus.ExemplarObserver); ok && sc.IsSampled() {
		eo.ObserveWithExemplar(v, prometheus.Labels{"trace_id": sc.TraceID().String()})
		return
	}
	o.Observe(v)
}
