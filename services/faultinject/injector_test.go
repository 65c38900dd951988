package faultinject_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chaoslab/chaoslab/services/faultinject"
)

// metricValue returns the value of the counter or gauge family name whose
// labels include want, 0 when there is none.
func metricValue(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := want[lp.GetName()]; ok && v != lp.GetValue() {
					continue metrics
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// invoke calls the interceptor of in for method and reports whether the
// handler ran, the error, and how long it took.
func invoke(ctx context.Context, in *faultinject.Injector, method string) (bool, error, time.Duration) {
	called := false
	start := time.Now()
	_, err := in.UnaryServerInterceptor()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method},
		func(context.Context, any) (any, error) {
			called = true
			return "ok", nil
		})
	return called, err, time.Since(start)
}

func TestUnaryInterceptorKinds(t *testing.T) {
	// Long enough that an undelayed call under -race on a busy 2-core
	// machine stays well below it.
	const delay = 250 * time.Millisecond
	tests := []struct {
		name       string
		faults     []faultinject.Fault
		method     string
		wantCalled bool
		wantCode   codes.Code
		wantMsg    string
		wantDelay  bool
		wantKinds  []string
	}{
		{name: "no fault", method: charge, wantCalled: true},
		{
			name:   "latency",
			faults: []faultinject.Fault{{Method: charge, Latency: faultinject.Duration(delay)}},
			method: charge, wantCalled: true, wantDelay: true, wantKinds: []string{"latency"},
		},
		{
			name:   "error",
			faults: []faultinject.Fault{{Method: charge, GRPCCode: "unavailable"}},
			method: charge, wantCode: codes.Unavailable, wantMsg: "injected fault f-1", wantKinds: []string{"error"},
		},
		{
			name:   "latency then error",
			faults: []faultinject.Fault{{Method: charge, Latency: faultinject.Duration(delay), GRPCCode: "RESOURCE_EXHAUSTED"}},
			method: charge, wantCode: codes.ResourceExhausted, wantDelay: true, wantKinds: []string{"latency", "error"},
		},
		{
			name:   "abort on an untracked connection",
			faults: []faultinject.Fault{{Method: charge, Abort: true}},
			method: charge, wantCode: codes.Unavailable, wantMsg: "aborted", wantKinds: []string{"abort"},
		},
		{
			name:   "fault on another method",
			faults: []faultinject.Fault{{Method: refund, GRPCCode: "INTERNAL"}},
			method: charge, wantCalled: true,
		},
		{
			name:   "wildcard",
			faults: []faultinject.Fault{{Method: "*", GRPCCode: "INTERNAL"}},
			method: refund, wantCode: codes.Internal, wantKinds: []string{"error"},
		},
		{
			name:   "the method's fault before the wildcard",
			faults: []faultinject.Fault{{Method: "*", GRPCCode: "INTERNAL"}, {Method: charge, GRPCCode: "DATA_LOSS"}},
			method: charge, wantCode: codes.DataLoss, wantKinds: []string{"error"},
		},
		{
			name:   "an HTTP-only wildcard leaves gRPC alone",
			faults: []faultinject.Fault{{Method: "*", HTTPStatus: 503}},
			method: charge, wantCalled: true,
		},
		{
			name:   "an HTTP route never matches a gRPC method",
			faults: []faultinject.Fault{{Method: "POST /v1/orders", Latency: faultinject.Duration(time.Hour)}},
			method: charge, wantCalled: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			in := faultinject.NewInjector(reg, nil)
			for _, f := range tt.faults {
				_, err := in.Set(f)
				require.NoError(t, err)
			}
			called, err, took := invoke(t.Context(), in, tt.method)
			assert.Equal(t, tt.wantCalled, called, "handler called")
			assert.Equal(t, tt.wantCode, status.Code(err), "%v", err)
			if tt.wantMsg != "" {
				assert.Equal(t, tt.wantMsg, status.Convert(err).Message())
			}
			if tt.wantDelay {
				assert.GreaterOrEqual(t, took, delay)
			} else {
				assert.Less(t, took, delay)
			}
			for _, kind := range []string{"latency", "error", "abort"} {
				want := 0.0
				for _, k := range tt.wantKinds {
					if k == kind {
						want = 1
					}
				}
				assert.Equal(t, want, metricValue(t, reg, "chaoslab_faults_injected_total",
					map[string]string{"method": tt.method, "kind": kind}), kind)
			}
		})
	}
}

