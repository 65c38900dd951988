package cli

import (
	"context"
	"fmt"
	"github.com/chaoslab/chaoslab/harness/exitcode"
	"text/tabwriter"
	"time"

	"github.com/chaoslab/chaoslab/harness/stack"
)

// runUp starts the local lab and prints its endpoints.
func runUp(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "up", "up [flags]\n\nStarts Jaeger, Prometheus, Toxiproxy and the four services — as processes on 127.0.0.1 (-stack local)\nor as containers (-stack compose, with Grafana on :3000) — and waits until each is ready.")
	o := labFlags(fs, env)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintf(env.Stdout, "starting the %s\n", o.describe())
	lab, err := o.up(ctx, env.Stdout)
	if err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	fmt.Fprintf(env.Stdout, "\nlab up in %.1fs\n\n", time.Since(start).Seconds())
	printEndpoints(env, lab.Endpoints(), o)
	return nil
}

func printEndpoints(env Env, e stack.Endpoints, o *labOptions) {
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
	o.p.Hints(env.Stdout, e)
}
