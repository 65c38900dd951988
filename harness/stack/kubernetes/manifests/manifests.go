// Package manifests renders a lab (harness/lab) as Kubernetes manifests: a
// kustomize tree that `kubectl apply -k` takes, and Build, which runs
// kustomize (sigs.k8s.io/kustomize/api, krusty) over it.
//
// The tree (Render, Write):
//
//	kustomization.yaml              resources: [overlays/<Options.Telemetry>]
//	base/kustomization.yaml         the namespace, and every file below
//	base/namespace.yaml             the Namespace
//	base/secrets.yaml               Secret <lab>-secrets: admin-token, jwt-key, load-token
//	base/telemetry.yaml             ConfigMap <lab>-telemetry: where spans and k6 metrics go
//	base/<service>.yaml             per service: a Deployment (the lab's replicas) and a Service
//	base/toxiproxy.yaml             ConfigMap (the proxies), Deployment, Service: every edge
//	base/prometheus.yaml            ConfigMap (scrape jobs, SLO rules), Deployment, Service
//	base/jaeger.yaml                ConfigMap (Jaeger v2), Deployment, Service
//	base/load.yaml                  ConfigMap of the k6 scripts, and the k6-operator TestRun
//	overlays/lab/                   the base: the lab's own Prometheus and Jaeger
//	overlays/external-telemetry/    the base without Prometheus and Jaeger; spans and
//	                                k6 metrics go to Options.External
//
// Every object carries LabelManagedBy=chaoslab and LabelPartOf=<lab name>.
// A service's Deployment selects its pods by LabelService=<service> (and
// LabelPartOf): that is the label to find a service's pods by. Its
// containers get the lab's compose section (image, env) rendered for the
// cluster, or, for a service without one, its local command in the image
// <lab>/<service>:<tag> with {{.BinDir}} = /usr/local/bin. Callers reach
// callees through the toxiproxy Service at each edge's proxy port, as on
// the other stacks. A service's Service carries every port but its fault
// admin port, which is never exposed; the admin API is reached through a
// port-forward and requires the bearer token of Secret <lab>-secrets
// (faultinject's -admin-token flag, appended to the service's arguments).
//
// Spans and k6 metrics are addressed indirectly: a container reads the
// OTLP and Prometheus addresses from ConfigMap <lab>-telemetry into
// environment variables, and the lab's templates see {{.Telemetry.OTLPGRPC}}
// as $(CHAOSLAB_K8S_OTLP_GRPC), which Kubernetes expands; an overlay that
// changes the telemetry only patches that ConfigMap.
package manifests

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/chaoslab/chaoslab/harness/lab"
)

// The labels every object carries, and the one that selects a service's
// pods.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPartOf    = "app.kubernetes.io/part-of"
	// LabelService is <service> on a service's Deployment, pods and
	// Service, and on the harness's components (toxiproxy, prometheus,
	// jaeger): the pods of service S of lab L are those labelled
	// LabelService=S,LabelPartOf=L.
	LabelService = "app.kubernetes.io/name"
	// ManagedBy is LabelManagedBy's value.
	ManagedBy = "chaoslab"
)

// The overlays Render writes.
const (
	OverlayLab      = "lab"
	OverlayExternal = "external-telemetry"
)

// Telemetry modes: the lab's own Prometheus and Jaeger, or the cluster's.
const (
	TelemetryOwn      = "own"
	TelemetryExternal = "external"
)

// The keys of Secret <lab>-secrets.
const (
	SecretAdminToken = "admin-token"
	SecretJWTKey     = "jwt-key"
	SecretLoadToken  = "load-token"
)

// Options say how a lab is rendered. Zero values take the defaults.
type Options struct {
	// Namespace is where every object goes; default: the lab's name
	// (made a DNS label).
	Namespace string
	// ImageTag is the services' {{.ImageTag}}; default "dev".
	ImageTag string
	// Parallelism is the TestRun's number of k6 runners; default 1.
	Parallelism int
	// LoadScript is the k6 script the TestRun runs, in the lab's
	// load.scripts; default: the first script there, by name.
	LoadScript string
	// Telemetry chooses the overlay the top kustomization.yaml applies:
	// TelemetryOwn (default; TelemetryExternal when the lab names an
	// existing Prometheus) or TelemetryExternal.
	Telemetry string
	// External is where spans and k6 metrics go in the external-telemetry
	// overlay; unset fields take the lab's telemetry URLs, else placeholders
	// in a monitoring namespace.
	External External
	// AdminToken, JWTKey and LoadToken fill Secret <lab>-secrets: the fault
	// admin APIs' bearer token, the hs256-jwt key the services verify
	// tokens with, and the token the k6 runners send. Empty: a random
	// admin token and key (so the output differs per call), and no load
	// token.
	AdminToken, JWTKey, LoadToken string
}

