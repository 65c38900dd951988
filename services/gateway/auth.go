package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// authenticator checks HS256 bearer tokens.
type authenticator struct {
	key    []byte
	parser *jwt.Parser
}

// newAuthenticator returns an authenticator for tokens signed with key,
// judging expiry by now.
func newAuthenticator(key []byte, now func() time.Time) *authenticator {
	return &authenticator{
		key: key,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithTimeFunc(now),
		),
	}
}

// require wraps next so that it runs only for requests that carry a valid
// bearer token; others get a 401 problem with a WWW-Authenticate challenge.
func (a *authenticator) require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			writeProblem(w, r, unauthorizedProblem(false, "missing bearer token: send Authorization: Bearer <JWT>"))
			return
		}
		if err := a.verify(token); err != nil {
			writeProblem(w, r, unauthorizedProblem(true, tokenErrorDescription(err)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// verify checks the signature, algorithm and expiry of token.
func (a *authenticator) verify(token string) error {
	_, err := a.parser.ParseWithClaims(token, &jwt.RegisteredClaims{}, func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return a.key, nil
	})
	if err != nil {
		return fmt.Errorf("verifying bearer token: %w", err)
	}
	return nil
}

// bearerToken extracts the token of an "Authorization: Bearer <token>" value.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// tokenErrorDescription says what is wrong with a token, without echoing it.
func tokenErrorDescription(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the bearer token is malformed"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the bearer token has expired"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the bearer token has no exp claim"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the bearer token is not valid yet"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "the bearer token's signature is invalid (HS256 with the gateway's key is required)"
	default:
		return "the bearer token is invalid"
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
