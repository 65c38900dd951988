package stack

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"strings"
)

// EnsureJWTKey makes sure path holds an HS256 key for the lab's hs256-jwt auth
// provider: a
// random 32-byte key, hex encoded, written once (mode 0600) and kept across
// restarts of the lab so that minted tokens stay valid. It returns the key.
func EnsureJWTKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	key := hex.EncodeToString(raw)
	return key, os.WriteFile(path, []byte(key+"\n"), 0o600)
}
