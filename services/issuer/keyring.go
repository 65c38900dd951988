package issuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
)

// The signing algorithms the issuer offers.
const (
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
)

// key is one signing key of the ring. A key is published from its
// creation on: it is the next key until it signs (Activated), the current
// one while it signs, and retired once the next one took over (Retired),
// published for as long as a token it signed can be valid.
type key struct {
	KID       string    `json:"kid"`
	Alg       string    `json:"alg"`
	PKCS8     []byte    `json:"pkcs8"`
	Created   time.Time `json:"created"`
	Activated time.Time `json:"activated,omitzero"`
	Retired   time.Time `json:"retired,omitzero"`

	signer crypto.Signer
}

// Keyring holds the issuer's keys: retired ones still published, the
// current one that signs, and the next one, published one rotation ahead
// so that a verifier that refreshes its key set more often than the issuer
// rotates knows a key before the first token it signs.
//
// The ring lives in a file (written whole on every change, through a
// rename) so that a restarted issuer signs with, and publishes, the same
// keys: tokens issued before a crash stay valid.
type Keyring struct {
	mu       sync.Mutex
	alg      string
	tokenTTL time.Duration
	file     string
	now      func() time.Time
	keys     []*key // by creation: retired…, current, next
}

// OpenKeyring loads the ring in file or, when there is none, creates one
// with a current and a next key of alg. tokenTTL is the longest a token
// lives: a retired key is published that long after it stopped signing.
func OpenKeyring(file, alg string, tokenTTL time.Duration, now func() time.Time) (*Keyring, error) {
	if alg != AlgES256 && alg != AlgRS256 {
		return nil, fmt.Errorf("signing algorithm %q: want %s or %s", alg, AlgES256, AlgRS256)
	}
	k := &Keyring{alg: alg, tokenTTL: tokenTTL, file: file, now: now}
	b, err := os.ReadFile(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
		cur, err := k.newKey()
		if err != nil {
			return nil, err
		}
		cur.Activated = now()
		next, err := k.newKey()
		if err != nil {
			return nil, err
		}
		k.keys = []*key{cur, next}
		return k, k.save()
	case err != nil:
		return nil, fmt.Errorf("reading the keyring: %w", err)
	}
	if err := json.Unmarshal(b, &k.keys); err != nil {
		return nil, fmt.Errorf("keyring %s: %w", file, err)
	}
	if len(k.keys) < 2 {
		return nil, fmt.Errorf("keyring %s: %d keys, want at least a current and a next one", file, len(k.keys))
	}
	for _, ky := range k.keys {
		p, err := x509.ParsePKCS8PrivateKey(ky.PKCS8)
		if err != nil {
			return nil, fmt.Errorf("keyring %s: key %s: %w", file, ky.KID, err)
		}
		s, ok := p.(crypto.Signer)
		if !ok || ky.Alg != alg {
			return nil, fmt.Errorf("keyring %s: key %s is a %s key; the issuer signs %s (remove the file to start a new ring)", file, ky.KID, ky.Alg, alg)
		}
		ky.signer = s
	}
	return k, nil
}

// newKey generates a key of the ring's algorithm; its kid is the first 8
// bytes of the SHA-256 of its public key, in hex.
func (k *Keyring) newKey() (*key, error) {
	var s crypto.Signer
	var err error
	switch k.alg {
	case AlgES256:
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		s, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		return nil, fmt.Errorf("generating a key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(s)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pub)
	return &key{KID: hex.EncodeToString(sum[:8]), Alg: k.alg, PKCS8: der, Created: k.now(), signer: s}, nil
}

// save writes the ring to its file through a rename, readable by the
// issuer only.
func (k *Keyring) save() error {
	b, err := json.Marshal(k.keys)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(k.file), 0o755); err != nil {
		return err
	}
	tmp := k.file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing the keyring: %w", err)
	}
	return os.Rename(tmp, k.file)
}

// current is the key that signs: the last one activated.
func (k *Keyring) current() *key { return k.keys[len(k.keys)-2] }

// Signer returns the current key and its kid.
func (k *Keyring) Signer() (crypto.Signer, string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.current()
	return c.signer, c.KID
}

// Rotate makes the next key the current one, creates a new next key and
// drops the retired keys no valid token can name any more. It returns the
// kid that signs from now on.
func (k *Keyring) Rotate() (string, error) {
	next, err := k.newKey()
	if err != nil {
		return "", err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	k.current().Retired = now
	k.keys[len(k.keys)-1].Activated = now
	keep := k.keys[:0]
	for _, ky := range k.keys {
		if ky.Retired.IsZero() || now.Sub(ky.Retired) < k.tokenTTL {
			keep = append(keep, ky)
		}
	}
	k.keys = append(keep, next)
	return k.current().KID, k.save()
}

// KIDs lists the published keys' ids, oldest first.
func (k *Keyring) KIDs() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]string, len(k.keys))
	for i, ky := range k.keys {
		out[i] = ky.KID
	}
	return out
}

// JWKS is the public key set: every published key, as RFC 7517 JSON.
func (k *Keyring) JWKS() ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	set := jwkset.JWKSMarshal{Keys: make([]jwkset.JWKMarshal, 0, len(k.keys))}
	for _, ky := range k.keys {
		j, err := jwkset.NewJWKFromKey(ky.signer.Public(), jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.ALG(ky.Alg), KID: ky.KID, USE: jwkset.UseSig},
		})
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", ky.KID, err)
		}
		set.Keys = append(set.Keys, j.Marshal())
	}
	return json.Marshal(set)
}
