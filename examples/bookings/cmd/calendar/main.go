// Command calendar serves the bookings calendar (gRPC), the system's store
// of bookings, with chaoslab's fault admin API on -admin-addr. Its flags are
// listed by -help; each can also be set as BOOKINGS_CALENDAR_<FLAG>.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(exitCode(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr), os.Stderr))
}
