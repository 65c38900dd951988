package cli

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/chaoslab/chaoslab/harness/auth"
)

// tokenKeyEnv holds the HS256 key when -key-file is not given: the
// variable a service of the lab may read its key from too.
const tokenKeyEnv = "CHAOSLAB_JWT_KEY"

// runToken mints an HS256 bearer token (the hs256-jwt auth provider's,
// which an hs256-jwt lab's services accept), or with -token-url fetches one
// from an issuer with the client-credentials grant (the provider the shop
// uses).
func runToken(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "token", "token [-key-file F] [-subject S] [-ttl D] | -token-url URL [-client-id ID] -secret-file F")
	keyFile := fs.String("key-file", "", "file holding the HS256 key (default: the key in $"+tokenKeyEnv+")")
	subject := fs.String("subject", "dev", "the token's subject (sub claim)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	tokenURL := fs.String("token-url", "", "fetch the token from this OAuth 2.0 token endpoint (client credentials) instead of minting one, like http://127.0.0.1:8090/oauth2/token (the shop's issuer)")
	clientID := fs.String("client-id", "chaoslab", "with -token-url: the client id")
	secretFile := fs.String("secret-file", "", "with -token-url: the file holding the client's secret (the shop's: .run/lab/client.secret)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *tokenURL != "" {
		if *secretFile == "" {
			return usageErr("-token-url needs -secret-file, the client's secret")
		}
		secret, err := auth.ReadKey(*secretFile)
		if err != nil {
			return usageErr("%w", err)
		}
		c := clientcredentials.Config{ClientID: *clientID, ClientSecret: string(secret), TokenURL: *tokenURL}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		tok, err := c.Token(ctx)
		if err != nil {
			return fmt.Errorf("fetching a token from %s: %w", *tokenURL, err)
		}
		fmt.Fprintln(env.Stdout, tok.AccessToken)
		return nil
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
