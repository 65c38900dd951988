package faultwindows

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
)

// fakeInjector applies every fault unless applyErr is set.
type fakeInjector struct {
	applyErr, removeErr error
	at                  time.Time
}

func (f *fakeInjector) Apply(_ context.Context, runID, scenario, phase string, s faults.Spec) (faults.Applied, error) {
	if f.applyErr != nil {
		return faults.Applied{}, f.applyErr
	}
	return faults.Applied{ID: "f-1", RunID: runID, Scenario: scenario, Phase: phase, Spec: s, AppliedAt: f.at}, nil
}

func (f *fakeInjector) Remove(context.Context, faults.Applied) error { return f.removeErr }

var latency = faults.Spec{Network: &faults.NetworkFault{Edge: "orders->payments", Toxic: faults.ToxicLatency,
	Stream: "downstream", Toxicity: 1, Attributes: map[string]int64{"latency": 200}}}

const activeSeries = `
# HELP chaoslab_fault_active 1 while a fault the lab injected is in place (the series goes away when it is removed).
# TYPE chaoslab_fault_active gauge
chaoslab_fault_active{fault="%s",kind="network",phase="fault",run_id="r1",scenario="latency-payments",target="orders->payments"} 1
`

func TestGaugeFollowsTheFaultWindow(t *testing.T) {
	tests := []struct {
		name       string
		inj        *fakeInjector
		wantApply  bool
		wantRemove error
	}{
		{name: "applied then removed", inj: &fakeInjector{at: time.Unix(100, 0)}, wantApply: true},
		{name: "apply failed: no window", inj: &fakeInjector{applyErr: errors.New("toxiproxy down")}},
		{name: "remove failed: the window closes all the same", inj: &fakeInjector{at: time.Unix(100, 0), removeErr: errors.New("boom")}, wantApply: true, wantRemove: errors.New("boom")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			g, err := NewGauge(reg)
			require.NoError(t, err)
			in := Wrap(tt.inj, g)
			ctx := context.Background()

			a, err := in.Apply(ctx, "r1", "latency-payments", "fault", latency)
			if !tt.wantApply {
				require.Error(t, err)
				n, err := testutil.GatherAndCount(reg, MetricName)
				require.NoError(t, err)
				assert.Zero(t, n)
				return
			}
			require.NoError(t, err)
			want := strings.ReplaceAll(activeSeries, "%s", latency.String())
			require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), MetricName))

			err = in.Remove(ctx, a)
			assert.Equal(t, tt.wantRemove, err)
			n, err := testutil.GatherAndCount(reg, MetricName)
			require.NoError(t, err)
			assert.Zero(t, n, "the series is gone once the fault is removed")
		})
	}
}

// grafanaRecorder is a Grafana annotations API on a real listener.
type grafanaRecorder struct {
	mu       sync.Mutex
	requests []string
	bodies   []annotation
	auth     []string
	status   int
}

func (g *grafanaRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var a annotation
	b, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(b, &a)
	g.requests = append(g.requests, r.Method+" "+r.URL.Path)
	g.bodies = append(g.bodies, a)
	g.auth = append(g.auth, r.Header.Get("Authorization"))
	if g.status != 0 {
		http.Error(w, `{"message":"nope"}`, g.status)
		return
	}
	_, _ = w.Write([]byte(`{"id":42,"message":"Annotation added"}`))
}

func TestGrafanaRegionAnnotations(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		token     string
		wantReqs  []string
		wantWarns int
	}{
		{name: "open then close", token: "sa-token", wantReqs: []string{"POST /api/annotations", "PATCH /api/annotations/42"}},
		{name: "anonymous", wantReqs: []string{"POST /api/annotations", "PATCH /api/annotations/42"}},
		{name: "grafana refuses: warned, nothing to close", status: http.StatusUnauthorized, wantReqs: []string{"POST /api/annotations"}, wantWarns: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &grafanaRecorder{status: tt.status}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			var warns []error
			g := NewGrafana(srv.URL+"/", tt.token, nil, func(err error) { warns = append(warns, err) })
			start := time.UnixMilli(1_700_000_000_000)
			in := Wrap(&fakeInjector{at: start}, g)
			ctx := context.Background()
			a, err := in.Apply(ctx, "r1", "latency-payments", "fault", latency)
			require.NoError(t, err)
			in.now = func() time.Time { return start.Add(20 * time.Second) }
			require.NoError(t, in.Remove(ctx, a))

			assert.Equal(t, tt.wantReqs, rec.requests)
			assert.Len(t, warns, tt.wantWarns)
			if tt.wantWarns > 0 {
				assert.ErrorContains(t, warns[0], "401")
				return
			}
			open := rec.bodies[0]
			assert.Equal(t, start.UnixMilli(), open.Time)
			assert.Equal(t, []string{"chaoslab", "scenario:latency-payments", "kind:network", "target:orders->payments"}, open.Tags)
			assert.Contains(t, open.Text, "latency-payments")
			assert.Equal(t, start.Add(20*time.Second).UnixMilli(), rec.bodies[1].TimeEnd)
			want := ""
			if tt.token != "" {
				want = "Bearer " + tt.token
			}
			assert.Equal(t, []string{want, want}, rec.auth)
		})
	}
}
