// Package issuer is the lab's OAuth 2.0 token issuer: a client-credentials
// token endpoint that signs ES256 (or RS256) JWTs, and the JWKS that
// publishes the keys, rotated on a timer (Keyring). The gateway verifies
// tokens against that JWKS.
package issuer

import (
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// The issuer's routes.
const (
	RouteJWKS  = "GET /.well-known/jwks.json"
	RouteToken = "POST /oauth2/token"
	// JWKSPath and TokenPath are their paths.
	JWKSPath  = "/.well-known/jwks.json"
	TokenPath = "/oauth2/token"
)

// Server answers the token and JWKS requests.
type Server struct {
	ring     *Keyring
	clientID string
	secret   []byte
	tokenTTL time.Duration
	name     string // the iss claim
	now      func() time.Time
	logger   *slog.Logger
	mux      *http.ServeMux
	patterns map[string]bool

	issued   *prometheus.CounterVec
	rotated  prometheus.Counter
	keysSeen prometheus.GaugeFunc
}

// Options configures a Server.
type Options struct {
	Ring *Keyring
	// ClientID and Secret are the one client the token endpoint knows.
	ClientID string
	Secret   []byte
	// TokenTTL is a token's lifetime.
	TokenTTL time.Duration
	// Issuer is the tokens' iss claim.
	Issuer     string
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// NewServer returns the issuer's HTTP API.
func NewServer(opts Options) (*Server, error) {
	s := &Server{
		ring: opts.Ring, clientID: opts.ClientID, secret: opts.Secret, tokenTTL: opts.TokenTTL,
		name: opts.Issuer, now: opts.Now, logger: opts.Logger,
		mux: http.NewServeMux(), patterns: map[string]bool{},
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chaoslab_issuer_tokens_total",
			Help: "Token requests the issuer answered, by result (issued, invalid_client, invalid_request, unsupported_grant_type).",
		}, []string{"result"}),
		rotated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chaoslab_issuer_rotations_total",
			Help: "Key rotations: the next key became the signing key.",
		}),
	}
	s.keysSeen = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "chaoslab_issuer_published_keys",
		Help: "Keys the JWKS publishes (retired ones still valid, the current one, the next one).",
	}, func() float64 { return float64(len(s.ring.KIDs())) })
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	for _, r := range []string{"issued", errInvalidClient, errInvalidRequest, errUnsupportedGrant} {
		s.issued.WithLabelValues(r)
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{s.issued, s.rotated, s.keysSeen} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	s.handle(RouteJWKS, s.handleJWKS)
	s.handle(RouteToken, s.handleToken)
	return s, nil
}

func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.patterns[pattern] = true
	s.mux.Handle(pattern, h)
}

// Route names the route of r for metrics, spans and request faults.
func (s *Server) Route(r *http.Request) string {
	if _, p := s.mux.Handler(r); s.patterns[p] {
		return p
	}
	return "unmatched"
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Rotate rotates the keyring and counts it.
func (s *Server) Rotate() error {
	kid, err := s.ring.Rotate()
	if err != nil {
		return err
	}
	s.rotated.Inc()
	s.logger.Info("rotated the signing key", "kid", kid, "published", s.ring.KIDs())
	return nil
}

func (s *Server) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	b, err := s.ring.JWKS()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// The token endpoint's error codes (RFC 6749, section 5.2).
const (
	errInvalidClient    = "invalid_client"
	errInvalidRequest   = "invalid_request"
	errUnsupportedGrant = "unsupported_grant_type"
)

// handleToken is the client-credentials grant (RFC 6749, section 4.4): the
// client authenticates with HTTP Basic or with client_id and client_secret
// in the form, and gets a JWT signed with the current key, its kid in the
// header.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.tokenError(w, http.StatusBadRequest, errInvalidRequest, "the body is not a form")
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "client_credentials" {
		s.tokenError(w, http.StatusBadRequest, errUnsupportedGrant, "only grant_type=client_credentials is supported")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != s.clientID || subtle.ConstantTimeCompare([]byte(secret), s.secret) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="chaoslab issuer"`)
		s.tokenError(w, http.StatusUnauthorized, errInvalidClient, "unknown client or wrong secret")
		return
	}
	signer, kid := s.ring.Signer()
	now := s.now()
	claims := jwt.RegisteredClaims{
		Issuer:    s.name,
		Subject:   id,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(s.tokenTTL)),
	}
	method := jwt.SigningMethod(jwt.SigningMethodES256)
	if s.ring.alg == AlgRS256 {
		method = jwt.SigningMethodRS256
	}
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = kid
	signed, err := tok.SignedString(signer)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.issued.WithLabelValues("issued").Inc()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": signed, "token_type": "Bearer", "expires_in": int(s.tokenTTL.Seconds()),
	})
}

func (s *Server) tokenError(w http.ResponseWriter, code int, errCode, desc string) {
	s.issued.WithLabelValues(errCode).Inc()
	writeJSON(w, code, map[string]string{"error": errCode, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
