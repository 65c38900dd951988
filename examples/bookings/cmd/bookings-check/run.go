package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	calendarv1 "example.com/bookings/api/calendar/v1"
	"example.com/bookings/invariant"
)

// The exit codes.
const (
	exitOK        = 0
	exitUndecided = 1
	exitUsage     = 2
)

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bookings-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("calendar", "127.0.0.1:7100", "the calendar's gRPC API, host:port (direct, not through a proxy)")
	name := fs.String("invariant", "", "the invariant: "+strings.Join(names(), ", "))
	timeout := fs.Duration("timeout", 20*time.Second, "how long the check may take")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	check, ok := invariant.Checks()[*name]
	if !ok {
		fmt.Fprintf(stderr, "bookings-check: -invariant %q is not an invariant; allowed: %s\n", *name, strings.Join(names(), ", "))
		return exitUsage
	}
	var in invariant.Run
	dec := json.NewDecoder(stdin)
	if err := dec.Decode(&in); err != nil {
		fmt.Fprintf(stderr, "bookings-check: reading the run from standard input: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintf(stderr, "bookings-check: calendar at %s: %v\n", *addr, err)
		return exitUndecided
	}
	defer conn.Close()
	v, err := check(ctx, calendarv1.NewCalendarServiceClient(conn), in)
	if err != nil {
		fmt.Fprintf(stderr, "bookings-check: %s: %v\n", *name, err)
		return exitUndecided
	}
	if err := json.NewEncoder(stdout).Encode(v); err != nil {
		fmt.Fprintf(stderr, "bookings-check: writing the verdict: %v\n", err)
		return exitUndecided
	}
	return exitOK
}

func names() []string {
	var out []string
	for n := range invariant.Checks() {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
