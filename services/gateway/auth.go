package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// authenticator checks bearer tokens: HS256 ones against the dev key,
// RS256 and ES256 ones against a key set (a JWKS, cached and refreshed by
// its keyfunc), whichever of the two it has.
type authenticator struct {
	key      []byte
	keySet   KeySet
	parser   *jwt.Parser
	rejected *prometheus.CounterVec
}

// The reasons of chaoslab_gateway_auth_rejected_total.
const (
	rejectMissing    = "missing"
	rejectMalformed  = "malformed"
	rejectExpired    = "expired"
	rejectUnknownKey = "unknown_key"
	rejectSignature  = "signature"
	rejectInvalid    = "invalid"
)

// newAuthenticator returns an authenticator for tokens signed with key
// (HS256; nil: none) or with a key of keySet (RS256, ES256; nil: none),
// judging expiry by now. One of the two is required.
func newAuthenticator(key []byte, keySet KeySet, now func() time.Time) (*authenticator, error) {
	var methods []string
	if len(key) > 0 {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if keySet != nil {
		methods = append(methods, jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg())
	}
	if len(methods) == 0 {
		return nil, errors.New("a JWT key or a JWKS URL is required")
	}
	a := &authenticator{
		key:    key,
		keySet: keySet,
		parser: jwt.NewParser(
			jwt.WithValidMethods(methods),
			jwt.WithExpirationRequired(),
			jwt.WithTimeFunc(now),
		),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_gateway_auth_rejected_total",
			Help: "Requests refused with 401, by reason (missing, malformed, expired, unknown_key, signature, invalid).",
		}, []string{"reason"}),
	}
	for _, r := range []string{rejectMissing, rejectMalformed, rejectExpired, rejectUnknownKey, rejectSignature, rejectInvalid} {
		a.rejected.WithLabelValues(r)
	}
	return a, nil
}

// require wraps next so that it runs only for requests that carry a valid
// bearer token; others get a 401 problem with a WWW-Authenticate challenge.
func (a *authenticator) require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			a.rejected.WithLabelValues(rejectMissing).Inc()
			writeProblem(w, r, unauthorizedProblem(false, "missing bearer token: send Authorization: Bearer <JWT>"))
			return
		}
		if err := a.verify(r.Context(), token); err != nil {
			reason, desc := tokenError(err)
			a.rejected.WithLabelValues(reason).Inc()
			writeProblem(w, r, unauthorizedProblem(true, desc))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// verify checks the signature, algorithm and expiry of token.
func (a *authenticator) verify(ctx context.Context, token string) error {
	_, err := a.parser.ParseWithClaims(token, &jwt.RegisteredClaims{}, func(t *jwt.Token) (any, error) {
		switch t.Method.(type) {
		case *jwt.SigningMethodHMAC:
			if len(a.key) > 0 {
				return a.key, nil
			}
		case *jwt.SigningMethodRSA, *jwt.SigningMethodECDSA:
			if a.keySet == nil {
				break
			}
			k, err := a.keySet(ctx)(t)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", errUnknownKey, err)
			}
			return k, nil
		}
		return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
	})
	if err != nil {
		return fmt.Errorf("verifying bearer token: %w", err)
	}
	return nil
}

// errUnknownKey: the key set has no key for the token's kid (or could not
// be fetched to look for it).
var errUnknownKey = errors.New("no key for the token's kid")

// bearerToken extracts the token of an "Authorization: Bearer <token>" value.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// tokenError says why a token was refused (the metric's reason) and what
// is wrong with it, without echoing it.
func tokenError(err error) (reason, desc string) {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return rejectMalformed, "the bearer token is malformed"
	case errors.Is(err, jwt.ErrTokenExpired):
		return rejectExpired, "the bearer token has expired"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return rejectInvalid, "the bearer token has no exp claim"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return rejectInvalid, "the bearer token is not valid yet"
	case errors.Is(err, errUnknownKey):
		return rejectUnknownKey, "the bearer token's key (kid) is not in the issuer's key set"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return rejectSignature, "the bearer token's signature is invalid (HS256 with the gateway's key, or RS256/ES256 with a key of the issuer's key set)"
	default:
		return rejectInvalid, "the bearer token is invalid"
	}
}

// MintToken returns an HS256 JWT for subject signed with key, issued at now
// and expiring ttl later. It is what the gateway accepts, for the dev-token
// command and for tests.
func MintToken(key []byte, subject string, ttl time.Duration, now time.Time) (string, error) {
	if len(key) == 0 {
		return "", errors.New("minting token: the signing key is empty")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("minting token: ttl must be positive, got %v", ttl)
	}
	claims := jwt.RegisteredClaims{
		Subject:   subject,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("minting token: %w", err)
	}
	return signed, nil
}
