package desk

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	calendarv1 "example.com/bookings/api/calendar/v1"
	pricingv1 "example.com/bookings/api/pricing/v1"
	"example.com/bookings/calendar"
	"example.com/bookings/pricing"
)

// flakyCalendar fails the first failures Book calls with UNAVAILABLE.
type flakyCalendar struct {
	*calendar.Server
	failures atomic.Int32
}

func (f *flakyCalendar) Book(ctx context.Context, req *calendarv1.BookRequest) (*calendarv1.BookResponse, error) {
	if f.failures.Add(-1) >= 0 {
		return nil, status.Error(codes.Unavailable, "flaky")
	}
	return f.Server.Book(ctx, req)
}

// dial serves register on a real listener and returns a client connection.
func dial(t *testing.T, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	register(srv)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

type fixture struct {
	url     string
	cal     *flakyCalendar
	retried *prometheus.CounterVec
	reg     *prometheus.Registry
}

// newDesk runs the desk over real pricing and calendar servers.
func newDesk(t *testing.T, retries int, pricingDelay time.Duration) *fixture {
	t.Helper()
	store, _ := calendar.Open("", false)
	cal := &flakyCalendar{Server: calendar.NewServer(prometheus.NewRegistry(), store)}
	pconn := dial(t, func(s *grpc.Server) {
		pricingv1.RegisterPricingServiceServer(s, pricing.NewServer(prometheus.NewRegistry(), pricingDelay))
	})
	cconn := dial(t, func(s *grpc.Server) { calendarv1.RegisterCalendarServiceServer(s, cal) })
	reg := prometheus.NewRegistry()
	retried := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bookings_desk_retries_total"}, []string{"backend"})
	srv := NewServer(
		NewPricingClient(pricingv1.NewPricingServiceClient(pconn), 100*time.Millisecond),
		NewCalendarClient(calendarv1.NewCalendarServiceClient(cconn), time.Second, retries, retried),
		reg, slog.New(slog.DiscardHandler), noop.NewTracerProvider(),
	)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &fixture{url: hs.URL, cal: cal, retried: retried, reg: reg}
}

func post(t *testing.T, url, key, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/v1/bookings", strings.NewReader(body))
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func TestBook(t *testing.T) {
	f := newDesk(t, 2, 0)
	const good = `{"guest":"ann","room":"double","nights":2}`
	tests := []struct {
		name   string
		key    string
		body   string
		status int
		id     string
	}{
		{"a booking", "k1", good, http.StatusCreated, "b-1"},
		{"the same key again", "k1", good, http.StatusOK, "b-1"},
		{"another key", "k2", good, http.StatusCreated, "b-2"},
		{"no key", "", good, http.StatusBadRequest, ""},
		{"a key with a space", "k 3", good, http.StatusBadRequest, ""},
		{"not JSON", "k4", `{`, http.StatusBadRequest, ""},
		{"unknown field", "k5", `{"guest":"ann","room":"double","nights":2,"vip":true}`, http.StatusBadRequest, ""},
		{"no guest", "k6", `{"room":"double","nights":2}`, http.StatusBadRequest, ""},
		{"unknown room (pricing says so)", "k7", `{"guest":"ann","room":"palace","nights":2}`, http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, f.url, tt.key, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%v), want %d", resp.StatusCode, body, tt.status)
			}
			if tt.id != "" && body["id"] != tt.id {
				t.Errorf("id %v, want %s", body["id"], tt.id)
			}
			if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("error Content-Type %q, want application/problem+json", resp.Header.Get("Content-Type"))
			}
		})
	}
	if got := counterValue(t, f.reg, "bookings_http_requests_total", "POST /v1/bookings", "201"); got != 2 {
		t.Errorf(`bookings_http_requests_total{handler="POST /v1/bookings",status="201"} = %v, want 2`, got)
	}
}

func TestBookRetriesUnavailableCalendar(t *testing.T) {
	tests := []struct {
		name        string
		retries     int
		failures    int32
		status      int
		wantRetried float64
	}{
		{"no failure", 2, 0, http.StatusCreated, 0},
		{"two failures, two retries", 2, 2, http.StatusCreated, 2},
		{"three failures, two retries", 2, 3, http.StatusServiceUnavailable, 2},
		{"one failure, no retries", 0, 1, http.StatusServiceUnavailable, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDesk(t, tt.retries, 0)
			f.cal.failures.Store(tt.failures)
			resp, body := post(t, f.url, "k1", `{"guest":"ann","room":"single","nights":1}`)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%v), want %d", resp.StatusCode, body, tt.status)
			}
			if got := testutil.ToFloat64(f.retried.WithLabelValues("calendar")); got != tt.wantRetried {
				t.Errorf("retries counted %v, want %v", got, tt.wantRetried)
			}
		})
	}
}

func TestBookPricingDeadline(t *testing.T) {
	f := newDesk(t, 2, time.Second) // pricing takes 1s, the desk waits 100ms
	start := time.Now()
	resp, body := post(t, f.url, "k1", `{"guest":"ann","room":"single","nights":1}`)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d (%v), want 504", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 700*time.Millisecond {
		t.Errorf("the desk answered after %s: the pricing deadline did not hold", d)
	}
}

func TestGetBooking(t *testing.T) {
	f := newDesk(t, 2, 0)
	post(t, f.url, "k1", `{"guest":"ann","room":"suite","nights":3}`)
	tests := []struct {
		id     string
		status int
	}{{"b-1", http.StatusOK}, {"b-2", http.StatusNotFound}}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			resp, err := http.Get(f.url + "/v1/bookings/" + tt.id)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("GET %s: %d, want %d", tt.id, resp.StatusCode, tt.status)
			}
		})
	}
}

// counterValue is the value of the series of name with handler and status
// in reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name, handler, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["handler"] == handler && labels["status"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series %s{handler=%q,status=%q}", name, handler, code)
	return 0
}
