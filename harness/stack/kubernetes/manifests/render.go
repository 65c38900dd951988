package manifests

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/harness/slodef"
)

// The third-party images, pinned: the same releases as the compose stack's
// (harness/stack/compose) and the pinned tools (tools/README.md).
const (
	toxiproxyImage  = "ghcr.io/shopify/toxiproxy:2.12.0"
	prometheusImage = "prom/prometheus:v3.16.0"
	jaegerImage     = "jaegertracing/jaeger:2.13.0"
	k6Image         = "grafana/k6:1.8.1"
)

// The environment variables the manifests give containers: the lab's
// templates see the telemetry addresses and the auth key as references to
// them, which Kubernetes expands ($(NAME)).
const (
	envOTLPGRPC = "CHAOSLAB_K8S_OTLP_GRPC"
	// envPodName is the pod's name (the downward API): each pod of a
	// Deployment is one replica, and .Instance names it by its pod.
	envPodName    = "CHAOSLAB_K8S_POD_NAME"
	envOTLPHTTP   = "CHAOSLAB_K8S_OTLP_HTTP"
	envJWTKey     = "CHAOSLAB_K8S_JWT_KEY"
	envAdminToken = "CHAOSLAB_K8S_ADMIN_TOKEN"
)

// The keys of ConfigMap <lab>-telemetry.
const (
	telemetryOTLPGRPC      = "otlp-grpc"
	telemetryOTLPHTTP      = "otlp-http"
	telemetryRemoteWrite   = "prometheus-remote-write"
	telemetryPrometheusURL = "prometheus-url"
)

// AdminTokenFlag is the flag a service with a fault admin API
// (services/faultinject) takes its bearer token with; the manifests append
// -admin-token=$(CHAOSLAB_K8S_ADMIN_TOKEN) to its arguments.
const AdminTokenFlag = "admin-token"

// Where things are in the containers.
const (
	dataDir        = "/data"
	binDir         = "/usr/local/bin"
	scriptsDir     = "/chaoslab/loadtests"
	prometheusPort = 9090
)

// renderer renders one lab.
type renderer struct {
	l       *lab.Lab
	opt     Options
	scripts map[string][]byte
	rules   map[string][]byte
}

func newRenderer(l *lab.Lab, opt Options) (*renderer, error) {
	r := &renderer{l: l, opt: opt}
	var errs []error
	if _, ok := l.Edge(l.Load.Entry); !ok {
		errs = append(errs, fmt.Errorf("the TestRun needs load.entry, an entry edge (the lab has %q)", l.Load.Entry))
	}
	var err error
	if r.scripts, err = scripts(l); err != nil {
		errs = append(errs, err)
	}
	if opt.LoadScript == "" {
		for _, name := range slices.Sorted(maps.Keys(r.scripts)) {
			if !strings.Contains(name, "/") && strings.HasSuffix(name, ".js") {
				r.opt.LoadScript = name
				break
			}
		}
	}
	if _, ok := r.scripts[r.opt.LoadScript]; !ok && err == nil {
		errs = append(errs, fmt.Errorf("load script %q is not in the lab's load.scripts (%s); have: %s",
			r.opt.LoadScript, l.Load.Scripts, strings.Join(slices.Sorted(maps.Keys(r.scripts)), ", ")))
	}
	if l.SLOs != "" {
		defs, err := slodef.Load(l.Path(l.SLOs))
		if err != nil {
			errs = append(errs, err)
		} else if r.rules, err = defs.Files(); err != nil {
			errs = append(errs, err)
		}
	}
	return r, errors.Join(errs...)
}

// name is an object's name for the lab: <lab>-<what>, a DNS label.
func (r *renderer) name(what string) string { return r.opt.Namespace + "-" + what }

// labels are the labels of component (a service or toxiproxy, prometheus,
// jaeger, k6).
func (r *renderer) labels(component string) map[string]string {
	return map[string]string{LabelManagedBy: ManagedBy, LabelPartOf: r.l.Name, LabelService: component}
}

