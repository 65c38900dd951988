//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/chaoslab/chaoslab/harness/stack/compose"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
)

// service is one gRPC service of the shop as the lab runs it.
type service struct {
	// name names the service's binary, image, network alias and proxy.
	name string
	// grpcPort and metricsPort are its listeners in its container.
	grpcPort, metricsPort string
	// proxyPort is where its proxy listens in the Toxiproxy container.
	proxyPort string
	// deps are the services it calls, directly by network alias.
	deps []string
}

// shopServices are the gRPC services, each after those it depends on.
func shopServices() []service {
	return []service{
		{name: "inventory", grpcPort: "5052", metricsPort: "9083", proxyPort: "20052"},
		{name: "payments", grpcPort: "5053", metricsPort: "9084", proxyPort: "20053"},
		{name: "orders", grpcPort: "5051", metricsPort: "9082", proxyPort: "20051", deps: []string{"inventory", "payments"}},
	}
}

// toxiproxyAPIPort is the Toxiproxy API's port in its container.
const toxiproxyAPIPort = "8474"

// lab is one test run's containers: the services on a network of their
// own, and Toxiproxy with one proxy in front of each service.
type lab struct {
	toxi      *toxiproxy.Client
	endpoints map[string]endpoint // by service name
}

// endpoint is where the test process reaches a service.
type endpoint struct {
	// proxied is the service's proxy, as mapped on the host: the caller
	// dials it, and every fault of the proxy applies.
	proxied string
	// direct is the service's own gRPC port, as mapped on the host: the
	// observer dials it to check effects, past every fault.
	direct string
}

// startLab builds the images, creates the network and starts the services
// and Toxiproxy; every cleanup is registered before the error it may follow
// is checked, so that nothing outlives the test even without Ryuk.
func startLab(t *testing.T) *lab {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	root := repoRoot(t)
	services := shopServices()
	requireInputs(t, root, services)

	logger := tclog.TestLogger(t)
	provider, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(logger))
	require.NoError(t, err, "connecting to Docker: the integration tests need a running Docker engine (check `docker info`)")
	t.Cleanup(func() { provider.Close() })
	healthCtx, healthCancel := context.WithTimeout(ctx, 10*time.Second)
	err = provider.Health(healthCtx)
	healthCancel()
	require.NoError(t, err, "Docker is unreachable: the integration tests need a running Docker engine (check `docker info`)")

	runID := strings.ToLower(rand.Text()[:10])
	labels := map[string]string{"org.chaoslab.integration.run": runID}
	t.Logf("run %s: containers labelled org.chaoslab.integration.run=%s", runID, runID)

	// Images first: building is the slow part, and a broken build should
	// fail before anything runs.
	start := time.Now()
	images := map[string]string{}
	for _, s := range services {
		svc := s.name
		images[svc] = buildImage(ctx, t, provider, testcontainers.FromDockerfile{
			Context:    root,
			Dockerfile: "Dockerfile",
			BuildArgs:  map[string]*string{"SERVICE": &svc},
			Repo:       "chaoslab-integration/" + svc,
			Tag:        runID,
		})
	}
	images["toxiproxy"] = buildImage(ctx, t, provider, testcontainers.FromDockerfile{
		Context:    toxiproxyContext(t, root),
		Dockerfile: "toxiproxy.Dockerfile",
		Repo:       "chaoslab-integration/toxiproxy",
		Tag:        runID,
	})
	t.Logf("built %d images in %s", len(images), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	nw, err := network.New(ctx, network.WithLabels(labels))
	testcontainers.CleanupNetwork(t, nw)
	require.NoError(t, err, "creating the Docker network")

	l := &lab{endpoints: map[string]endpoint{}}
	byName := map[string]service{}
	var proxies []toxiproxy.ProxySpec
	for _, s := range services {
		byName[s.name] = s
		env := serviceEnv(s, byName)
		grpcPort, metricsPort := s.grpcPort+"/tcp", s.metricsPort+"/tcp"
		ctr := runContainer(ctx, t, s.name, images[s.name],
			testcontainers.WithLogger(logger),
			testcontainers.WithLabels(labels),
			testcontainers.WithEnv(env),
			testcontainers.WithExposedPorts(grpcPort, metricsPort),
			network.WithNetwork([]string{s.name}, nw),
			testcontainers.WithWaitStrategy(wait.ForHTTP("/readyz").WithPort(metricsPort).
				WithPollInterval(50*time.Millisecond).WithStartupTimeout(30*time.Second)),
		)
		direct, err := ctr.PortEndpoint(ctx, grpcPort, "")
		require.NoError(t, err)
		l.endpoints[s.name] = endpoint{direct: direct}
		proxies = append(proxies, toxiproxy.ProxySpec{
			Name: s.name, Listen: "0.0.0.0:" + s.proxyPort, Upstream: s.name + ":" + s.grpcPort,
		})
	}

	ports := []string{toxiproxyAPIPort + "/tcp"}
	for _, s := range services {
		ports = append(ports, s.proxyPort+"/tcp")
	}
	tp := runContainer(ctx, t, "toxiproxy", images["toxiproxy"],
		testcontainers.WithLogger(logger),
		testcontainers.WithLabels(labels),
		testcontainers.WithEnv(map[string]string{"LOG_LEVEL": "info"}),
		testcontainers.WithExposedPorts(ports...),
		network.WithNetwork([]string{"toxiproxy"}, nw),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/version").WithPort(toxiproxyAPIPort+"/tcp").
			WithPollInterval(50*time.Millisecond).WithStartupTimeout(30*time.Second)),
	)
	api, err := tp.PortEndpoint(ctx, toxiproxyAPIPort+"/tcp", "http")
	require.NoError(t, err)
	l.toxi = toxiproxy.New(api)
	require.NoError(t, l.toxi.Populate(ctx, proxies))
	for _, s := range services {
		proxied, err := tp.PortEndpoint(ctx, s.proxyPort+"/tcp", "")
		require.NoError(t, err)
		ep := l.endpoints[s.name]
		ep.proxied = proxied
		l.endpoints[s.name] = ep
	}
	t.Logf("started %d containers in %s; toxiproxy API at %s", len(services)+1, time.Since(start).Round(time.Millisecond), api)
	return l
}

