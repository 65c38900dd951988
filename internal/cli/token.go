package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/chaoslab/chaoslab/harness/auth"
)

// tokenKeyEnv holds the HS256 key when -key-file is not given: the
// variable a service of the lab may read its key from too.
const tokenKeyEnv = "CHAOSLAB_JWT_KEY"

// runToken mints an HS256 bearer token (the hs256-jwt auth provider's,
// which an hs256-jwt lab's services accept).
func runToken(_ context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "token", "token [-key-file F] [-subject S] [-ttl D]")
	keyFile := fs.String("key-file", "", "file holding the HS256 key (default: the key in $"+tokenKeyEnv+")")
	subject := fs.String("subject", "dev", "the token's subject (sub claim)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ttl <= 0 {
		return usageErr("-ttl must be positive, got %s", *ttl)
	}
	var key []byte
	switch {
	case *keyFile != "":
		k, err := auth.ReadKey(*keyFile)
		if err != nil {
			return usageErr("%w", err)
		}
		key = k
	case env.Getenv(tokenKeyEnv) != "":
		key = []byte(env.Getenv(tokenKeyEnv))
	default:
		return usageErr("no JWT key: set -key-file or $%s (any secret string for a dev lab)", tokenKeyEnv)
	}
	tok, err := auth.MintHS256(key, *subject, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, tok)
	return nil
}