// selector is what selects component's pods.
func (r *renderer) selector(component string) map[string]string {
	return map[string]string{LabelPartOf: r.l.Name, LabelService: component}
}

func (r *renderer) meta(name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: r.labels(component)}
}

// files is the whole tree.
func (r *renderer) files() ([]File, error) {
	var files []File
	var baseResources []string
	add := func(file string, objs ...any) error {
		b, err := documents(r.header(), objs...)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		files = append(files, File{Path: "base/" + file, Data: b})
		baseResources = append(baseResources, file)
		return nil
	}
	var errs []error
	errs = append(errs, add("namespace.yaml", &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: r.opt.Namespace, Labels: map[string]string{LabelManagedBy: ManagedBy, LabelPartOf: r.l.Name}},
	}))
	errs = append(errs, add("secrets.yaml", r.secret()))
	errs = append(errs, add("telemetry.yaml", r.telemetryConfig(r.ownTelemetry())))
	for _, name := range r.l.StartOrder() {
		s, _ := r.l.Service(name)
		objs, err := r.service(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, add(name+".yaml", objs...))
	}
	tox, err := r.toxiproxy()
	errs = append(errs, err, add(lab.ComponentToxiproxy+".yaml", tox...))
	prom, err := r.prometheus()
	errs = append(errs, err, add(lab.ComponentPrometheus+".yaml", prom...))
	errs = append(errs, add(lab.ComponentJaeger+".yaml", r.jaeger()...))
	load, err := r.load()
	errs = append(errs, err, add("load.yaml", load...))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	kust := func(p string, k map[string]any, comment string) error {
		b, err := documents(r.header()+"\n#\n# "+comment, k)
		if err != nil {
			return err
		}
		files = append(files, File{Path: p, Data: b})
		return nil
	}
	kind := map[string]any{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
	with := func(kv map[string]any) map[string]any {
		out := maps.Clone(kind)
		maps.Copy(out, kv)
		return out
	}
	errs = append(errs, kust("base/kustomization.yaml", with(map[string]any{
		"namespace": r.opt.Namespace,
		"resources": baseResources,
	}), fmt.Sprintf("The lab %s in namespace %s, with its own Prometheus and Jaeger.", r.l.Name, r.opt.Namespace)))
	errs = append(errs, kust("overlays/"+OverlayLab+"/kustomization.yaml", with(map[string]any{
		"resources": []string{"../../base"},
	}), "The lab with its own Prometheus and Jaeger: kubectl apply -k overlays/lab"))
	ext, err := r.externalPatches()
	errs = append(errs, err)
	errs = append(errs, kust("overlays/"+OverlayExternal+"/kustomization.yaml", with(map[string]any{
		"resources": []string{"../../base"},
		"patches":   ext,
	}), fmt.Sprintf("The lab without its own Prometheus and Jaeger: spans go to %s (OTLP gRPC),\n# k6's metrics to %s/api/v1/write (remote write).", r.opt.External.OTLPGRPC, r.opt.External.PrometheusURL)))
	errs = append(errs, kust("kustomization.yaml", with(map[string]any{
		"resources": []string{"overlays/" + r.overlay()},
	}), "kubectl apply -k . applies overlays/"+r.overlay()+"; apply another overlay by its directory."))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return files, nil
}

// overlay is the overlay the top kustomization applies.
func (r *renderer) overlay() string {
	if r.opt.Telemetry == TelemetryExternal {
		return OverlayExternal
	}
	return OverlayLab
}

func (r *renderer) header() string {
	return fmt.Sprintf("# Generated by `chaoslab manifests` from the lab %s: do not edit; change the lab\n# file and regenerate.", r.l.Name)
}

// secret is Secret <lab>-secrets.
func (r *renderer) secret() *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: r.meta(r.name("secrets"), "chaoslab"),
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{
			SecretAdminToken: r.opt.AdminToken,
			SecretJWTKey:     r.opt.JWTKey,
			SecretLoadToken:  r.opt.LoadToken,
		},
	}
}

