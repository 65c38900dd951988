package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"time"

	"github.com/chaoslab/chaoslab/harness/auth"
	labfile "github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/stack/kubernetes/manifests"
)

// manifestsUsage is the usage of chaoslab manifests.
const manifestsUsage = `manifests [-lab FILE] [-o DIR] [-namespace N] [-parallelism N] [-image-tag T]
          [-load-script S] [-telemetry own|external] [-otlp-grpc H:P] [-otlp-http H:P] [-prometheus-url URL]

Writes the lab file as Kubernetes manifests, a kustomize tree in DIR
(docs/kubernetes.md):

  DIR/base/                       per service a Deployment (the lab's replicas) and a Service
                                  (every port but the fault admin port); Toxiproxy carrying
                                  every edge; Prometheus (scrape jobs, SLO rules) and Jaeger;
                                  the k6 scripts and a k6-operator TestRun (k6.io/v1alpha1)
                                  with -parallelism runners; Secret <ns>-secrets
  DIR/overlays/lab/               the base, with its own Prometheus and Jaeger
  DIR/overlays/external-telemetry/ without them: spans to -otlp-grpc, k6 metrics to
                                  -prometheus-url (remote write)
  DIR/kustomization.yaml          applies the overlay -telemetry chooses

Apply it with  kubectl apply -k DIR  (the TestRun needs the k6-operator
installed). The Secret holds a fresh random admin token (the bearer token
the services' fault admin APIs require in a cluster), and for hs256-jwt
auth a fresh key and a load token minted with it: each run writes new ones.`

// runManifests writes the lab's Kubernetes manifests.
func runManifests(_ context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "manifests", manifestsUsage)
	var labPath string
	registerLabFile(fs, &labPath)
	dir := fs.String("o", "k8s", "the directory the kustomize tree is written to (its files are replaced, others left alone)")
	namespace := fs.String("namespace", "", "the namespace of every object (default: the lab's name)")
	parallelism := fs.Int("parallelism", 1, "k6 runner pods of the TestRun (1 to 1000)")
	imageTag := fs.String("image-tag", "dev", "the services' image tag ({{.ImageTag}})")
	script := fs.String("load-script", "", "the k6 script the TestRun runs, in the lab's load.scripts (default: the first by name)")
	telemetry := fs.String("telemetry", "", "the overlay DIR/kustomization.yaml applies: own (the lab's Prometheus and Jaeger) or external (default: own, external when the lab names an existing Prometheus)")
	otlpGRPC := fs.String("otlp-grpc", "", "external telemetry: the OTLP gRPC receiver, host:port (default: the lab's, else otel-collector.monitoring.svc:4317)")
	otlpHTTP := fs.String("otlp-http", "", "external telemetry: the OTLP HTTP receiver, host:port (default: the lab's, else otel-collector.monitoring.svc:4318)")
	promURL := fs.String("prometheus-url", "", "external telemetry: a Prometheus with remote write enabled (default: the lab's, else http://prometheus.monitoring.svc:9090)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected arguments %q", fs.Args())
	}
	l, err := loadLabFile(labPath)
	if err != nil {
		return err
	}
	opt := manifests.Options{
		Namespace: *namespace, ImageTag: *imageTag, Parallelism: *parallelism, LoadScript: *script,
		Telemetry:  *telemetry,
		External:   manifests.External{OTLPGRPC: *otlpGRPC, OTLPHTTP: *otlpHTTP, PrometheusURL: *promURL},
		AdminToken: randomToken(),
	}
	if *parallelism == 0 {
		return usageErr("-parallelism 0: want 1 to 1000 k6 runners")
	}
	note := ""
	switch l.Load.Auth.Provider {
	case labfile.AuthHS256:
		opt.JWTKey = randomToken()
		if opt.LoadToken, err = auth.MintHS256([]byte(opt.JWTKey), l.Load.Auth.Subject, l.Load.Auth.TTL, time.Now()); err != nil {
			return err
		}
		note = fmt.Sprintf("the load token expires in %s (the lab's load.auth.ttl): run this again for a new one", l.Load.Auth.TTL)
	case labfile.AuthClient:
		opt.JWTKey = randomToken() // the client's secret, shared with the issuer
		note = "the k6 runners fetch their token from the lab's issuer (TOKEN_URL, CLIENT_ID, CLIENT_SECRET from the Secret's jwt-key)"
	case labfile.AuthCommand:
		note = "the lab's load.auth is a command, which a cluster cannot run: put a token in the Secret's load-token"
	}
	files, err := manifests.Render(l, opt)
	if err != nil {
		return usageErr("the lab file %s cannot be rendered for Kubernetes:\n%w", labPath, err)
	}
	paths, err := manifests.Write(*dir, files)
	for _, p := range paths {
		fmt.Fprintf(env.Stdout, "wrote %s\n", p)
	}
	if err != nil {
		return fmt.Errorf("writing the manifests: %w", err)
	}
	fmt.Fprintf(env.Stdout, "\napply:  kubectl apply -k %s   (or -k %s, -k %s)\n", *dir,
		filepath.Join(*dir, "overlays", manifests.OverlayLab), filepath.Join(*dir, "overlays", manifests.OverlayExternal))
	if note != "" {
		fmt.Fprintf(env.Stdout, "note:   %s\n", note)
	}
	return nil
}

// randomToken is 32 random bytes in hex.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
