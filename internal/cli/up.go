package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/stack/local"
)

// runUp starts the local lab and prints its endpoints.
func runUp(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "up", "up [flags]\n\nStarts Jaeger, Prometheus, Toxiproxy and the four services on 127.0.0.1 and waits until each is ready.")
	cfg := labFlags(fs, env)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.Progress = env.Stdout
	start := time.Now()
	fmt.Fprintf(env.Stdout, "starting the lab in %s\n", cfg.RunDir)
	lab, err := local.Up(ctx, *cfg)
	if err != nil {
		return &exitError{code: ExitInfra, err: err}
	}
	fmt.Fprintf(env.Stdout, "\nlab up in %.1fs\n\n", time.Since(start).Seconds())
	printEndpoints(env, lab.Endpoints(), cfg.RunDir)
	return nil
}

func printEndpoints(env Env, e stack.Endpoints, runDir string) {
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ENDPOINT\tADDRESS")
	fmt.Fprintf(w, "gateway (through client->gateway proxy)\t%s\n", e.GatewayURL)
	fmt.Fprintf(w, "Prometheus (UI and API)\t%s\n", e.PrometheusURL)
	fmt.Fprintf(w, "Jaeger query API (HTTP)\t%s\n", e.JaegerQueryURL)
	fmt.Fprintf(w, "Jaeger query API (gRPC api_v2)\t%s\n", e.JaegerQueryGRPC)
	fmt.Fprintf(w, "Jaeger OTLP (gRPC)\t%s\n", e.OTLPGRPC)
	fmt.Fprintf(w, "Toxiproxy API\t%s\n", e.ToxiproxyURL)
	for _, svc := range stack.Services() {
		s := e.Services[svc]
		fmt.Fprintf(w, "%s\t%s  metrics %s/metrics  admin %s/faults\n", svc, s.Addr, s.MetricsURL, s.AdminURL)
	}
	for _, name := range stack.EdgeNames() {
		edge := e.Edges[name]
		fmt.Fprintf(w, "proxy %s\t%s → %s\n", name, edge.Listen, edge.Upstream)
	}
	w.Flush()
	fmt.Fprintf(env.Stdout, "\ntoken:  chaoslab token -key-file %s\nlogs:   %s/logs/\nstop:   chaoslab down\n",
		e.JWTKeyFile, runDir)
}