// telemetry is where spans and k6 metrics go.
type telemetry struct{ otlpGRPC, otlpHTTP, prometheusURL string }

func (r *renderer) ownTelemetry() telemetry {
	j := r.l.Telemetry.Jaeger
	return telemetry{
		otlpGRPC:      hostPort(lab.ComponentJaeger, jaegerPort(j, "otlp-grpc")),
		otlpHTTP:      hostPort(lab.ComponentJaeger, jaegerPort(j, "otlp-http")),
		prometheusURL: "http://" + hostPort(lab.ComponentPrometheus, prometheusPort),
	}
}

func (r *renderer) externalTelemetry() telemetry {
	e := r.opt.External
	return telemetry{otlpGRPC: e.OTLPGRPC, otlpHTTP: e.OTLPHTTP, prometheusURL: e.PrometheusURL}
}

// jaegerPort is the lab's Jaeger port name, or its default.
func jaegerPort(j lab.Jaeger, name string) int {
	if p := j.Port(name); p != 0 {
		return p
	}
	for _, p := range lab.JaegerPorts() {
		if p.Name == name {
			return p.Number
		}
	}
	return 0
}

func (r *renderer) telemetryConfig(t telemetry) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: r.meta(r.name("telemetry"), "chaoslab"),
		Data: map[string]string{
			telemetryOTLPGRPC:      t.otlpGRPC,
			telemetryOTLPHTTP:      t.otlpHTTP,
			telemetryPrometheusURL: t.prometheusURL,
			telemetryRemoteWrite:   t.prometheusURL + "/api/v1/write",
		},
	}
}

// externalPatches are the external-telemetry overlay's patches: the
// telemetry ConfigMap's new data, and Prometheus's and Jaeger's objects
// deleted.
func (r *renderer) externalPatches() ([]map[string]any, error) {
	cm := r.telemetryConfig(r.externalTelemetry())
	cm.Labels = nil
	b, err := yaml.Marshal(cm)
	if err != nil {
		return nil, err
	}
	patches := []map[string]any{{"patch": string(b)}}
	del := func(apiVersion, kind, name string) {
		patches = append(patches, map[string]any{"patch": fmt.Sprintf("$patch: delete\napiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n", apiVersion, kind, name)})
	}
	for _, c := range []string{lab.ComponentPrometheus, lab.ComponentJaeger} {
		del("apps/v1", "Deployment", c)
		del("v1", "Service", c)
		del("v1", "ConfigMap", r.name(c))
	}
	return patches, nil
}

// placement is where the cluster puts the lab's parts, as a service's
// templates see them: listening on every interface of its pod, the
// proxies on the toxiproxy Service, data in an emptyDir, the telemetry
// and the auth key as references to environment variables.
func (r *renderer) placement(runDir, keyFile string) lab.Placement {
	return lab.Placement{
		ListenHost: "0.0.0.0", ProxyHost: lab.ComponentToxiproxy,
		DataDir: dataDir, RunDir: runDir, BinDir: binDir, ImageTag: r.opt.ImageTag,
		OTLPGRPC: "$(" + envOTLPGRPC + ")", OTLPHTTP: "$(" + envOTLPHTTP + ")",
		Auth:     r.l.Load.Auth.AuthVars(keyFile, "$("+envJWTKey+")"),
		Instance: "$(" + envPodName + ")",
	}
}

// sentinels mark what a pod does not have, in a probe rendering.
const (
	sentinelRunDir  = "\x00run-dir\x00"
	sentinelKeyFile = "\x00key-file\x00"
)

