//go:build integration

package integration

import (
	"os"
	"testing"
)

// TestMain sets what testcontainers-go needs on this kind of machine, unless
// the environment says otherwise: no Ryuk (its image cannot be pulled; the
// tests' cleanups remove every container, the network and the images
// instead), and the host of the mapped ports (without it, testcontainers
// resolves a wrong address here).
func TestMain(m *testing.M) {
	for k, v := range map[string]string{
		"TESTCONTAINERS_RYUK_DISABLED": "true",
		"TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1",
	} {
		if _, set := os.LookupEnv(k); !set {
			os.Setenv(k, v)
		}
	}
	os.Exit(m.Run())
}
