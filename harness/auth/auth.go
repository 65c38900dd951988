// Package auth makes the bearer token a lab's load runs with (docs/lab.md,
// Auth providers): none gives no token, hs256-jwt mints an HS256 JWT with
// the key the lab shares with its services, client-credentials fetches one
// from the lab's issuer (OAuth 2.0, with the client secret the lab shares
// with it), command runs a program that prints one.
package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/chaoslab/chaoslab/harness/lab"
)

// commandTimeout bounds the command provider.
const commandTimeout = 30 * time.Second

// Token returns the token l's load.auth provider gives, at now: "" for
// none; for hs256-jwt an HS256 JWT for its subject, valid for its ttl,
// signed with the key in runDir/key_file; for client-credentials the
// access token the issuer grants (golang.org/x/oauth2); for command what the command
// (its argv rendered with vars, run in the lab's root) prints on its
// standard output, trimmed.
func Token(ctx context.Context, l *lab.Lab, runDir string, vars lab.HarnessVars, now time.Time) (string, error) {
	a := l.Load.Auth
	switch a.Provider {
	case lab.AuthNone, "":
		return "", nil
	case lab.AuthHS256:
		key, err := ReadKey(KeyFile(a, runDir))
		if err != nil {
			return "", err
		}
		return MintHS256(key, a.Subject, a.TTL, now)
	case lab.AuthClient:
		c, err := ClientCredentials(l, runDir, vars)
		if err != nil {
			return "", err
		}
		ctx, cancel := context.WithTimeout(ctx, commandTimeout)
		defer cancel()
		tok, err := c.Token(ctx)
		if err != nil {
			return "", fmt.Errorf("fetching the load's token from %s: %w", c.TokenURL, err)
		}
		return tok.AccessToken, nil
	case lab.AuthCommand:
		return commandToken(ctx, l, a.Command, vars)
	}
	return "", fmt.Errorf("lab %s: unknown auth provider %q", l.Name, a.Provider)
}

// ClientCredentials is the client-credentials provider's OAuth 2.0 client:
// its token URL rendered with vars, its client id and the secret in
// runDir/secret_file.
func ClientCredentials(l *lab.Lab, runDir string, vars lab.HarnessVars) (clientcredentials.Config, error) {
	a := l.Load.Auth
	u, err := lab.Render("load.auth.token_url", a.TokenURL, vars)
	if err != nil {
		return clientcredentials.Config{}, err
	}
	secret, err := ReadKey(KeyFile(a, runDir))
	if err != nil {
		return clientcredentials.Config{}, err
	}
	return clientcredentials.Config{ClientID: a.ClientID, ClientSecret: string(secret), TokenURL: u, Scopes: a.Scopes}, nil
}

// KeyFile is where the shared secret is (hs256-jwt's key_file,
// client-credentials' secret_file) in the run directory.
func KeyFile(a lab.Auth, runDir string) string { return filepath.Join(runDir, a.KeyFile) }

// ReadKey reads a shared secret's file (an HS256 key, a client secret): its content, surrounding white space
// trimmed, is the key (the services read it the same way).
func ReadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the shared secret (a JWT key, a client secret): %w", err)
	}
	key := bytes.TrimSpace(b)
	if len(key) == 0 {
		return nil, fmt.Errorf("the shared secret's file %s is empty", path)
	}
	return key, nil
}

// MintHS256 returns an HS256 JWT for subject with the claims sub, iat (now)
// and exp (now + ttl), signed with key.
func MintHS256(key []byte, subject string, ttl time.Duration, now time.Time) (string, error) {
	if len(key) == 0 {
		return "", errors.New("minting a token: the signing key is empty")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("minting a token: the ttl must be positive, got %s", ttl)
	}
	claims := jwt.RegisteredClaims{
		Subject:   subject,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("minting a token: %w", err)
	}
	return signed, nil
}

// commandToken runs the command provider's argv and returns its output.
func commandToken(ctx context.Context, l *lab.Lab, argv []string, vars lab.HarnessVars) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("load.auth.command is empty")
	}
	rendered := make([]string, len(argv))
	for i, a := range argv {
		r, err := lab.Render(fmt.Sprintf("load.auth.command[%d]", i), a, vars)
		if err != nil {
			return "", err
		}
		rendered[i] = r
	}
	prog := rendered[0]
	if !filepath.IsAbs(prog) && strings.ContainsRune(prog, filepath.Separator) {
		abs, err := filepath.Abs(l.Path(prog)) // the command runs in the lab's root
		if err != nil {
			return "", err
		}
		prog = abs
	}
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, rendered[1:]...)
	cmd.Dir = l.Dir()
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	name := "load.auth command " + argv[0]
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("did not finish within %s", commandTimeout)
		}
		return "", fmt.Errorf("%s: %w%s", name, err, stderrNote(stderr.String()))
	}
	tok := strings.TrimSpace(stdout.String())
	if tok == "" {
		return "", fmt.Errorf("%s printed no token%s", name, stderrNote(stderr.String()))
	}
	if strings.ContainsAny(tok, "\r\n") {
		return "", fmt.Errorf("%s printed more than one line: a token is one line", name)
	}
	return tok, nil
}

// stderrNote quotes the end of a command's standard error on one line.
func stderrNote(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return ""
	}
	if len(s) > 300 {
		s = "…" + s[len(s)-300:]
	}
	return "; stderr: " + s
}