// External is a cluster's own telemetry.
type External struct {
	// OTLPGRPC and OTLPHTTP are host:port of an OTLP receiver.
	OTLPGRPC, OTLPHTTP string
	// PrometheusURL is a Prometheus that accepts remote write (k6's
	// metrics go to <url>/api/v1/write).
	PrometheusURL string
}

// The defaults of Options.External without the lab's URLs.
const (
	defaultExternalOTLPGRPC   = "otel-collector.monitoring.svc:4317"
	defaultExternalOTLPHTTP   = "otel-collector.monitoring.svc:4318"
	defaultExternalPrometheus = "http://prometheus.monitoring.svc:9090"
	defaultImageTag           = "dev"
)

// File is one file of the tree.
type File struct {
	// Path is relative to the tree's root, with slashes.
	Path string
	Data []byte
}

// dnsLabel matches a DNS-1123 label.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// withDefaults checks opt and fills its defaults for l.
func (opt Options) withDefaults(l *lab.Lab) (Options, error) {
	var errs []error
	if opt.Namespace == "" {
		opt.Namespace = strings.Trim(regexp.MustCompile(`[^a-z0-9-]+`).ReplaceAllString(strings.ToLower(l.Name), "-"), "-")
	}
	if len(opt.Namespace) > 63 || !dnsLabel.MatchString(opt.Namespace) {
		errs = append(errs, fmt.Errorf("namespace %q is not a DNS label (lowercase letters, digits and '-', at most 63)", opt.Namespace))
	}
	if opt.ImageTag == "" {
		opt.ImageTag = defaultImageTag
	}
	if strings.ContainsAny(opt.ImageTag, " /:@") {
		errs = append(errs, fmt.Errorf("image tag %q: a tag has no spaces, '/', ':' or '@'", opt.ImageTag))
	}
	switch {
	case opt.Parallelism == 0:
		opt.Parallelism = 1
	case opt.Parallelism < 0 || opt.Parallelism > 1000:
		errs = append(errs, fmt.Errorf("parallelism %d: want 1 to 1000 k6 runners", opt.Parallelism))
	}
	switch opt.Telemetry {
	case "":
		opt.Telemetry = TelemetryOwn
		if !l.Telemetry.Prometheus.Own() || !l.Telemetry.Jaeger.Own() {
			opt.Telemetry = TelemetryExternal
		}
	case TelemetryOwn, TelemetryExternal:
	default:
		errs = append(errs, fmt.Errorf("telemetry %q: want %s or %s", opt.Telemetry, TelemetryOwn, TelemetryExternal))
	}
	ext := &opt.External
	if ext.OTLPGRPC == "" {
		ext.OTLPGRPC = cmp(l.Telemetry.Jaeger.OTLPGRPC, defaultExternalOTLPGRPC)
	}
	if ext.OTLPHTTP == "" {
		ext.OTLPHTTP = cmp(l.Telemetry.Jaeger.OTLPHTTP, defaultExternalOTLPHTTP)
	}
	if ext.PrometheusURL == "" {
		ext.PrometheusURL = cmp(l.Telemetry.Prometheus.URL, defaultExternalPrometheus)
	}
	ext.PrometheusURL = strings.TrimRight(ext.PrometheusURL, "/")
	if !strings.HasPrefix(ext.PrometheusURL, "http://") && !strings.HasPrefix(ext.PrometheusURL, "https://") {
		errs = append(errs, fmt.Errorf("prometheus URL %q: want http:// or https://", ext.PrometheusURL))
	}
	if opt.AdminToken == "" {
		opt.AdminToken = randomHex(24)
	}
	if opt.JWTKey == "" && l.Load.Auth.Provider == lab.AuthHS256 {
		opt.JWTKey = randomHex(32)
	}
	return opt, errors.Join(errs...)
}

// cmp is a, or b when a is empty.
func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// Render returns the kustomize tree of l, in a stable order. The output
// depends on l, opt and the lab's files (k6 scripts, SLOs) only, except for
// the random secrets of an Options without them.
func Render(l *lab.Lab, opt Options) ([]File, error) {
	opt, err := opt.withDefaults(l)
	if err != nil {
		return nil, err
	}
	r, err := newRenderer(l, opt)
	if err != nil {
		return nil, err
	}
	return r.files()
}

// Write writes files under dir, creating directories; it leaves other
// files in dir alone, and returns the paths it wrote.
func Write(dir string, files []File) ([]string, error) {
	var paths []string
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return paths, err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(f.Path, "secrets.yaml") {
			mode = 0o600
		}
		if err := os.WriteFile(p, f.Data, mode); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// Overlays are the overlays' directories in the tree.
func Overlays() []string {
	return []string{"overlays/" + OverlayLab, "overlays/" + OverlayExternal}
}

// scripts are the k6 scripts of l: path relative to load.scripts → content.
func scripts(l *lab.Lab) (map[string][]byte, error) {
	root := l.Path(l.Load.Scripts)
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !slices.Contains([]string{".js", ".json", ".mjs"}, filepath.Ext(p)) {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the k6 scripts in %s: %w", root, err)
	}
	return out, nil
}
