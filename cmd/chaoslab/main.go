// Command chaoslab drives the lab: it brings the stack up and down, runs and
// validates fault scenarios, and mints dev tokens. See `chaoslab help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/chaoslab/chaoslab/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process at once
	}()
	os.Exit(int(cli.Run(ctx, cli.OS(), os.Args[1:])))
}
