package host

import (
	"flag"
	"time"

	"github.com/chaoslab/chaoslab/services/faultinject"
)

// RegisterFlags registers -addr, -metrics-addr, -admin-addr, -admin-token
// and -shutdown-timeout with c's current values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "public listen address (gRPC, or HTTP for the gateway)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "listen address of /metrics, /healthz and /readyz")
	fs.StringVar(&c.AdminAddr, "admin-addr", c.AdminAddr, "listen address of the fault-injection admin API (keep it on loopback)")
	fs.StringVar(&c.AdminToken, faultinject.AdminTokenFlag, c.AdminToken, "bearer token the admin API requires (empty: none; set in a cluster)")
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long SIGTERM waits for in-flight requests to finish")
}
