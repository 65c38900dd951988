// Command shipping runs the shipping service of the chaoslab shop. See -help.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/chaoslab/chaoslab/services/internal/host"
	"github.com/chaoslab/chaoslab/services/shipping"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process at once
	}()
	err := shipping.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if code := host.ExitCode(err); code != 0 {
		fmt.Fprintf(os.Stderr, "shipping: %v\n", err)
		os.Exit(code)
	}
}
