//go:build tools

package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/scenario"
)

// k6Binary is the k6 that make tools builds.
func k6Binary(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", ".tools", "bin", "k6"))
	require.NoError(t, err)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("k6 is not at %s: run make tools (%v)", p, err)
	}
	return p
}

// fakeShop answers POST /v1/orders like the gateway (201 with an order id),
// checks what the script sends, and counts remote-write pushes.
type fakeShop struct {
	mu         sync.Mutex
	orders     map[string]string // idempotency key → order id
	first      time.Time
	violations []string
	pushes     int
	onOrder    func(n int)
}

var skuRe = regexp.MustCompile(`^sku-[1-8]$`)

func (s *fakeShop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/write":
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.Header.Get("Content-Encoding") == "snappy" {
			s.pushes++
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/orders":
		var body struct {
			CustomerID string `json:"customer_id"`
			Items      []struct {
				SKU      string `json:"sku"`
				Quantity int    `json:"quantity"`
			} `json:"items"`
		}
		err := json.NewDecoder(r.Body).Decode(&body)
		key := r.Header.Get("Idempotency-Key")
		s.mu.Lock()
		switch {
		case err != nil:
			s.violations = append(s.violations, "body: "+err.Error())
		case r.Header.Get("Authorization") != "Bearer tok":
			s.violations = append(s.violations, "authorization: "+r.Header.Get("Authorization"))
		case r.Header.Get("Content-Type") != "application/json":
			s.violations = append(s.violations, "content type: "+r.Header.Get("Content-Type"))
		case body.CustomerID == "" || len(body.Items) != 1 || !skuRe.MatchString(body.Items[0].SKU) ||
			body.Items[0].Quantity < 1 || body.Items[0].Quantity > 3:
			s.violations = append(s.violations, fmt.Sprintf("body: %+v", body))
		case key == "" || s.orders[key] != "":
			s.violations = append(s.violations, "idempotency key not unique: "+key)
		}
		if s.first.IsZero() {
			s.first = time.Now()
		}
		id := fmt.Sprintf("ord_%d", len(s.orders)+1)
		s.orders[key] = id
		n, hook := len(s.orders), s.onOrder
		s.mu.Unlock()
		if hook != nil {
			hook(n)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"order_id":%q,"status":"CONFIRMED"}`, id)
	default:
		http.NotFound(w, r)
	}
}

func startShop(t *testing.T, onOrder func(int)) (*fakeShop, *httptest.Server) {
	shop := &fakeShop{orders: map[string]string{}, onOrder: onOrder}
	srv := httptest.NewServer(shop)
	t.Cleanup(srv.Close)
	return shop, srv
}

func checkoutOptions(t *testing.T, baseURL string, rate int, phases ...scenario.Phase) Options {
	return Options{
		K6:       k6Binary(t),
		Script:   filepath.Join("..", "..", "loadtests", "checkout.js"),
		OutDir:   t.TempDir(),
		BaseURL:  baseURL,
		Token:    "tok",
		RunID:    "test-run",
		Scenario: "unit",
		Profile: scenario.LoadProfile{
			Script: "checkout.js", Executor: scenario.ConstantArrivalRate, Rate: rate, TimeUnit: time.Second,
			PreAllocatedVUs: 5, MaxVUs: 10, GracefulStop: time.Second,
		},
		Phases: phases,
	}
}

// TestRunK6 runs the real k6 with loadtests/checkout.js against a fake
// shop: about 8 s in all.
func TestRunK6(t *testing.T) {
	t.Run("checkout over two phases, on the caller's clock, with remote write", func(t *testing.T) {
		shop, srv := startShop(t, nil)
		o := checkoutOptions(t, srv.URL, 10, scenario.Phase{Name: "calm", Duration: time.Second}, scenario.Phase{Name: "storm", Duration: 2 * time.Second})
		o.StartAt = time.Now().Add(time.Second).Truncate(time.Millisecond)
		o.RemoteWriteURL = srv.URL + "/api/v1/write"
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()

		res, err := Run(ctx, o)
		require.NoError(t, err, "stderr: %s", res.Stderr)

		shop.mu.Lock()
		defer shop.mu.Unlock()
		assert.Empty(t, shop.violations)
		assert.Equal(t, 0, res.ExitCode)
		assert.False(t, res.ThresholdsFailed)
		assert.Equal(t, "checkout.js", res.Script)
		assert.Equal(t, scenario.ConstantArrivalRate, res.Executor)
		assert.Equal(t, int64(len(shop.orders)), res.Requests)
		assert.Zero(t, res.Failed)
		assert.Zero(t, res.Dropped)
		assert.InDelta(t, 31, res.Requests, 3, "3 s at 10/s")
		assert.Positive(t, res.P99ms)

		acked := map[string]string{}
		for _, a := range res.Acked {
			acked[a.Key] = a.OrderID
			assert.Regexp(t, `^test-run-unit-\d+-\d+$`, a.Key)
		}
		assert.Equal(t, shop.orders, acked, "every 201 is acknowledged, with its order id")
		assert.Equal(t, len(shop.orders), res.Load.Acked)

		assert.True(t, res.Origin.Equal(o.StartAt), "origin %s, want %s", res.Origin, o.StartAt)
		assert.False(t, res.Started.Before(res.Origin))
		assert.False(t, shop.first.Before(o.StartAt), "the load started at %s, before StartAt %s", shop.first, o.StartAt)

		require.Len(t, res.Phases, 2)
		assert.Equal(t, "calm", res.Phases[0].Name)
		assert.InDelta(t, 10, res.Phases[0].Requests, 2)
		assert.Equal(t, "storm", res.Phases[1].Name)
		assert.InDelta(t, 21, res.Phases[1].Requests, 2)
		assert.Equal(t, res.Requests, res.Phases[0].Requests+res.Phases[1].Requests)
		assert.Contains(t, res.Checks, Check{Name: "order acknowledged (201)", Passes: res.Requests})

		assert.Positive(t, shop.pushes, "k6 pushed to the remote-write URL")
		assert.FileExists(t, filepath.Join(o.OutDir, OutputFile))
	})

	t.Run("crossed thresholds are a result, not an error", func(t *testing.T) {
		_, srv := startShop(t, nil)
		o := checkoutOptions(t, srv.URL, 5, scenario.Phase{Name: "only", Duration: time.Second})
		o.Env = map[string]string{"THRESHOLDS": `{"http_req_duration":["max<0"],"http_reqs":["count>0"]}`}

		res, err := Run(t.Context(), o)
		require.NoError(t, err)
		assert.True(t, res.ThresholdsFailed)
		assert.Equal(t, 99, res.ExitCode)
		assert.Contains(t, res.Thresholds, Threshold{Metric: "http_req_duration", Expr: "max<0", Failed: true})
		assert.Contains(t, res.Thresholds, Threshold{Metric: "http_reqs", Expr: "count>0", Failed: false})
		assert.NotEmpty(t, res.Acked)
	})

	t.Run("a ramping arrival rate", func(t *testing.T) {
		shop, srv := startShop(t, nil)
		o := checkoutOptions(t, srv.URL, 0, scenario.Phase{Name: "up", Duration: time.Second}, scenario.Phase{Name: "down", Duration: time.Second})
		o.Profile.Executor = scenario.RampingArrivalRate
		o.Profile.StartRate = 20
		o.Profile.Stages = []scenario.Stage{{Target: 20, Duration: time.Second}, {Target: 0, Duration: time.Second}}

		res, err := Run(t.Context(), o)
		require.NoError(t, err)
		shop.mu.Lock()
		defer shop.mu.Unlock()
		assert.Empty(t, shop.violations)
		require.Len(t, res.Phases, 2)
		assert.InDelta(t, 20, res.Phases[0].Requests, 3, "20/s for a second")
		assert.InDelta(t, 10, res.Phases[1].Requests, 3, "20/s down to 0 over a second")
		assert.Len(t, res.Acked, len(shop.orders))
	})

	t.Run("a script error is an error that says why", func(t *testing.T) {
		_, srv := startShop(t, nil)
		o := checkoutOptions(t, srv.URL, 5, scenario.Phase{Name: "only", Duration: time.Second})
		o.Env = map[string]string{"RATE": "fast"}

		res, err := Run(t.Context(), o)
		require.Error(t, err)
		assert.Equal(t, 107, res.ExitCode)
		assert.Contains(t, err.Error(), "exit code 107")
		assert.Contains(t, err.Error(), `RATE: "fast" is not a whole number`)
		assert.False(t, res.ThresholdsFailed)
	})

	t.Run("cancelling stops k6 gracefully and keeps its summary", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		_, srv := startShop(t, func(n int) {
			if n == 5 {
				cancel()
			}
		})
		o := checkoutOptions(t, srv.URL, 10, scenario.Phase{Name: "long", Duration: 30 * time.Second})

		start := time.Now()
		res, err := Run(ctx, o)
		require.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(start), 8*time.Second, "k6 stopped at SIGINT, not at the end of the load")
		// The fifth request is in flight when k6 gets SIGINT.
		assert.GreaterOrEqual(t, res.Requests, int64(4))
		assert.NotEmpty(t, res.SummaryFile)
		assert.GreaterOrEqual(t, len(res.Acked), 4)
		assert.Equal(t, 105, res.ExitCode, "k6's exit code for an external abort")
	})

	t.Run("a missing k6 binary", func(t *testing.T) {
		o := checkoutOptions(t, "http://127.0.0.1:1", 5, scenario.Phase{Name: "only", Duration: time.Second})
		o.K6 = filepath.Join(t.TempDir(), "k6")
		_, err := Run(t.Context(), o)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "running k6")
	})
}
