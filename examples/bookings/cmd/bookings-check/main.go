// Command bookings-check is the bookings system's invariant checker for
// chaoslab: it reads the run (JSON) on its standard input, checks one
// invariant against the calendar's gRPC API and prints the verdict (JSON).
//
//	bookings-check -calendar 127.0.0.1:7100 -invariant acked_bookings_exist < run.json
//
// It exits 0 with a verdict, 1 when it could not decide (the calendar did
// not answer), 2 on bad usage.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
