package discovery

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// Scheme is the gRPC target scheme of registry targets: a dependency
// address etcd:///chaoslab/<key> is resolved through the registry.
const Scheme = "etcd"

// KeyPrefix is the etcd key prefix every registration lives under: the
// replica instance of key registers chaoslab/<key>/<instance>.
const KeyPrefix = "chaoslab/"

// DefaultTTL is the lease TTL of a registration: a replica that dies
// without revoking its lease disappears from its callers this long after
// its last keep-alive.
const DefaultTTL = 2 * time.Second

// targetPrefix is what a registry target starts with.
const targetPrefix = Scheme + ":///"

// Config is the registry side of a service's command line.
type Config struct {
	// Registry is the etcd client endpoint, host:port. Empty: no registry;
	// the service neither registers nor resolves etcd:/// targets.
	Registry string
	// Advertise is what this replica registers (needs Registry).
	Advertise Advertisements
	// TTL is the lease TTL of the registrations (0: DefaultTTL): at least
	// a second, rounded up to whole seconds (etcd raises a TTL below its
	// minimum, 2 s with its default heartbeat).
	TTL time.Duration
}

// RegisterFlags registers -registry, -advertise and -registry-ttl with c's
// current values as defaults (a zero TTL defaults to DefaultTTL).
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	fs.StringVar(&c.Registry, "registry", c.Registry, "host:port of the etcd registry (empty: no registry; -advertise and etcd:/// addresses need one)")
	fs.Var(&c.Advertise, "advertise", "endpoints this replica registers, key=host:port[,key=host:port…]; callers dial them as etcd:///chaoslab/<key> (needs -registry)")
	fs.DurationVar(&c.TTL, "registry-ttl", c.TTL, "lease TTL of the registrations: how long a replica that died without deregistering stays listed")
}

// Validate checks c against the dependency addresses the service dials,
// keyed by their flag name ("inventory-addr"): an etcd:/// address or
// -advertise without -registry is an error, as is a malformed etcd:///
// target.
func (c Config) Validate(addrFlags map[string]string) error {
	var errs []error
	if c.Registry == "" && len(c.Advertise) > 0 {
		errs = append(errs, fmt.Errorf("-advertise %s needs -registry (the etcd host:port to register in)", c.Advertise))
	}
	if c.Registry != "" {
		if _, _, err := net.SplitHostPort(c.Registry); err != nil {
			errs = append(errs, fmt.Errorf("-registry %q: want host:port: %w", c.Registry, err))
		}
	}
	if c.TTL != 0 && c.TTL < time.Second { // 0: DefaultTTL
		errs = append(errs, fmt.Errorf("-registry-ttl %s: want at least 1s (etcd leases count whole seconds)", c.TTL))
	}
	names := make([]string, 0, len(addrFlags))
	for name := range addrFlags {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		addr := addrFlags[name]
		if !IsTarget(addr) {
			continue
		}
		if _, err := TargetKey(addr); err != nil {
			errs = append(errs, fmt.Errorf("-%s: %w", name, err))
			continue
		}
		if c.Registry == "" {
			errs = append(errs, fmt.Errorf("-%s %s needs -registry (the etcd host:port to resolve it in)", name, addr))
		}
	}
	return errors.Join(errs...)
}

// IsTarget reports whether addr is a registry target (etcd:///…) rather
// than a host:port.
func IsTarget(addr string) bool { return strings.HasPrefix(addr, targetPrefix) }

// Target is the address callers dial to reach the replicas registered
// under key: etcd:///chaoslab/<key>.
func Target(key string) string { return targetPrefix + KeyPrefix + key }

// TargetKey returns the key of a registry target etcd:///chaoslab/<key>.
func TargetKey(target string) (string, error) {
	rest, ok := strings.CutPrefix(target, targetPrefix+KeyPrefix)
	if !ok || !validKey(rest) {
		return "", fmt.Errorf("registry target %q: want %s<key> (a key of letters, digits, '-', '_' or '.')", target, targetPrefix+KeyPrefix)
	}
	return rest, nil
}

// validKey accepts a key of letters, digits, '-', '_' and '.'.
func validKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Advertisement is one endpoint a replica registers: callers of
// etcd:///chaoslab/<Key> reach it at Addr.
type Advertisement struct {
	Key  string
	Addr string
}

// Advertisements is the value of -advertise: key=host:port[,key=host:port…].
// Setting it replaces the list.
type Advertisements []Advertisement

// String formats a as -advertise takes it.
func (a Advertisements) String() string {
	parts := make([]string, len(a))
	for i, ad := range a {
		parts[i] = ad.Key + "=" + ad.Addr
	}
	return strings.Join(parts, ",")
}

// Set parses key=host:port[,key=host:port…]; an empty string clears the
// list.
func (a *Advertisements) Set(s string) error {
	var out Advertisements
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, addr, ok := strings.Cut(part, "=")
		if !ok || !validKey(key) {
			return fmt.Errorf("%q: want key=host:port with a key of letters, digits, '-', '_' or '.'", part)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil || addr == "" {
			return fmt.Errorf("%q: want key=host:port: address %q is not host:port", part, addr)
		}
		if seen[key] {
			return fmt.Errorf("%q: key %s is advertised twice", part, key)
		}
		seen[key] = true
		out = append(out, Advertisement{Key: key, Addr: addr})
	}
	*a = out
	return nil
}
