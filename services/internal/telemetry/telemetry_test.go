package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestLoggerCarriesServiceAndTraceIDs(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	var logs bytes.Buffer
	tel, err := New(t.Context(), Config{Service: "orders", SpanExporter: exp}, &logs)
	require.NoError(t, err)

	ctx, span := tel.TracerProvider.Tracer("test").Start(t.Context(), "op")
	tel.Logger.InfoContext(ctx, "inside")
	span.End()
	tel.Logger.InfoContext(t.Context(), "outside")

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 2)
	var inside, outside map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &inside))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &outside))

	assert.Equal(t, "orders", inside["service"])
	assert.Equal(t, span.SpanContext().TraceID().String(), inside["trace_id"])
	assert.Equal(t, span.SpanContext().SpanID().String(), inside["span_id"])
	assert.Equal(t, "orders", outside["service"])
	assert.NotContains(t, outside, "trace_id")

	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	assert.Equal(t, "orders", attr(spans[0].Resource.Attributes(), "service.name"))
}

func attr(attrs []attribute.KeyValue, key attribute.Key) string {
	for _, a := range attrs {
		if a.Key == key {
			return a.Value.AsString()
		}
	}
	return ""
}

func TestInstanceIsTheServiceInstanceID(t *testing.T) {
	tests := []struct {
		name     string
		instance string
		want     string
	}{
		{name: "given", instance: "inventory-2", want: "inventory-2"},
		{name: "defaults to the service name", want: "inventory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tel, err := New(t.Context(), Config{Service: "inventory", Instance: tt.instance, SpanExporter: exp}, &bytes.Buffer{})
			require.NoError(t, err)
			assert.Equal(t, tt.want, tel.Instance)
			_, span := tel.TracerProvider.Tracer("test").Start(t.Context(), "op")
			span.End()
			spans := exp.GetSpans()
			require.Len(t, spans, 1)
			assert.Equal(t, tt.want, attr(spans[0].Resource.Attributes(), "service.instance.id"))
		})
	}
}

func TestRegistryLabelsEveryMetricWithService(t *testing.T) {
	tel, err := New(t.Context(), Config{Service: "payments", Disabled: true}, &bytes.Buffer{})
	require.NoError(t, err)
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "chaoslab_test_total", Help: "test"})
	require.NoError(t, tel.Registerer.Register(c))
	c.Inc()

	mfs, err := tel.Registry.Gather()
	require.NoError(t, err)
	var sawRuntime, sawOwn bool
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var svc string
			for _, l := range m.GetLabel() {
				if l.GetName() == "service" {
					svc = l.GetValue()
				}
			}
			assert.Equal(t, "payments", svc, "metric %s lacks the service label", mf.GetName())
		}
		switch mf.GetName() {
		case "go_goroutines":
			sawRuntime = true
		case "chaoslab_test_total":
			sawOwn = true
		}
	}
	assert.True(t, sawRuntime, "Go runtime metrics are registered")
	assert.True(t, sawOwn)
	assert.False(t, tel.Instrument)
}

// A service must start and shut down promptly when no collector listens.
func TestRunsWithoutCollector(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now

	tel, err := New(t.Context(), Config{Service: "gateway", OTLPEndpoint: addr}, &bytes.Buffer{})
	require.NoError(t, err)
	_, span := tel.TracerProvider.Tracer("test").Start(t.Context(), "op")
	span.End()

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_ = tel.Shutdown(ctx) // the export may fail; it must not hang
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestNewRejectsEmptyService(t *testing.T) {
	_, err := New(t.Context(), Config{}, &bytes.Buffer{})
	require.Error(t, err)
}

func TestLoggerLevel(t *testing.T) {
	var buf bytes.Buffer
	l := NewLogger(&buf, "x", slog.LevelWarn)
	l.Info("hidden")
	l.Warn("shown")
	assert.NotContains(t, buf.String(), "hidden")
	assert.Contains(t, buf.String(), "shown")
}
