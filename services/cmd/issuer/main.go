// Command issuer runs the token issuer of the chaoslab shop (client-credentials tokens and their JWKS). See -help.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/chaoslab/chaoslab/services/internal/host"
	"github.com/chaoslab/chaoslab/services/issuer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process at once
	}()
	err := issuer.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if code := host.ExitCode(err); code != 0 {
		fmt.Fprintf(os.Stderr, "issuer: %v\n", err)
		os.Exit(code)
	}
}
