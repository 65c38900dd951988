package telemetry

import (
	"flag"
	"log/slog"
	"strconv"
)

// RegisterFlags registers -instance, -otlp-endpoint, -trace-sample-ratio,
// -instrument and -log-level with c's current values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Instance, "instance", c.Instance, "name of this replica: the service.instance.id of its spans and its key in the registry (default: the service name)")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", c.OTLPEndpoint, "host:port of an OTLP/gRPC trace collector such as Jaeger (empty: spans are not exported)")
	fs.Float64Var(&c.SampleRatio, "trace-sample-ratio", c.SampleRatio, "fraction of new traces sampled (0 means all)")
	fs.BoolFunc("instrument", "tracing and request metrics on (true) or off (false); default true", func(s string) error {
		on, err := strconv.ParseBool(s)
		c.Disabled = !on
		return err
	})
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "minimum log level: debug, info, warn or error")
}
