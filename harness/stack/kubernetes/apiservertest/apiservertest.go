// Package apiservertest runs a real Kubernetes API server for tests, as
// net/http/httptest runs an HTTP server: etcd and kube-apiserver (the pinned
// binaries `make tools-kube` builds into .tools/bin) as child processes on
// free 127.0.0.1 ports, with generated certificates, service-account keys,
// a client certificate and a static bearer token, all in a temporary
// directory. There is no kubelet, scheduler or controller manager: objects
// are stored and validated (admission, OpenAPI schemas, CRDs, server-side
// apply and dry-run), but nothing runs them.
//
//	srv := apiservertest.New(t, apiservertest.Options{})
//	cs := kubernetes.NewForConfigOrDie(srv.Config())
//
// The client authenticates as user chaoslab-admin in group system:masters
// (everything is allowed under RBAC). The ServiceAccount admission plugin
// is off, because no controller creates the default service accounts: a
// Pod can be created directly.
package apiservertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// The binaries Start runs, in Options.ToolsDir.
const (
	EtcdBinary      = "etcd"
	APIServerBinary = "kube-apiserver"
)

// Options configure Start. The zero value is ready to use.
type Options struct {
	// ToolsDir holds the etcd and kube-apiserver binaries; empty: the
	// .tools/bin of the repository, found from the working directory
	// upwards (tests run in their package's directory).
	ToolsDir string
	// Dir is where the control plane keeps its data, credentials and logs
	// (etcd.log, kube-apiserver.log); empty: a new temporary directory that
	// Stop removes.
	Dir string
	// StartTimeout bounds the wait for both to be ready; default 2 min.
	StartTimeout time.Duration
	// APIServerArgs are added to kube-apiserver's command line
	// ("--feature-gates=…").
	APIServerArgs []string
}

// Server is a running etcd and kube-apiserver.
type Server struct {
	// URL is the API server's https://127.0.0.1:<port>.
	URL string
	// Token is a static bearer token of the same user as the client
	// certificate of Config.
	Token string
	// Dir is the control plane's directory.
	Dir string
	// EtcdURL is etcd's client URL.
	EtcdURL string

	caPEM, certPEM, keyPEM []byte
	removeDir              bool
	etcd, apiserver        *process
}

// DefaultStartTimeout bounds Start when Options.StartTimeout is zero.
const DefaultStartTimeout = 2 * time.Minute

// New starts a Server for a test and stops it when the test ends; it fails
// the test if the server cannot start.
func New(tb testing.TB, opt Options) *Server {
	tb.Helper()
	if opt.Dir == "" {
		opt.Dir = tb.TempDir()
	}
	s, err := Start(tb.Context(), opt)
	if err != nil {
		tb.Fatalf("apiservertest: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("apiservertest: stopping: %v", err)
		}
	})
	return s
}