// container is the service's container: image, command, arguments and
// environment from its compose section (or its local command), rendered
// for the cluster.
func (r *renderer) container(s *lab.Service) (corev1.Container, error) {
	p := r.placement("", "")
	probe := r.placement(sentinelRunDir, sentinelKeyFile)
	c := corev1.Container{Name: s.Name, ImagePullPolicy: corev1.PullIfNotPresent}
	var values []struct{ where, value string } // the probe's, to check
	if s.Compose != nil {
		rc, err := r.l.RenderCompose(s.Name, 0, p)
		if err != nil {
			return c, err
		}
		pc, err := r.l.RenderCompose(s.Name, 0, probe)
		if err != nil {
			return c, err
		}
		c.Image = rc.Image
		for i, e := range rc.Env {
			c.Env = append(c.Env, corev1.EnvVar{Name: e.Name, Value: e.Value})
			values = append(values, struct{ where, value string }{"compose.env." + e.Name, pc.Env[i].Value})
		}
	} else {
		rp, err := r.l.RenderLocal(s.Name, 0, p)
		if err != nil {
			return c, err
		}
		pp, err := r.l.RenderLocal(s.Name, 0, probe)
		if err != nil {
			return c, err
		}
		c.Image = fmt.Sprintf("%s/%s:%s", strings.ToLower(r.l.Name), s.Name, r.opt.ImageTag)
		c.Command = []string{rp.Command}
		c.Args = rp.Args
		values = append(values, struct{ where, value string }{"local.command", pp.Command})
		for i, a := range pp.Args {
			values = append(values, struct{ where, value string }{fmt.Sprintf("local.args[%d]", i), a})
		}
		for i, e := range rp.Env {
			name, value, _ := strings.Cut(e, "=")
			c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
			values = append(values, struct{ where, value string }{"local.env." + name, pp.Env[i]})
		}
	}
	var errs []error
	for _, v := range values {
		switch {
		case strings.Contains(v.value, sentinelRunDir):
			errs = append(errs, fmt.Errorf("services.%s.%s: {{.RunDir}} is a directory of the harness's host, which a pod does not have", s.Name, v.where))
		case strings.Contains(v.value, sentinelKeyFile):
			errs = append(errs, fmt.Errorf("services.%s.%s: a pod has no key file: give the service the key as {{.Auth.key}} (give it a compose section that does)", s.Name, v.where))
		}
	}
	// The variables the templates refer to come first, so that Kubernetes
	// expands them in the lab's values.
	env := []corev1.EnvVar{
		{Name: envPodName, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		r.configMapEnv(envOTLPGRPC, telemetryOTLPGRPC),
		r.configMapEnv(envOTLPHTTP, telemetryOTLPHTTP),
	}
	if r.l.Load.Auth.Provider == lab.AuthHS256 {
		env = append(env, r.secretEnv(envJWTKey, SecretJWTKey))
	}
	if s.Faults != nil {
		env = append(env, r.secretEnv(envAdminToken, SecretAdminToken))
		c.Args = append(c.Args, "-"+AdminTokenFlag+"=$("+envAdminToken+")")
	}
	c.Env = append(env, c.Env...)
	for _, port := range s.Ports {
		cp := corev1.ContainerPort{ContainerPort: int32(port.Number), Protocol: corev1.ProtocolTCP}
		if len(validation.IsValidPortName(port.Name)) == 0 {
			cp.Name = port.Name
		}
		c.Ports = append(c.Ports, cp)
	}
	c.ReadinessProbe = readiness(s)
	c.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: dataDir}}
	return c, errors.Join(errs...)
}

// readiness is the service's ready check as a probe.
func readiness(s *lab.Service) *corev1.Probe {
	p := &corev1.Probe{PeriodSeconds: 2, TimeoutSeconds: 2, FailureThreshold: 3}
	switch {
	case s.Ready.HTTP != nil:
		p.HTTPGet = &corev1.HTTPGetAction{Path: s.Ready.HTTP.Path, Port: intstr.FromInt32(int32(s.Port(s.Ready.HTTP.Port)))}
	case s.Ready.GRPC != nil:
		g := &corev1.GRPCAction{Port: int32(s.Port(s.Ready.GRPC.Port))}
		if s.Ready.GRPC.Service != "" {
			g.Service = &s.Ready.GRPC.Service
		}
		p.GRPC = g
	default:
		return nil
	}
	return p
}

