package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/chaoslab/chaoslab/services/gateway"
)

// runToken mints an HS256 bearer token that the gateway accepts.
func runToken(_ context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "token", "token [-key-file F] [-subject S] [-ttl D]")
	keyFile := fs.String("key-file", "", "file holding the HS256 key (default: the key in $"+gateway.JWTKeyEnv+")")
	subject := fs.String("subject", "dev", "the token's subject (sub claim)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ttl <= 0 {
		return usageErr("-ttl must be positive, got %s", *ttl)
	}
	key, err := gateway.LoadJWTKey(*keyFile, env.Getenv)
	if err != nil {
		return usageErr("%w", err)
	}
	tok, err := gateway.MintToken(key, *subject, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, tok)
	return nil
}