// Start starts etcd, then kube-apiserver, and returns when the API server
// is ready and its default namespace exists. ctx bounds the start only.
// Stop the Server with Stop.
func Start(ctx context.Context, opt Options) (*Server, error) {
	tools := opt.ToolsDir
	if tools == "" {
		var err error
		if tools, err = DefaultToolsDir(); err != nil {
			return nil, err
		}
	}
	etcdBin, apiBin := filepath.Join(tools, EtcdBinary), filepath.Join(tools, APIServerBinary)
	var missing []string
	for _, b := range []string{etcdBin, apiBin} {
		if _, err := os.Stat(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s not found: build the pinned etcd and kube-apiserver with `make tools-kube` (tools/kube/go.mod; ~20 min the first time)", strings.Join(missing, " and "))
	}
	timeout := opt.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	s := &Server{Dir: opt.Dir}
	if s.Dir == "" {
		d, err := os.MkdirTemp("", "apiservertest-")
		if err != nil {
			return nil, err
		}
		s.Dir, s.removeDir = d, true
	}
	fail := func(err error) (*Server, error) {
		_ = s.Stop()
		return nil, err
	}
	creds, err := writeCredentials(s.Dir)
	if err != nil {
		return fail(fmt.Errorf("writing credentials: %w", err))
	}
	s.Token, s.caPEM, s.certPEM, s.keyPEM = creds.token, creds.caPEM, creds.clientCertPEM, creds.clientKey

	// A free port can be taken between choosing it and the process binding
	// it: try again with new ports when a process exits while starting.
	const attempts = 3
	for i := range attempts {
		err = s.startEtcd(ctx, etcdBin)
		if err == nil {
			break
		}
		s.etcd.stop()
		s.etcd = nil
		if ctx.Err() != nil || i == attempts-1 || !errors.Is(err, errPortTaken) {
			return fail(err)
		}
	}
	for i := range attempts {
		err = s.startAPIServer(ctx, apiBin, creds, opt.APIServerArgs)
		if err == nil {
			break
		}
		s.apiserver.stop()
		s.apiserver = nil
		if ctx.Err() != nil || i == attempts-1 || !errors.Is(err, errPortTaken) {
			return fail(err)
		}
	}
	if err := s.writeKubeconfig(); err != nil {
		return fail(err)
	}
	return s, nil
}

// Config returns a new client configuration for the API server: TLS with
// the generated CA and a client certificate of a system:masters user.
func (s *Server) Config() *rest.Config {
	return &rest.Config{
		Host: s.URL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   bytes.Clone(s.caPEM),
			CertData: bytes.Clone(s.certPEM),
			KeyData:  bytes.Clone(s.keyPEM),
		},
		QPS:   100,
		Burst: 200,
	}
}

// TokenConfig returns a client configuration that authenticates with the
// static bearer token (the same user as Config's certificate).
func (s *Server) TokenConfig() *rest.Config {
	return &rest.Config{
		Host:            s.URL,
		BearerToken:     s.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: bytes.Clone(s.caPEM)},
		QPS:             100,
		Burst:           200,
	}
}

// KubeconfigPath is a kubeconfig file of Config's credentials, for kubectl
// (`kubectl --kubeconfig …`).
func (s *Server) KubeconfigPath() string { return filepath.Join(s.Dir, "kubeconfig") }

// Stop stops kube-apiserver, then etcd (SIGTERM, then SIGKILL after 10 s),
// and removes the directory Start created. It is safe to call twice.
func (s *Server) Stop() error {
	var errs []error
	if s.apiserver != nil {
		errs = append(errs, s.apiserver.stop())
		s.apiserver = nil
	}
	if s.etcd != nil {
		errs = append(errs, s.etcd.stop())
		s.etcd = nil
	}
	if s.removeDir {
		errs = append(errs, os.RemoveAll(s.Dir))
		s.removeDir = false
	}
	return errors.Join(errs...)
}

// DefaultToolsDir is the .tools/bin of the nearest directory, from the
// working directory upwards, that has one.
func DefaultToolsDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		cand := filepath.Join(dir, ".tools", "bin")
		if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
			return cand, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no .tools/bin in the working directory or above it: build the pinned etcd and kube-apiserver with `make tools-kube`, or give Options.ToolsDir")
		}
		dir = parent
	}
}

func (s *Server) startEtcd(ctx context.Context, bin string) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	data := filepath.Join(s.Dir, "etcd")
	if err := os.RemoveAll(data); err != nil {
		return err
	}
	s.etcd, err = startProcess(bin, filepath.Join(s.Dir, "etcd.log"),
		"--name=apiservertest",
		"--data-dir="+data,
		"--listen-client-urls="+client,
		"--advertise-client-urls="+client,
		"--listen-peer-urls="+peer,
		"--initial-advertise-peer-urls="+peer,
		"--initial-cluster=apiservertest="+peer,
		"--listen-metrics-urls=",
		"--unsafe-no-fsync",
		"--log-level=warn",
	)
	if err != nil {
		return err
	}
	s.EtcdURL = client
	hc := &http.Client{Timeout: 2 * time.Second}
	return s.etcd.waitFor(ctx, "etcd", func(ctx context.Context) error {
		body, err := get(ctx, hc, client+"/health")
		if err == nil && !strings.Contains(body, `"health":"true"`) {
			err = fmt.Errorf("/health answered %s", body)
		}
		return err
	})
}

