package main

import (
	"bytes"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	calendarv1 "example.com/bookings/api/calendar/v1"
	"example.com/bookings/calendar"
)

func TestRunExitCodes(t *testing.T) {
	store, _ := calendar.Open("", false)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	calendarv1.RegisterCalendarServiceServer(srv, calendar.NewServer(prometheus.NewRegistry(), store))
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closed.Close() // nothing listens there any more

	const runJSON = `{"run_id":"r","scenario":"s","since":"2026-01-01T00:00:00Z","until":"2026-01-01T00:01:00Z","acked":[{"id":"b-1","key":"k"}],"accepted":[]}`
	tests := []struct {
		name     string
		args     []string
		stdin    string
		code     int
		examined int
	}{
		{"a verdict", []string{"-calendar", lis.Addr().String(), "-invariant", "acked_bookings_exist"}, runJSON, exitOK, 1},
		{"unknown invariant", []string{"-calendar", lis.Addr().String(), "-invariant", "nope"}, runJSON, exitUsage, 0},
		{"not JSON", []string{"-calendar", lis.Addr().String(), "-invariant", "acked_bookings_exist"}, "{", exitUsage, 0},
		{"calendar down: undecided", []string{"-calendar", closed.Addr().String(), "-invariant", "acked_bookings_exist", "-timeout", "2s"}, runJSON, exitUndecided, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, stderr.String())
			}
			if code != exitOK {
				if stdout.Len() != 0 {
					t.Errorf("printed %q without a verdict to give", stdout.String())
				}
				return
			}
			var v map[string]any
			if err := json.Unmarshal(stdout.Bytes(), &v); err != nil {
				t.Fatal(err)
			}
			if v["examined"] != float64(tt.examined) {
				t.Errorf("verdict %s, want examined %d", stdout.String(), tt.examined)
			}
		})
	}
}
