package stack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// target is one active target as Prometheus' /api/v1/targets lists it.
type target struct {
	Labels     map[string]string `json:"labels"`
	ScrapePool string            `json:"scrapePool"`
	ScrapeURL  string            `json:"scrapeUrl"`
	LastError  string            `json:"lastError"`
	LastScrape time.Time         `json:"lastScrape"`
	Health     string            `json:"health"`
}

func ordersTarget(health string, lastScrape time.Time, lastError string) target {
	return target{
		Labels:     map[string]string{"job": "orders", "instance": "127.0.0.1:9082"},
		ScrapePool: "orders", ScrapeURL: "http://127.0.0.1:9082/metrics",
		LastError: lastError, LastScrape: lastScrape, Health: health,
	}
}

// targetsServer answers /api/v1/targets with answer(n), n counting the calls
// from 0.
func targetsServer(t *testing.T, answer func(n int) []target) TargetsQuerier {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/targets" {
			http.NotFound(w, r)
			return
		}
		active := answer(int(calls.Add(1) - 1))
		if active == nil {
			active = []target{}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"status": "success",
			"data":   map[string]any{"activeTargets": active, "droppedTargets": []any{}},
		})
	}))
	t.Cleanup(srv.Close)
	q, err := NewTargetsQuerier(srv.URL)
	require.NoError(t, err)
	return q
}

func TestWaitScraped(t *testing.T) {
	ready := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	tests := []struct {
		name    string
		answer  func(n int) []target
		timeout time.Duration
		want    time.Duration // orders' delay, when no error
		wantErr []string      // substrings of the error
	}{
		{
			name: "already scraped",
			answer: func(int) []target {
				return []target{ordersTarget("up", ready.Add(1300*time.Millisecond), "")}
			},
			timeout: time.Second, want: 1300 * time.Millisecond,
		},
		{
			name: "scraped later: not discovered, then down, then up",
			answer: func(n int) []target {
				switch n {
				case 0:
					return nil // before Prometheus' first discovery batch
				case 1:
					return []target{ordersTarget("unknown", time.Time{}, "")}
				case 2:
					return []target{ordersTarget("down", ready.Add(time.Second), "connection refused")}
				}
				return []target{ordersTarget("up", ready.Add(2*time.Second), "")}
			},
			timeout: 5 * time.Second, want: 2 * time.Second,
		},
		{
			name: "scraped up before ready: keeps waiting",
			answer: func(int) []target {
				return []target{ordersTarget("up", ready.Add(-500*time.Millisecond), "")}
			},
			timeout: 300 * time.Millisecond,
			wantErr: []string{"job orders", "http://127.0.0.1:9082/metrics", "health up", "last scraped 500ms before it was ready"},
		},
		{
			name: "down with lastError: times out with the error",
			answer: func(int) []target {
				return []target{ordersTarget("down", ready.Add(time.Second), `Get "http://127.0.0.1:9082/metrics": dial tcp 127.0.0.1:9082: connect: connection refused`)}
			},
			timeout: 300 * time.Millisecond,
			wantErr: []string{"job orders", "health down", "last error: Get \"http://127.0.0.1:9082/metrics\"", "connection refused"},
		},
		{
			name:    "never discovered",
			answer:  func(int) []target { return nil },
			timeout: 300 * time.Millisecond,
			wantErr: []string{"job orders: no active target"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := targetsServer(t, tt.answer)
			start := time.Now()
			got, err := WaitScraped(t.Context(), q, map[string]time.Time{"orders": ready}, tt.timeout)
			if tt.wantErr != nil {
				require.Error(t, err)
				t.Log(err)
				for _, s := range tt.wantErr {
					assert.Contains(t, err.Error(), s)
				}
				assert.NotContains(t, got, "orders")
				assert.GreaterOrEqual(t, time.Since(start), tt.timeout, "waited until the timeout")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, map[string]time.Duration{"orders": tt.want}, got)
		})
	}
}

// Every job must be scraped since its own ready time; the error names only
// the ones still missing.
func TestWaitScrapedSeveralJobs(t *testing.T) {
	ready := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	payments := target{
		Labels: map[string]string{"job": "payments"}, ScrapeURL: "http://127.0.0.1:9084/metrics",
		Health: "up", LastScrape: ready.Add(200 * time.Millisecond),
	}
	q := targetsServer(t, func(int) []target {
		return []target{ordersTarget("up", ready.Add(time.Second), ""), payments}
	})

	got, err := WaitScraped(t.Context(), q, map[string]time.Time{"orders": ready, "payments": ready}, time.Second)
	require.NoError(t, err)
	assert.Equal(t, map[string]time.Duration{"orders": time.Second, "payments": 200 * time.Millisecond}, got)

	// payments restarted 100ms after its last scrape: that scrape was of the
	// old process.
	got, err = WaitScraped(t.Context(), q, map[string]time.Time{"orders": ready, "payments": ready.Add(300 * time.Millisecond)}, 300*time.Millisecond)
	require.Error(t, err)
	assert.Equal(t, map[string]time.Duration{"orders": time.Second}, got)
	assert.Contains(t, err.Error(), "job payments")
	assert.NotContains(t, err.Error(), "job orders")
}

func TestWaitScrapedPrometheusDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens any more
	q, err := NewTargetsQuerier(srv.URL)
	require.NoError(t, err)
	_, err = WaitScraped(t.Context(), q, map[string]time.Time{"orders": time.Now()}, 300*time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "job orders: no active target")
	assert.Contains(t, err.Error(), "its last answer to /api/v1/targets")
	assert.Contains(t, err.Error(), "connection refused")
}

func TestWaitScrapedCancelled(t *testing.T) {
	q := targetsServer(t, func(int) []target { return nil })
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(150*time.Millisecond, cancel)
	_, err := WaitScraped(ctx, q, map[string]time.Time{"orders": time.Now()}, time.Minute)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestObservedReport(t *testing.T) {
	start := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	readyAt := map[string]time.Time{
		"api":    start.Add(310 * time.Millisecond),
		"store":  start.Add(120 * time.Millisecond),
		"ledger": start.Add(200 * time.Millisecond),
		"extra":  start.Add(400 * time.Millisecond),
	}
	after := map[string]time.Duration{
		"api": 5300 * time.Millisecond, "store": 5600 * time.Millisecond, "extra": 5200 * time.Millisecond,
	}
	assert.Equal(t, `  store       ready at 0.12s, first scraped 5.6s later
  ledger      ready at 0.20s, not scraped yet
  api         ready at 0.31s, first scraped 5.3s later
  extra       ready at 0.40s, first scraped 5.2s later
  lab ready in 0.4s, observed by Prometheus in 5.7s`, ObservedReport(start, []string{"store", "ledger", "cache", "api"}, readyAt, after),
		"in the services' order (cache was not waited for), then the other jobs")
}