func (s *Server) startAPIServer(ctx context.Context, bin string, c *credentials, extra []string) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	args := append([]string{
		"--etcd-servers=" + s.EtcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// No endpoint reconciler: it refuses a loopback advertise address,
		// and nothing runs behind the kubernetes Service here.
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(ports[0]),
		"--tls-cert-file=" + c.certFile,
		"--tls-private-key-file=" + c.keyFile,
		"--client-ca-file=" + c.caFile,
		"--token-auth-file=" + c.tokenFile,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + c.saPub,
		"--service-account-signing-key-file=" + c.saKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=RBAC",
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
		"--profiling=false",
		"--cert-dir=" + filepath.Join(s.Dir, "certs"),
		"--v=0",
	}, extra...)
	s.apiserver, err = startProcess(bin, filepath.Join(s.Dir, "kube-apiserver.log"), args...)
	if err != nil {
		return err
	}
	s.URL = "https://127.0.0.1:" + strconv.Itoa(ports[0])
	hc, err := rest.HTTPClientFor(s.Config())
	if err != nil {
		return err
	}
	hc.Timeout = 5 * time.Second
	return s.apiserver.waitFor(ctx, "kube-apiserver", func(ctx context.Context) error {
		if body, err := get(ctx, hc, s.URL+"/readyz"); err != nil {
			return fmt.Errorf("/readyz: %w%s", err, oneLine(body))
		}
		_, err := get(ctx, hc, s.URL+"/api/v1/namespaces/default")
		return err
	})
}

// writeKubeconfig writes KubeconfigPath.
func (s *Server) writeKubeconfig() error {
	b64 := base64.StdEncoding.EncodeToString
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: apiservertest
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: apiservertest
  context: {cluster: apiservertest, user: %s}
current-context: apiservertest
`, s.URL, b64(s.caPEM), adminUser, b64(s.certPEM), b64(s.keyPEM), adminUser)
	return os.WriteFile(s.KubeconfigPath(), []byte(cfg), 0o600)
}

// errExited is wrapped by waitFor's error when the process exited, and
// errPortTaken too when its log says a port was in use.
var (
	errExited    = errors.New("exited while starting")
	errPortTaken = errors.New("a port was taken")
)

// process is one child process and its log.
type process struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // after done
}

func startProcess(bin, logPath string, args ...string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &process{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// waitFor polls ready every 100 ms until it succeeds, the process exits or
// ctx ends; the error then has the tail of the process's log.
func (p *process) waitFor(ctx context.Context, name string, ready func(context.Context) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = ready(ctx); last == nil {
			return nil
		}
		select {
		case <-p.done:
			t := tail(p.log, 20)
			err := fmt.Errorf("%s %w (%v); its log %s ends:\n%s", name, errExited, p.err, p.log, t)
			if strings.Contains(t, "address already in use") {
				err = fmt.Errorf("%w: %w", errPortTaken, err)
			}
			return err
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last: %v); its log %s ends:\n%s", name, ctx.Err(), last, p.log, tail(p.log, 20))
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM, waits up to 10 s, then kills.
func (p *process) stop() error {
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within 10 s of SIGTERM: killed", filepath.Base(p.cmd.Path))
	}
}

// freePorts returns n ports that were free on 127.0.0.1 a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// get GETs url and returns the body; a status other than 200 is an error.
func get(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), nil
}

// tail is the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return ": " + strings.ReplaceAll(s, "\n", "; ")
}
