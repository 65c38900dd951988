// Package telemetry sets up what every bookings service reports: a JSON
// logger, an OpenTelemetry tracer provider exporting over OTLP gRPC, and a
// Prometheus registry whose series all carry the label component=<service>.
package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// LatencyBuckets are the bounds of every latency histogram, in seconds:
// they include the SLO thresholds of slos.yaml (0.25 s and 0.5 s).
var LatencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// NewLogger returns a JSON logger for service, writing to w.
func NewLogger(w io.Writer, service string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil)).With("service", service)
}

// Metrics is one process's registry. Register adds collectors whose series
// carry component=<service>; Handler serves them.
type Metrics struct {
	reg *prometheus.Registry
	// Registerer registers collectors with the component label.
	Registerer prometheus.Registerer
}

// NewMetrics returns a registry holding the Go and process collectors, with
// every series labelled component=service.
func NewMetrics(service string) *Metrics {
	reg := prometheus.NewRegistry()
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"component": service}, reg)
	wrapped.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Metrics{reg: reg, Registerer: wrapped}
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Gatherer is the registry, for tests.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// NewTracerProvider returns a tracer provider for service that exports its
// spans over OTLP gRPC (insecure) to endpoint, host:port. With an empty
// endpoint the spans are recorded and dropped: the service runs without a
// collector. Shut it down to flush the spans.
func NewTracerProvider(ctx context.Context, service, endpoint string) (*sdktrace.TracerProvider, error) {
	res := resource.NewSchemaless(attribute.String("service.name", service))
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if endpoint != "" {
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
		if err != nil {
			return nil, fmt.Errorf("creating the OTLP exporter for %s: %w", endpoint, err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(500*time.Millisecond)))
	}
	return sdktrace.NewTracerProvider(opts...), nil
}

// Propagator is the W3C trace context and baggage, which every service
// reads and writes.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// LogAttrs returns the trace and span ids of ctx's span, for a log line.
func LogAttrs(ctx context.Context) []any {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return nil
	}
	return []any{"trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String()}
}
