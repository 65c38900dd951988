package gateway

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"golang.org/x/time/rate"

	"github.com/chaoslab/chaoslab/services/internal/telemetry"
)

// JWKSConfig is where the gateway finds the keys of RS256/ES256 tokens and
// how it keeps them: a cache refreshed on a timer and, for a kid it does
// not know, at most once per UnknownKIDEvery. A refresh that fails keeps
// the cached keys; a token whose kid stays unknown is refused with 401.
type JWKSConfig struct {
	// URL is the issuer's JWKS ("": RS256/ES256 tokens are refused).
	URL string
	// Refresh is how often the key set is fetched.
	Refresh time.Duration
	// Timeout bounds one fetch; a request with an unknown kid waits at most
	// this long, for the limiter and the fetch together.
	Timeout time.Duration
	// UnknownKIDEvery is the least time between two fetches for unknown
	// kids.
	UnknownKIDEvery time.Duration
}

// RegisterFlags registers the -jwks-* flags with c's values as defaults.
func (c *JWKSConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.URL, "jwks-url", c.URL, "the issuer's JWKS: RS256/ES256 bearer tokens are verified against its keys (empty: HS256 only)")
	fs.DurationVar(&c.Refresh, "jwks-refresh", c.Refresh, "how often the JWKS is fetched again")
	fs.DurationVar(&c.Timeout, "jwks-timeout", c.Timeout, "timeout of one JWKS fetch (a request with an unknown kid waits for at most one)")
	fs.DurationVar(&c.UnknownKIDEvery, "jwks-unknown-kid-every", c.UnknownKIDEvery, "least time between two JWKS fetches for tokens with an unknown kid")
}

// KeySet finds a token's key in a key set, its fetches (if any) under ctx.
type KeySet func(ctx context.Context) jwt.Keyfunc

// keyfunc returns the cached, refreshed key set of c.URL. Its fetches are
// traced and counted (chaoslab_gateway_jwks_fetches_total{result}); it
// refreshes until ctx ends. The issuer being down when the gateway starts
// is not an error: tokens are refused until a fetch succeeds.
func (c JWKSConfig) keyfunc(ctx context.Context, tel *telemetry.Telemetry) (KeySet, error) {
	switch {
	case c.Refresh <= 0:
		return nil, fmt.Errorf("-jwks-refresh must be positive, got %s", c.Refresh)
	case c.Timeout <= 0:
		return nil, fmt.Errorf("-jwks-timeout must be positive, got %s", c.Timeout)
	case c.UnknownKIDEvery <= 0:
		return nil, fmt.Errorf("-jwks-unknown-kid-every must be positive, got %s", c.UnknownKIDEvery)
	}
	fetches := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chaoslab_gateway_jwks_fetches_total",
		Help: "Fetches of the issuer's JWKS, by result (ok, error).",
	}, []string{"result"})
	fetches.WithLabelValues("ok")
	fetches.WithLabelValues("error")
	if tel.Registerer != nil {
		if err := tel.Registerer.Register(fetches); err != nil {
			return nil, fmt.Errorf("registering the JWKS fetch counter: %w", err)
		}
	}
	var rt http.RoundTripper = http.DefaultTransport
	if tel.Instrument {
		rt = otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(tel.TracerProvider), otelhttp.WithPropagators(tel.Propagator))
	}
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{c.URL}, keyfunc.Override{
		Client:            &http.Client{Transport: countingTransport{next: rt, fetches: fetches}},
		HTTPTimeout:       c.Timeout,
		RefreshInterval:   c.Refresh,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(c.UnknownKIDEvery), 1),
		// Bounds a request's wait for the limiter and the fetch together
		// (jwkset gives both the same context).
		RateLimitWaitMax: c.Timeout,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				tel.Logger.WarnContext(ctx, "fetching the JWKS failed; the cached keys stay", "url", u, "err", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("the JWKS at %s: %w", c.URL, err)
	}
	return kf.KeyfuncCtx, nil
}

// countingTransport counts the JWKS fetches by result.
type countingTransport struct {
	next    http.RoundTripper
	fetches *prometheus.CounterVec
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	result := "ok"
	if err != nil || resp.StatusCode != http.StatusOK {
		result = "error"
	}
	t.fetches.WithLabelValues(result).Inc()
	return resp, err
}
