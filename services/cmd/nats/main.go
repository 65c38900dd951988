// Command nats runs the message broker (NATS with JetStream) of the chaoslab shop. See -help.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/chaoslab/chaoslab/services/broker"
	"github.com/chaoslab/chaoslab/services/internal/host"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process at once
	}()
	err := broker.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if code := host.ExitCode(err); code != 0 {
		fmt.Fprintf(os.Stderr, "nats: %v\n", err)
		os.Exit(code)
	}
}