func (r *renderer) configMapEnv(name, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: r.name("telemetry")}, Key: key}}}
}

func (r *renderer) secretEnv(name, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: r.name("secrets")}, Key: key}}}
}

// service is the Deployment and the Service of s.
func (r *renderer) service(s *lab.Service) ([]any, error) {
	c, err := r.container(s)
	if err != nil {
		return nil, err
	}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: r.labels(s.Name)},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{c},
			Volumes:                       []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			TerminationGracePeriodSeconds: ptr(int64(15)),
			EnableServiceLinks:            ptr(false),
		},
	}
	if s.Metrics != nil {
		tmpl.Annotations = map[string]string{
			"prometheus.io/scrape": "true",
			"prometheus.io/port":   strconv.Itoa(s.Port(s.Metrics.Port)),
			"prometheus.io/path":   s.Metrics.Path,
		}
	}
	dep := r.deployment(s.Name, s.Replicas, tmpl)
	var ports []corev1.ServicePort
	for _, p := range s.Ports {
		if s.Faults != nil && p.Name == s.Faults.Port {
			continue // the fault admin API is never exposed
		}
		ports = append(ports, r.servicePort(p.Name, p.Number))
	}
	return []any{dep, r.svc(s.Name, ports)}, nil
}

func (r *renderer) deployment(component string, replicas int, tmpl corev1.PodTemplateSpec) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: r.meta(component, component),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(replicas)),
			Selector: &metav1.LabelSelector{MatchLabels: r.selector(component)},
			Template: tmpl,
		},
	}
}

func (r *renderer) servicePort(name string, port int) corev1.ServicePort {
	sp := corev1.ServicePort{Port: int32(port), TargetPort: intstr.FromInt32(int32(port)), Protocol: corev1.ProtocolTCP}
	if len(validation.IsValidPortName(name)) == 0 {
		sp.Name = name
	} else {
		sp.Name = "port-" + strconv.Itoa(port)
	}
	return sp
}

func (r *renderer) svc(component string, ports []corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: r.meta(component, component),
		Spec:       corev1.ServiceSpec{Selector: r.selector(component), Ports: ports},
	}
}

// proxy is one proxy of the Toxiproxy configuration.
type proxy struct {
	Name     string `json:"name"`
	Listen   string `json:"listen"`
	Upstream string `json:"upstream"`
	Enabled  bool   `json:"enabled"`
}

// toxiproxy is Toxiproxy's ConfigMap (a proxy per edge, listening at the
// edge's proxy port, forwarding to the callee's Service), Deployment and
// Service (its API and every proxy).
func (r *renderer) toxiproxy() ([]any, error) {
	l := r.l
	var proxies []proxy
	ports := []corev1.ServicePort{r.servicePort("api", l.Proxies.Port)}
	for _, e := range l.Edges {
		to, _ := l.Service(e.To)
		proxies = append(proxies, proxy{
			Name:     e.Proxy(),
			Listen:   hostPort("0.0.0.0", e.ProxyPort),
			Upstream: hostPort(e.To, to.Port(e.TargetPort)),
			Enabled:  true,
		})
		sp := r.servicePort("", e.ProxyPort)
		sp.Name = "edge-" + strconv.Itoa(e.ProxyPort)
		ports = append(ports, sp)
	}
	b, err := json.MarshalIndent(proxies, "", "  ")
	if err != nil {
		return nil, err
	}
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: r.meta(r.name(lab.ComponentToxiproxy), lab.ComponentToxiproxy),
		Data:       map[string]string{"toxiproxy.json": string(b) + "\n"},
	}
	var cports []corev1.ContainerPort
	for _, p := range ports {
		cports = append(cports, corev1.ContainerPort{Name: p.Name, ContainerPort: p.Port, Protocol: corev1.ProtocolTCP})
	}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: r.labels(lab.ComponentToxiproxy)},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  lab.ComponentToxiproxy,
				Image: toxiproxyImage,
				Args:  []string{"-host=0.0.0.0", "-port=" + strconv.Itoa(l.Proxies.Port), "-config=/config/toxiproxy.json", "-proxy-metrics", "-runtime-metrics"},
				Ports: cports,
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: "/version", Port: intstr.FromInt32(int32(l.Proxies.Port))}}, PeriodSeconds: 2},
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/config", ReadOnly: true}},
			}},
			Volumes:            []corev1.Volume{configMapVolume("config", cm.Name)},
			EnableServiceLinks: ptr(false),
		},
	}
	return []any{cm, r.deployment(lab.ComponentToxiproxy, 1, tmpl), r.svc(lab.ComponentToxiproxy, ports)}, nil
}

