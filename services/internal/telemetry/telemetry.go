// Package telemetry sets up what every service of the shop reports: a JSON
// slog logger that carries service, trace_id and span_id; an OpenTelemetry
// tracer provider exporting over OTLP/gRPC; and one Prometheus registry per
// process with Go runtime and process metrics.
//
// Nothing here touches OpenTelemetry's or Prometheus' global state: the
// returned Telemetry is passed explicitly to whatever needs it.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config says how a service reports.
type Config struct {
	// Service is the service name: the service.name resource attribute, the
	// "service" label on every metric and the "service" field of every log line.
	Service string
	// Instance names this replica of the service: the service.instance.id
	// resource attribute of its spans (and its registry key, package
	// discovery). Empty: the service name.
	Instance string
	// OTLPEndpoint is the host:port of an OTLP/gRPC collector (Jaeger listens
	// on 4317). Empty: spans are created (log lines still carry trace ids) but
	// not exported. A collector that is not listening is not an error: spans
	// are dropped and the service runs on.
	OTLPEndpoint string
	// SpanExporter, when set, replaces the OTLP exporter and is fed
	// synchronously; tests pass an in-memory exporter here.
	SpanExporter sdktrace.SpanExporter
	// SampleRatio is the fraction of new traces that are sampled (parent-based
	// otherwise). Zero means 1.
	SampleRatio float64
	// Disabled turns tracing and request metrics off (the "uninstrumented"
	// baseline of the benchmarks): a no-op tracer provider, and callers are
	// expected to skip their metrics middleware. Logs stay on.
	Disabled bool
	// LogLevel is the minimum level logged.
	LogLevel slog.Level
}

// Telemetry is what a service reports through. Create it with New and
// Shutdown it last, after the servers have stopped.
type Telemetry struct {
	// Service is the service name from Config.
	Service string
	// Instance is the replica's name from Config (the service name when
	// none was given).
	Instance string
	// Logger writes JSON lines with service, trace_id and span_id.
	Logger *slog.Logger
	// TracerProvider creates the service's spans.
	TracerProvider trace.TracerProvider
	// Propagator carries W3C trace context and baggage across REST and gRPC.
	Propagator propagation.TextMapPropagator
	// Registry is the process's Prometheus registry; serve it on /metrics.
	Registry *prometheus.Registry
	// Registerer registers on Registry with the constant label service=<Service>.
	Registerer prometheus.Registerer
	// Instrument is false when Config.Disabled was set.
	Instrument bool

	shutdown func(context.Context) error
}

// New builds the telemetry of one service. Logs go to logOut.
func New(ctx context.Context, cfg Config, logOut io.Writer) (*Telemetry, error) {
	if cfg.Service == "" {
		return nil, errors.New("telemetry: empty service name")
	}
	if cfg.Instance == "" {
		cfg.Instance = cfg.Service
	}
	logger := NewLogger(logOut, cfg.Service, cfg.LogLevel)
	reg := prometheus.NewRegistry()
	labelled := prometheus.WrapRegistererWith(prometheus.Labels{"service": cfg.Service}, reg)
	if err := labelled.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("telemetry: registering Go collector: %w", err)
	}
	if err := labelled.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("telemetry: registering process collector: %w", err)
	}
	t := &Telemetry{
		Service:    cfg.Service,
		Instance:   cfg.Instance,
		Logger:     logger,
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		Registry:   reg,
		Registerer: labelled,
		Instrument: !cfg.Disabled,
		shutdown:   func(context.Context) error { return nil },
	}
	if cfg.Disabled {
		t.TracerProvider = noop.NewTracerProvider()
		return t, nil
	}
	tp, err := newTracerProvider(ctx, cfg)
	if err != nil {
		return nil, err
	}
	t.TracerProvider = tp
	t.shutdown = tp.Shutdown
	return t, nil
}

func newTracerProvider(ctx context.Context, cfg Config) (*sdktrace.TracerProvider, error) {
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(cfg.Service),
		semconv.ServiceInstanceID(cfg.Instance),
		semconv.ServiceNamespace("chaoslab"),
	))
	if err != nil {
		return nil, fmt.Errorf("telemetry: building resource: %w", err)
	}
	ratio := cfg.SampleRatio
	if ratio <= 0 {
		ratio = 1
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	}
	switch {
	case cfg.SpanExporter != nil:
		opts = append(opts, sdktrace.WithSyncer(cfg.SpanExporter))
	case cfg.OTLPEndpoint != "":
		// The exporter connects lazily and drops spans while no collector
		// listens, so a service starts and runs without Jaeger.
		exp, err := otlptracegrpc.New(ctx,
			otlptracegrpc.WithEndpoint(cfg.OTLPEndpoint),
			otlptracegrpc.WithInsecure(),
			otlptracegrpc.WithTimeout(2*time.Second),
		)
		if err != nil {
			return nil, fmt.Errorf("telemetry: creating OTLP exporter for %s: %w", cfg.OTLPEndpoint, err)
		}
		// Batches of 100 ms: the shop's lab file promises its spans in
		// Jaeger within span_flush (1 s) of a request's end.
		opts = append(opts, sdktrace.WithBatcher(exp,
			sdktrace.WithBatchTimeout(100*time.Millisecond),
			sdktrace.WithMaxQueueSize(8192),
		))
	}
	return sdktrace.NewTracerProvider(opts...), nil
}

// Shutdown flushes pending spans. Call it after the servers have stopped;
// ctx bounds how long flushing may take.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if err := t.shutdown(ctx); err != nil {
		return fmt.Errorf("telemetry: flushing spans: %w", err)
	}
	return nil
}