func TestLatencyWaitsOnContext(t *testing.T) {
	in := faultinject.NewInjector(nil, nil)
	_, err := in.Set(faultinject.Fault{Method: charge, Latency: faultinject.Duration(time.Hour)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	called, err, took := invoke(ctx, in, charge)
	assert.False(t, called)
	assert.Equal(t, codes.DeadlineExceeded, status.Code(err))
	assert.Less(t, took, 10*time.Second)
}

func TestProbability(t *testing.T) {
	const calls = 2000
	for _, p := range []float64{0.1, 0.5, 0.9} {
		t.Run(fmt.Sprintf("p=%g", p), func(t *testing.T) {
			in := faultinject.NewInjector(nil, nil, faultinject.WithRand(rand.New(rand.NewPCG(1, uint64(p*10)))))
			_, err := in.Set(faultinject.Fault{Method: charge, GRPCCode: "UNAVAILABLE", Probability: p})
			require.NoError(t, err)
			failed := 0
			for range calls {
				if _, err, _ := invoke(t.Context(), in, charge); err != nil {
					failed++
				}
			}
			mean := calls * p
			tolerance := 5 * math.Sqrt(calls*p*(1-p))
			assert.InDelta(t, mean, failed, tolerance, "p=%g", p)
		})
	}
	t.Run("same seed, same draws", func(t *testing.T) {
		run := func() []bool {
			in := faultinject.NewInjector(nil, nil, faultinject.WithRand(rand.New(rand.NewPCG(7, 7))))
			_, err := in.Set(faultinject.Fault{Method: "*", GRPCCode: "UNAVAILABLE", Probability: 0.5})
			require.NoError(t, err)
			var got []bool
			for range 50 {
				_, err, _ := invoke(t.Context(), in, charge)
				got = append(got, err != nil)
			}
			return got
		}
		assert.Equal(t, run(), run())
	})
	// A fault's own seed decides its draws whatever the injector's source:
	// two injectors drawing from different sources give the same sequence.
	t.Run("the fault's seed, not the injector's source", func(t *testing.T) {
		run := func(source, seed uint64) []bool {
			in := faultinject.NewInjector(nil, nil, faultinject.WithRand(rand.New(rand.NewPCG(source, source))))
			_, err := in.Set(faultinject.Fault{Method: "*", GRPCCode: "UNAVAILABLE", Probability: 0.5, Seed: seed})
			require.NoError(t, err)
			var got []bool
			for range 64 {
				_, err, _ := invoke(t.Context(), in, charge)
				got = append(got, err != nil)
			}
			return got
		}
		assert.Equal(t, run(1, 42), run(2, 42), "same seed, different sources")
		assert.NotEqual(t, run(1, 42), run(1, 43), "another seed draws otherwise")
		assert.NotEqual(t, run(1, 0), run(2, 0), "no seed: the injector's source decides")
	})
}

func TestSetDeleteClearList(t *testing.T) {
	reg := prometheus.NewRegistry()
	in := faultinject.NewInjector(reg, nil)
	active := func() float64 { return metricValue(t, reg, "chaoslab_fault_rules_active", nil) }

	f1, err := in.Set(faultinject.Fault{Method: charge, GRPCCode: "unavailable"})
	require.NoError(t, err)
	assert.Equal(t, faultinject.Fault{ID: "f-1", Method: charge, GRPCCode: "UNAVAILABLE"}, f1)
	_, err = in.Set(faultinject.Fault{ID: "f-2", Method: refund, Abort: true})
	require.NoError(t, err)
	f3, err := in.Set(faultinject.Fault{Method: "*", Latency: ms(1)})
	require.NoError(t, err)
	assert.Equal(t, "f-3", f3.ID, "f-2 is taken")
	assert.Equal(t, 3.0, active())

	// Replacing keeps the position.
	_, err = in.Set(faultinject.Fault{ID: "f-1", Method: charge, Latency: ms(5)})
	require.NoError(t, err)
	list := in.List()
	require.Len(t, list, 3)
	assert.Equal(t, []string{"f-1", "f-2", "f-3"}, []string{list[0].ID, list[1].ID, list[2].ID})
	assert.Equal(t, ms(5), list[0].Latency)
	assert.Empty(t, list[0].GRPCCode)

	// An invalid fault changes nothing.
	_, err = in.Set(faultinject.Fault{ID: "f-1", Method: charge})
	require.Error(t, err)
	assert.Equal(t, ms(5), in.List()[0].Latency)

	list[0].Method = "mutated" // List returns a copy
	assert.Equal(t, charge, in.List()[0].Method)

	assert.True(t, in.Delete("f-2"))
	assert.False(t, in.Delete("f-2"))
	assert.Equal(t, 2.0, active())
	in.Clear()
	assert.Empty(t, in.List())
	assert.Equal(t, 0.0, active())
	called, err, _ := invoke(t.Context(), in, charge)
	assert.True(t, called)
	require.NoError(t, err)
}

func TestInjectedFaultMarksTheSpan(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	in := faultinject.NewInjector(nil, nil)
	_, err := in.Set(faultinject.Fault{ID: "slow-fail", Method: charge, Latency: ms(1), GRPCCode: "INTERNAL"})
	require.NoError(t, err)

	ctx, span := tp.Tracer("test").Start(t.Context(), "server")
	_, err, _ = invoke(ctx, in, charge)
	span.End()
	require.Error(t, err)

	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	var kinds []string
	for _, ev := range spans[0].Events {
		require.Equal(t, "fault.injected", ev.Name)
		attrs := attribute.NewSet(ev.Attributes...)
		id, _ := attrs.Value("fault.id")
		kind, _ := attrs.Value("fault.kind")
		assert.Equal(t, "slow-fail", id.AsString())
		kinds = append(kinds, kind.AsString())
	}
	assert.Equal(t, []string{"latency", "error"}, kinds)
}
