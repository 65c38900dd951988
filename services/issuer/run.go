package issuer

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/chaoslab/chaoslab/services/internal/host"
	"github.com/chaoslab/chaoslab/services/internal/telemetry"
)

// Config is what the issuer is started with.
type Config struct {
	Host host.Config
	// Keyring is the file that holds the signing keys (created when
	// missing).
	Keyring string
	// Alg is ES256 or RS256.
	Alg string
	// ClientID is the one client the token endpoint knows.
	ClientID string
	// ClientSecretFile holds its secret; ClientSecret is the secret itself
	// when there is no file.
	ClientSecretFile, ClientSecret string
	// TokenTTL is a token's lifetime, and how long a retired key stays
	// published.
	TokenTTL time.Duration
	// RotateEvery rotates the signing key on a timer (0: never).
	RotateEvery time.Duration
	// Issuer is the tokens' iss claim.
	Issuer string
}

// DefaultConfig listens on loopback: HTTP :8090, metrics :9085, admin :9185.
func DefaultConfig() Config {
	return Config{
		Host:     host.Config{Addr: "127.0.0.1:8090", MetricsAddr: "127.0.0.1:9085", AdminAddr: "127.0.0.1:9185"},
		Keyring:  ".run/data/issuer-keys.json",
		Alg:      AlgES256,
		ClientID: "chaoslab",
		TokenTTL: time.Hour,
		Issuer:   "chaoslab-issuer",
	}
}

// RegisterFlags registers the service's own flags with c's values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Keyring, "keyring", c.Keyring, "file that holds the signing keys, kept across restarts (created when missing)")
	fs.StringVar(&c.Alg, "alg", c.Alg, "signing algorithm: ES256 or RS256")
	fs.StringVar(&c.ClientID, "client-id", c.ClientID, "the client id the token endpoint accepts")
	fs.StringVar(&c.ClientSecretFile, "client-secret-file", c.ClientSecretFile, "file holding the client's secret (default: -client-secret)")
	fs.StringVar(&c.ClientSecret, "client-secret", c.ClientSecret, "the client's secret, when there is no -client-secret-file")
	fs.DurationVar(&c.TokenTTL, "token-ttl", c.TokenTTL, "lifetime of a token; a retired key stays published this long")
	fs.DurationVar(&c.RotateEvery, "rotate-every", c.RotateEvery, "rotate the signing key this often (0: never); the next key is published one rotation before it signs")
	fs.StringVar(&c.Issuer, "issuer", c.Issuer, "the tokens' iss claim")
}

// secret is the client secret from the file or the flag.
func (c Config) secret() ([]byte, error) {
	if c.ClientSecretFile != "" {
		b, err := os.ReadFile(c.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("reading the client secret: %w", err)
		}
		if b = bytes.TrimSpace(b); len(b) == 0 {
			return nil, fmt.Errorf("the client secret file %s is empty", c.ClientSecretFile)
		}
		return b, nil
	}
	if c.ClientSecret == "" {
		return nil, &host.UsageError{Err: errors.New("no client secret: set -client-secret-file or -client-secret")}
	}
	return []byte(c.ClientSecret), nil
}

// New opens the keyring and returns the issuer ready to be hosted; with
// RotateEvery it rotates the key on a timer while it runs.
func New(_ context.Context, cfg Config, tel *telemetry.Telemetry) (host.Service, error) {
	switch {
	case cfg.TokenTTL <= 0:
		return host.Service{}, &host.UsageError{Err: fmt.Errorf("-token-ttl must be positive, got %s", cfg.TokenTTL)}
	case cfg.RotateEvery < 0:
		return host.Service{}, &host.UsageError{Err: fmt.Errorf("-rotate-every must not be negative, got %s", cfg.RotateEvery)}
	case cfg.ClientID == "":
		return host.Service{}, &host.UsageError{Err: errors.New("-client-id is empty")}
	}
	secret, err := cfg.secret()
	if err != nil {
		return host.Service{}, err
	}
	ring, err := OpenKeyring(cfg.Keyring, cfg.Alg, cfg.TokenTTL, time.Now)
	if err != nil {
		return host.Service{}, err
	}
	srv, err := NewServer(Options{
		Ring: ring, ClientID: cfg.ClientID, Secret: secret, TokenTTL: cfg.TokenTTL, Issuer: cfg.Issuer,
		Logger: tel.Logger, Registerer: tel.Registerer,
	})
	if err != nil {
		return host.Service{}, err
	}
	svc := host.Service{Name: "issuer", HTTP: srv, Route: srv.Route}
	if cfg.RotateEvery > 0 {
		svc.Background = func(ctx context.Context) {
			t := time.NewTicker(cfg.RotateEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if err := srv.Rotate(); err != nil {
						tel.Logger.Error("rotating the signing key", "err", err)
					}
				}
			}
		}
	}
	return svc, nil
}

// Run is the issuer binary: it parses args (without the program name) and
// serves until ctx is cancelled.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	return host.Main(ctx, host.Command{
		Name:    "issuer",
		Summary: "the lab's OAuth 2.0 issuer: client-credentials tokens (ES256/RS256) and the rotating JWKS that verifies them",
		Host:    &cfg.Host,
		Flags:   cfg.RegisterFlags,
		Build: func(ctx context.Context, tel *telemetry.Telemetry) (host.Service, error) {
			return New(ctx, cfg, tel)
		},
	}, args, getenv, stdout, stderr)
}
