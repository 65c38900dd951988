// Command pricing serves the bookings pricing service (gRPC). Its flags are
// listed by -help; each can also be set as BOOKINGS_PRICING_<FLAG>.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(exitCode(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr), os.Stderr))
}
