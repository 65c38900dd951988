package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	calendarv1 "example.com/bookings/api/calendar/v1"
)

// serving is the calendar's "serving" log line.
type serving struct {
	Addr        string `json:"addr"`
	MetricsAddr string `json:"metrics_addr"`
	AdminAddr   string `json:"admin_addr"`
}

// start runs the calendar on ports of 127.0.0.1:0 and returns where it
// listens and the channel run's error arrives on.
func start(t *testing.T, data string) (serving, func() error) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	ctx, cancel := contextWithCancel(t)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0", "-data", data},
			func(string) string { return "" }, pw, io.Discard)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	for lines.Scan() {
		var s serving
		if strings.Contains(lines.Text(), `"msg":"serving"`) {
			if err := json.Unmarshal(lines.Bytes(), &s); err != nil {
				t.Fatal(err)
			}
			go io.Copy(io.Discard, pr)
			return s, func() error {
				cancel()
				select {
				case err := <-done:
					return err
				case <-time.After(10 * time.Second):
					t.Fatal("run did not return 10s after its context ended")
					return nil
				}
			}
		}
	}
	t.Fatalf("the calendar never logged that it serves: %v", <-done)
	return serving{}, nil
}

func TestRunServesFaultsAndDrains(t *testing.T) {
	s, stop := start(t, filepath.Join(t.TempDir(), "calendar.jsonl"))
	conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v, %v; want SERVING", hc, err)
	}
	cal := calendarv1.NewCalendarServiceClient(conn)
	book := func(key string) error {
		_, err := cal.Book(t.Context(), &calendarv1.BookRequest{IdempotencyKey: key, Guest: "g", Room: "single", Nights: 1})
		return err
	}
	if err := book("k1"); err != nil {
		t.Fatalf("Book without a fault: %v", err)
	}

	// chaoslab's request fault, through the admin API.
	resp, err := http.Post("http://"+s.AdminAddr+"/faults", "application/json",
		strings.NewReader(`{"method":"/bookings.calendar.v1.CalendarService/Book","grpc_code":"UNAVAILABLE"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /faults: %d, want 201", resp.StatusCode)
	}
	if err := book("k2"); status.Code(err) != codes.Unavailable {
		t.Fatalf("Book with the fault set: %v, want UNAVAILABLE", err)
	}
	metrics := get(t, "http://"+s.MetricsAddr+"/metrics")
	for _, want := range []string{
		`bookings_grpc_server_handled_total{code="Unavailable",component="calendar",method="/bookings.calendar.v1.CalendarService/Book"} 1`,
		`bookings_calendar_bookings{component="calendar"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := stop(); err != nil {
		t.Errorf("run after SIGTERM-like cancel: %v, want nil", err)
	}
}

func TestRunKeepsBookingsAcrossRestarts(t *testing.T) {
	data := filepath.Join(t.TempDir(), "calendar.jsonl")
	s, stop := start(t, data)
	conn, _ := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if _, err := calendarv1.NewCalendarServiceClient(conn).Book(t.Context(),
		&calendarv1.BookRequest{IdempotencyKey: "k1", Guest: "g", Room: "single", Nights: 1}); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	s, stop = start(t, data)
	defer stop()
	conn, _ = grpc.NewClient(s.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	defer conn.Close()
	b, err := calendarv1.NewCalendarServiceClient(conn).GetBooking(t.Context(), &calendarv1.GetBookingRequest{Id: "b-1"})
	if err != nil || b.GetIdempotencyKey() != "k1" {
		t.Fatalf("GetBooking(b-1) after a restart: %v, %v", b, err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    Config
		wantErr bool
	}{
		{"defaults", nil, nil, Config{Addr: "127.0.0.1:7100", MetricsAddr: "127.0.0.1:7101", AdminAddr: "127.0.0.1:7102", Fsync: true}, false},
		{"the knob as the lab appends it", []string{"-fsync=false"}, nil, Config{Addr: "127.0.0.1:7100", MetricsAddr: "127.0.0.1:7101", AdminAddr: "127.0.0.1:7102"}, false},
		{"env as a fallback", []string{"-addr", "127.0.0.1:1"}, map[string]string{"BOOKINGS_CALENDAR_ADDR": "x", "BOOKINGS_CALENDAR_DATA": "/d"},
			Config{Addr: "127.0.0.1:1", MetricsAddr: "127.0.0.1:7101", AdminAddr: "127.0.0.1:7102", Data: "/d", Fsync: true}, false},
		{"a bad env value", nil, map[string]string{"BOOKINGS_CALENDAR_FSYNC": "maybe"}, Config{}, true},
		{"a stray argument", []string{"extra"}, nil, Config{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parse: %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("parse = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	return ctx, cancel
}
