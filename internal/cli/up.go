package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/stack"
)

// runUp starts the local lab and prints its endpoints.
func runUp(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "up", "up [flags]\n\nStarts Jaeger, Prometheus, Toxiproxy and the lab file's services (-lab, the shop by default) — as processes on 127.0.0.1 (-stack local)\nor as containers (-stack compose, with Grafana on :3000) — and waits until each is ready.")
	o := labFlags(fs, env)
	var labPath string
	registerLabFile(fs, &labPath)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	lf, err := loadLabFile(labPath)
	if err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintf(env.Stdout, "starting the %s of lab %s\n", o.describe(), lf.Name)
	lab, err := o.up(ctx, lf, env.Stdout)
	if err != nil {
		return &exitError{code: exitcode.Infra, err: err}
	}
	fmt.Fprintf(env.Stdout, "\nlab up in %.1fs\n\n", time.Since(start).Seconds())
	printEndpoints(env, lab.Endpoints(), o)
	if hint := tokenHint(lf, lab.Endpoints(), lab.RunDir()); hint != "" {
		fmt.Fprintf(env.Stdout, "\ntoken:  %s", hint)
	}
	o.p.Hints(env.Stdout, lab.Endpoints())
	return nil
}

// tokenHint is the command that gets a token the lab's services accept,
// as its auth provider makes them: minted with the shared key
// (hs256-jwt), fetched from the issuer (client-credentials); "" for the
// others.
func tokenHint(lf *labfile.Lab, e stack.Endpoints, runDir string) string {
	a := lf.Load.Auth
	switch a.Provider {
	case labfile.AuthHS256:
		if e.JWTKeyFile != "" {
			return "chaoslab token -key-file " + e.JWTKeyFile
		}
	case labfile.AuthClient:
		u, err := labfile.Render("load.auth.token_url", a.TokenURL, harnessVars(lf, e, runDir))
		if err == nil && e.JWTKeyFile != "" {
			return fmt.Sprintf("chaoslab token -token-url %s -client-id %s -secret-file %s", u, a.ClientID, e.JWTKeyFile)
		}
	}
	return ""
}

// serviceLine is where a service (or one replica) listens.
func serviceLine(s stack.Service) string {
	line := s.Protocol + " " + s.Addr
	if s.MetricsURL != "" {
		line += "  metrics " + s.MetricsURL
	}
	if s.AdminURL != "" {
		line += "  faults " + s.AdminURL + "/faults"
	}
	return line
}

func printEndpoints(env Env, e stack.Endpoints, o *labOptions) {
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ENDPOINT\tADDRESS")
	fmt.Fprintf(w, "entry (through its proxy)\t%s\n", e.GatewayURL)
	fmt.Fprintf(w, "Prometheus (UI and API)\t%s\n", e.PrometheusURL)
	fmt.Fprintf(w, "Jaeger query API (HTTP)\t%s\n", e.JaegerQueryURL)
	fmt.Fprintf(w, "Jaeger query API (gRPC api_v2)\t%s\n", e.JaegerQueryGRPC)
	fmt.Fprintf(w, "Jaeger OTLP (gRPC)\t%s\n", e.OTLPGRPC)
	fmt.Fprintf(w, "Toxiproxy API\t%s\n", e.ToxiproxyURL)
	for _, svc := range e.ServiceOrder {
		s := e.Services[svc]
		if len(s.Instances) == 0 {
			fmt.Fprintf(w, "%s\t%s\n", svc, serviceLine(s))
		}
		for _, i := range s.Instances { // a service with replicas: each of them
			fmt.Fprintf(w, "%s\t%s\n", i.Name, serviceLine(i.Service))
		}
	}
	for _, name := range e.EdgeOrder() {
		edge := e.Edges[name]
		fmt.Fprintf(w, "proxy %s\t%s → %s\n", name, edge.Listen, edge.Upstream)
		for r, rep := range edge.Replicas {
			fmt.Fprintf(w, "proxy %s[%d]\t%s → %s\n", name, r+1, rep.Listen, rep.Upstream)
		}
	}
	w.Flush()
}
