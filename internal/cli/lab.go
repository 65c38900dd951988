package cli

import (
	"flag"
	"path/filepath"
	"strconv"

	"github.com/chaoslab/chaoslab/harness/stack/local"
)

// labFlags registers the flags that say where the local lab lives, with
// CHAOSLAB_PORT_OFFSET as the fallback for -port-offset. Prometheus loads
// the rule files matching -rules (the SLO rules generated from
// slo/slos.yaml) when the lab starts.
func labFlags(fs *flag.FlagSet, env Env) *local.Config {
	cfg := local.DefaultConfig()
	if v, err := strconv.Atoi(env.Getenv("CHAOSLAB_PORT_OFFSET")); err == nil {
		cfg.PortOffset = v
	}
	fs.StringVar(&cfg.RunDir, "run-dir", cfg.RunDir, "where the lab keeps its state, logs, configs and data")
	fs.StringVar(&cfg.BinDir, "bin-dir", cfg.BinDir, "where the service binaries are (make build)")
	fs.StringVar(&cfg.ToolsDir, "tools-dir", cfg.ToolsDir, "where jaeger, prometheus and toxiproxy-server are (make tools)")
	fs.IntVar(&cfg.PortOffset, "port-offset", cfg.PortOffset, "shift every lab port by N (default $CHAOSLAB_PORT_OFFSET or 0)")
	fs.DurationVar(&cfg.StopGrace, "stop-grace", cfg.StopGrace, "how long a component may take to exit after SIGTERM before SIGKILL")
	fs.Func("rules", "glob of Prometheus rule files the lab loads (default slo/rules/*.yml; \"\" for none)", func(glob string) error {
		return setRules(&cfg, glob)
	})
	_ = setRules(&cfg, filepath.Join("slo", "rules", "*.yml"))
	return &cfg
}

func setRules(cfg *local.Config, glob string) error {
	cfg.RuleFiles = nil
	if glob == "" {
		return nil
	}
	files, err := filepath.Glob(glob)
	if err != nil {
		return err
	}
	cfg.RuleFiles = files
	return nil
}