func configMapVolume(name, configMap string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: configMap}}}}
}

// prometheus is Prometheus's ConfigMap (a scrape job per service with
// metrics, by its Service's DNS name; Toxiproxy; Jaeger; the SLO rules),
// Deployment and Service.
func (r *renderer) prometheus() ([]any, error) {
	l := r.l
	interval := l.Telemetry.Prometheus.ScrapeInterval.String()
	type static struct {
		Targets []string `json:"targets"`
	}
	type job struct {
		JobName       string   `json:"job_name"`
		MetricsPath   string   `json:"metrics_path,omitempty"`
		StaticConfigs []static `json:"static_configs"`
	}
	var jobs []job
	for _, s := range l.Services {
		if s.Metrics != nil {
			jobs = append(jobs, job{JobName: s.Name, MetricsPath: s.Metrics.Path, StaticConfigs: []static{{Targets: []string{hostPort(s.Name, s.Port(s.Metrics.Port))}}}})
		}
	}
	jobs = append(jobs,
		job{JobName: lab.ComponentToxiproxy, StaticConfigs: []static{{Targets: []string{hostPort(lab.ComponentToxiproxy, l.Proxies.Port)}}}},
		job{JobName: lab.ComponentJaeger, StaticConfigs: []static{{Targets: []string{hostPort(lab.ComponentJaeger, jaegerPort(l.Telemetry.Jaeger, "metrics"))}}}},
		job{JobName: lab.ComponentPrometheus, StaticConfigs: []static{{Targets: []string{hostPort("localhost", prometheusPort)}}}},
	)
	cfg := map[string]any{
		"global": map[string]any{
			"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval,
			"external_labels": map[string]string{"lab": "kubernetes"},
		},
		"scrape_configs": jobs,
	}
	data := map[string]string{}
	if len(r.rules) > 0 {
		cfg["rule_files"] = []string{"/etc/prometheus/slo-*.yml"}
		for name, b := range r.rules {
			data[path.Base(name)] = string(b)
		}
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	data["prometheus.yml"] = string(b)
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: r.meta(r.name(lab.ComponentPrometheus), lab.ComponentPrometheus),
		Data:       data,
	}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: r.labels(lab.ComponentPrometheus)},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  lab.ComponentPrometheus,
				Image: prometheusImage,
				Args: []string{
					"--config.file=/etc/prometheus/prometheus.yml",
					"--storage.tsdb.path=/prometheus",
					"--storage.tsdb.retention.time=1d",
					"--web.enable-remote-write-receiver",
					"--web.enable-lifecycle",
					"--log.level=warn",
				},
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: prometheusPort, Protocol: corev1.ProtocolTCP}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: "/-/ready", Port: intstr.FromInt32(prometheusPort)}}, PeriodSeconds: 2},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "config", MountPath: "/etc/prometheus", ReadOnly: true},
					{Name: "data", MountPath: "/prometheus"},
				},
			}},
			Volumes: []corev1.Volume{
				configMapVolume("config", cm.Name),
				{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
			EnableServiceLinks: ptr(false),
		},
	}
	return []any{cm, r.deployment(lab.ComponentPrometheus, 1, tmpl),
		r.svc(lab.ComponentPrometheus, []corev1.ServicePort{r.servicePort("http", prometheusPort)})}, nil
}