// serviceEnv configures service s in its container through the environment
// (CHAOSLAB_<SERVICE>_<FLAG>): listeners on every interface, the database
// in /data, and its dependencies by network alias. Traces are not exported
// (no -otlp-endpoint).
func serviceEnv(s service, byName map[string]service) map[string]string {
	name := func(flag string) string { return compose.EnvName(s.name, flag) }
	env := map[string]string{
		name("addr"):             "0.0.0.0:" + s.grpcPort,
		name("metrics-addr"):     "0.0.0.0:" + s.metricsPort,
		name("db"):               "/data/" + s.name + ".db",
		name("shutdown-timeout"): "2s",
	}
	for _, d := range s.deps {
		env[name(d+"-addr")] = d + ":" + byName[d].grpcPort
	}
	return env
}

// runContainer starts a container of image and registers its removal (and,
// if the test fails, a dump of its log) before checking that it started.
func runContainer(ctx context.Context, t *testing.T, name, image string, opts ...testcontainers.ContainerCustomizer) *testcontainers.DockerContainer {
	t.Helper()
	ctr, err := testcontainers.Run(ctx, image, opts...)
	testcontainers.CleanupContainer(t, ctr)
	logOnFailure(t, name, ctr) // a cleanup too: it runs before the removal
	require.NoError(t, err, "starting the %s container", name)
	return ctr
}

// logOnFailure prints the end of the container's log when the test failed.
func logOnFailure(t *testing.T, name string, ctr *testcontainers.DockerContainer) {
	t.Cleanup(func() {
		if !t.Failed() || ctr == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rc, err := ctr.Logs(ctx)
		if err != nil {
			t.Logf("log of %s: %v", name, err)
			return
		}
		defer rc.Close()
		t.Logf("log of %s (container %.12s), last lines:\n%s", name, ctr.GetContainerID(), lastLines(rc, 40))
	})
}

// lastLines returns the last n lines read from r.
func lastLines(r io.Reader, n int) string {
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// buildImage builds the image df describes and removes it at cleanup.
func buildImage(ctx context.Context, t *testing.T, p *testcontainers.DockerProvider, df testcontainers.FromDockerfile) string {
	t.Helper()
	var buildLog bytes.Buffer
	df.BuildLogWriter = &buildLog
	df.KeepImage = true // no testcontainers labels: this test removes it
	start := time.Now()
	tag, err := p.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: df})
	require.NoError(t, err, "building %s:%s from %s in %s:\n%s", df.Repo, df.Tag, df.Dockerfile, df.Context, buildLog.String())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := p.Client().ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		if err != nil {
			t.Errorf("removing image %s: %v", tag, err)
		}
	})
	t.Logf("built %s in %s", tag, time.Since(start).Round(time.Millisecond))
	return tag
}

// toxiproxyContext returns a build context for docker/toxiproxy.Dockerfile:
// a directory with the Dockerfile and the pinned toxiproxy-server.
func toxiproxyContext(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, filepath.Join(root, "docker", "toxiproxy.Dockerfile"), filepath.Join(dir, "toxiproxy.Dockerfile"), 0o644)
	copyFile(t, filepath.Join(root, ".tools", "bin", "toxiproxy-server"), filepath.Join(dir, "toxiproxy-server"), 0o755)
	return dir
}

// copyFile copies src to dst with mode perm.
func copyFile(t *testing.T, src, dst string, perm os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, errors.Join(err, out.Close()), "copying %s to %s", src, dst)
}

// repoRoot is the repository's root: the nearest directory up from the
// package's that holds go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test's directory")
		dir = parent
	}
}

// requireInputs fails the test, saying what to run, when a binary the
// images are built from is missing.
func requireInputs(t *testing.T, root string, services []service) {
	t.Helper()
	var missing []string
	need := func(path, fix string) {
		if _, err := os.Stat(filepath.Join(root, path)); err != nil {
			missing = append(missing, fmt.Sprintf("%s (run `%s`)", path, fix))
		}
	}
	for _, s := range services {
		need(filepath.Join("bin", "image", "services", s.name), "make image-binaries")
	}
	need(filepath.Join("bin", "image", "services", "rootfs", "data"), "make image-binaries")
	need(filepath.Join(".tools", "bin", "toxiproxy-server"), "make tools")
	if len(missing) > 0 {
		t.Fatalf("the integration tests build their images from local binaries, and these are missing:\n  %s",
			strings.Join(missing, "\n  "))
	}
}