// jaeger is Jaeger v2's ConfigMap (OTLP in, memory storage, the query
// APIs: the compose stack's configuration), Deployment and Service.
func (r *renderer) jaeger() []any {
	j := r.l.Telemetry.Jaeger
	ep := func(name string) string { return hostPort("0.0.0.0", jaegerPort(j, name)) }
	cfg := fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [jaeger_storage_exporter]}
  telemetry:
    resource: {service.name: jaeger}
    metrics:
      level: basic
      readers: [{pull: {exporter: {prometheus: {host: 0.0.0.0, port: %d}}}}]
    logs: {level: warn}
extensions:
  jaeger_query:
    storage: {traces: memstore}
    grpc: {endpoint: "%s"}
    http: {endpoint: "%s"}
  jaeger_storage:
    backends: {memstore: {memory: {max_traces: 50000}}}
  healthcheckv2:
    use_v2: true
    http: {endpoint: "%s"}
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "%s"}
      http: {endpoint: "%s"}
processors:
  batch: {timeout: 200ms}
exporters:
  jaeger_storage_exporter: {trace_storage: memstore}
`, jaegerPort(j, "metrics"), ep("query-grpc"), ep("query-http"), ep("health"), ep("otlp-grpc"), ep("otlp-http"))
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: r.meta(r.name(lab.ComponentJaeger), lab.ComponentJaeger),
		Data:       map[string]string{"config.yaml": cfg},
	}
	var ports []corev1.ServicePort
	var cports []corev1.ContainerPort
	for _, p := range lab.JaegerPorts() {
		sp := r.servicePort(p.Name, jaegerPort(j, p.Name))
		ports = append(ports, sp)
		cports = append(cports, corev1.ContainerPort{Name: sp.Name, ContainerPort: sp.Port, Protocol: corev1.ProtocolTCP})
	}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: r.labels(lab.ComponentJaeger)},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  lab.ComponentJaeger,
				Image: jaegerImage,
				Args:  []string{"--config", "/etc/jaeger/config.yaml"},
				Env:   []corev1.EnvVar{{Name: "OTEL_TRACES_SAMPLER", Value: "always_off"}},
				Ports: cports,
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: "/status", Port: intstr.FromInt32(int32(jaegerPort(j, "health")))}}, PeriodSeconds: 2},
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/jaeger", ReadOnly: true}},
			}},
			Volumes:            []corev1.Volume{configMapVolume("config", cm.Name)},
			EnableServiceLinks: ptr(false),
		},
	}
	return []any{cm, r.deployment(lab.ComponentJaeger, 1, tmpl), r.svc(lab.ComponentJaeger, ports)}
}

// scriptKey is a script's key in the scripts ConfigMap: its path with
// "/" as "__" (ConfigMap keys have no slashes); the volume's items put it
// back at its path.
func scriptKey(p string) string { return strings.ReplaceAll(p, "/", "__") }

// load is the ConfigMap of the lab's k6 scripts and the k6-operator's
// TestRun that runs the load script with Parallelism runners against the
// entry edge's proxy.
func (r *renderer) load() ([]any, error) {
	entry, _ := r.l.Edge(r.l.Load.Entry)
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: r.meta(r.name("k6-scripts"), "k6"),
		Data:       map[string]string{},
	}
	var items []corev1.KeyToPath
	for _, p := range slices.Sorted(maps.Keys(r.scripts)) {
		cm.Data[scriptKey(p)] = string(r.scripts[p])
		items = append(items, corev1.KeyToPath{Key: scriptKey(p), Path: p})
	}
	vol := corev1.Volume{Name: "scripts", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: cm.Name}, Items: items}}}
	mount := corev1.VolumeMount{Name: "scripts", MountPath: scriptsDir, ReadOnly: true}
	env := []corev1.EnvVar{
		{Name: "BASE_URL", Value: "http://" + hostPort(lab.ComponentToxiproxy, entry.ProxyPort)},
		r.secretEnv("TOKEN", SecretLoadToken),
		r.configMapEnv("K6_PROMETHEUS_RW_SERVER_URL", telemetryRemoteWrite),
		{Name: "K6_PROMETHEUS_RW_TREND_STATS", Value: "p(50),p(95),p(99),max"},
		{Name: "K6_PROMETHEUS_RW_PUSH_INTERVAL", Value: "1s"},
		{Name: "K6_PROMETHEUS_RW_STALE_MARKERS", Value: "true"},
	}
	if a := r.l.Load.Auth; a.Provider == lab.AuthClient {
		// The runners fetch the token themselves (lib/timeline.js), from
		// the issuer's Service.
		u, err := lab.Render("load.auth.token_url", a.TokenURL, r.l.ClusterHarnessVars())
		if err != nil {
			return nil, err
		}
		env = append(env, corev1.EnvVar{Name: "TOKEN_URL", Value: u}, corev1.EnvVar{Name: "CLIENT_ID", Value: a.ClientID},
			r.secretEnv("CLIENT_SECRET", SecretJWTKey))
	}
	for _, e := range r.l.Load.Env {
		env = append(env, corev1.EnvVar{Name: e.Name, Value: e.Value})
	}
	pod := func(image string) (map[string]any, error) {
		spec := map[string]any{
			"metadata":     map[string]any{"labels": r.labels("k6")},
			"env":          env,
			"volumes":      []corev1.Volume{vol},
			"volumeMounts": []corev1.VolumeMount{mount},
		}
		if image != "" {
			spec["image"] = image
		}
		return toMap(spec)
	}
	runner, err := pod(k6Image)
	if err != nil {
		return nil, err
	}
	initializer, err := pod(k6Image)
	if err != nil {
		return nil, err
	}
	tr := map[string]any{
		"apiVersion": "k6.io/v1alpha1",
		"kind":       "TestRun",
		"metadata":   map[string]any{"name": r.name("load"), "labels": r.labels("k6")},
		"spec": map[string]any{
			"parallelism": int64(r.opt.Parallelism),
			"script":      map[string]any{"localFile": path.Join(scriptsDir, r.opt.LoadScript)},
			"arguments":   "--no-usage-report -o experimental-prometheus-rw --tag testid=" + r.name("load"),
			"runner":      runner,
			"initializer": initializer,
		},
	}
	return []any{cm, tr}, nil
}

// toMap is v as JSON-like data.
func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}

// documents encodes objects as a multi-document YAML file with a header.
// Typed objects lose their empty creationTimestamp and status.
func documents(header string, objs ...any) ([]byte, error) {
	var b strings.Builder
	b.WriteString(header + "\n")
	for _, o := range objs {
		var m map[string]any
		var err error
		if ro, ok := o.(runtime.Object); ok {
			m, err = runtime.DefaultUnstructuredConverter.ToUnstructured(ro)
		} else {
			m, err = toMap(o)
		}
		if err != nil {
			return nil, err
		}
		clean(m)
		delete(m, "status")
		y, err := yaml.Marshal(m)
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return []byte(b.String()), nil
}

// clean removes nil values, and empty status and creationTimestamp, from
// m, recursively.
func clean(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			clean(v)
			if len(v) == 0 && (k == "status" || k == "metadata" || k == "resources" || k == "strategy") {
				delete(m, k)
			}
		case []any:
			for _, e := range v {
				if em, ok := e.(map[string]any); ok {
					clean(em)
				}
			}
		}
	}
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

func ptr[T any](v T) *T { return &v }
