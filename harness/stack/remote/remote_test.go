package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/services/faultinject"
)

// fakeJaeger answers api_v2's GetServices.
type fakeJaeger struct {
	api_v2.UnimplementedQueryServiceServer
}

func (*fakeJaeger) GetServices(context.Context, *api_v2.GetServicesRequest) (*api_v2.GetServicesResponse, error) {
	return &api_v2.GetServicesResponse{Services: []string{"api"}}, nil
}

// gogo is the codec of Jaeger's gogo-generated messages.
type gogo struct{}

func (gogo) Marshal(v any) ([]byte, error) {
	return v.(interface{ Marshal() ([]byte, error) }).Marshal()
}
func (gogo) Unmarshal(data []byte, v any) error {
	return v.(interface{ Unmarshal([]byte) error }).Unmarshal(data)
}
func (gogo) Name() string { return "proto" }

// startJaeger serves a fake Jaeger query gRPC API on 127.0.0.1:0.
func startJaeger(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(grpc.ForceServerCodec(gogo{}))
	api_v2.RegisterQueryServiceServer(srv, &fakeJaeger{})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// remoteSystem is a lab that runs "elsewhere": every endpoint the remote
// file names, on 127.0.0.1:0.
type remoteSystem struct {
	entry, prometheus, jaegerHTTP, toxiproxy, api, store string
	jaegerGRPC                                           string
	// storeFaults is the store's real fault admin API, behind a token.
	storeFaults *faultinject.Injector
	mu          sync.Mutex
	proxies     map[string]map[string]any // what Toxiproxy lists
	calls       []string                  // the Toxiproxy calls, "METHOD path"
}

const storeToken = "s3cret"

func startSystem(t *testing.T) *remoteSystem {
	t.Helper()
	s := &remoteSystem{jaegerGRPC: startJaeger(t), storeFaults: faultinject.NewInjector(prometheus.NewRegistry(), slog.New(slog.DiscardHandler))}
	serve := func(h http.Handler) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	s.entry = serve(ok)
	s.jaegerHTTP = serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/services" {
			http.NotFound(w, r)
		}
	}))
	s.prometheus = serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/-/ready" {
			http.NotFound(w, r)
		}
	}))
	s.proxies = map[string]map[string]any{
		"client_to_api": {"name": "client_to_api", "listen": "127.0.0.1:7000", "upstream": "127.0.0.1:7080", "enabled": true},
		"store_proxy":   {"name": "store_proxy", "listen": "127.0.0.1:7010", "upstream": "127.0.0.1:7090", "enabled": true},
	}
	s.toxiproxy = serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.calls = append(s.calls, r.Method+" "+r.URL.Path)
		if r.Method == http.MethodGet && r.URL.Path == "/proxies" {
			json.NewEncoder(w).Encode(s.proxies)
			return
		}
		http.Error(w, "the remote stack must not change proxies", http.StatusMethodNotAllowed)
	}))
	s.api = serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ready", "/metrics", "/faults":
			io.WriteString(w, "[]")
		default:
			http.NotFound(w, r)
		}
	}))
	admin := s.storeFaults.AdminHandler()
	s.store = serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/metrics":
		case strings.HasPrefix(r.URL.Path, "/faults"):
			if r.Header.Get("Authorization") != "Bearer "+storeToken {
				http.Error(w, "no or wrong bearer token", http.StatusUnauthorized)
				return
			}
			admin.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	return s
}

// file writes the remote file of s into dir; edit changes it first.
func (s *remoteSystem) file(t *testing.T, dir string, edit func(string) string) string {
	t.Helper()
	// The store's readiness is its gRPC health; the fake store has none, so
	// the test lab's store is probed over HTTP here.
	doc := fmt.Sprintf(`lab: notes
entry: %s
prometheus: %s
jaeger: {query_grpc: %q, query_http: %q}
toxiproxy: %s
auth: {key_file: key}
services:
  api: {metrics: %s/metrics, ready: %s/ready, admin: %s}
  store: {metrics: %s/metrics, ready: %s/metrics, admin: %s, admin_token_file: store.token}
  ledger: {ready: %s/ready}
edges:
  client->api: {proxy: client_to_api}
  api->store: {proxy: store_proxy}
`, s.entry, s.prometheus, s.jaegerGRPC, s.jaegerHTTP, s.toxiproxy, s.api, s.api, s.api, s.store, s.store, s.store, s.api)
	if edit != nil {
		doc = edit(doc)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "key"), []byte("k3y"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "store.token"), []byte(storeToken+"\n"), 0o600))
	path := filepath.Join(dir, "remote.yaml")
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o644))
	return path
}

func TestUpProbesEveryEndpointAndChangesNothing(t *testing.T) {
	s := startSystem(t)
	dir := t.TempDir()
	var progress strings.Builder
	cfg := Config{File: s.file(t, dir, nil), Lab: testLab(t), RunDir: filepath.Join(dir, "run"), Progress: &progress}
	l, err := Up(t.Context(), cfg)
	require.NoError(t, err, progress.String())

	out := progress.String()
	for _, want := range []string{"entry", "prometheus", "jaeger", "query (gRPC)", "query (HTTP)", "proxy client->api", "proxy api->store", "api ", "store", "ledger", "admin API"} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "FAILED")
	e := l.Endpoints()
	assert.Equal(t, "127.0.0.1:7010", e.Edges["api->store"].Listen, "the edges' addresses are Toxiproxy's")
	assert.Equal(t, "127.0.0.1:7090", e.Edges["api->store"].Upstream)
	assert.Equal(t, []string{"GET /proxies"}, s.calls, "the stack only looks at Toxiproxy")
	key, err := os.ReadFile(filepath.Join(dir, "run", "jwt.key"))
	require.NoError(t, err, "the key is where the load's token is minted from")
	assert.Equal(t, "k3y", string(key))
	assert.Equal(t, filepath.Join(dir, "run", "jwt.key"), e.JWTKeyFile)

	assert.ErrorIs(t, l.Signal(t.Context(), "api", syscall.SIGKILL), ErrNoProcesses)
	assert.ErrorIs(t, l.Restart(t.Context(), "api", map[string]string{"retries": "0"}), ErrNoProcesses)
}

func TestUpSaysWhatDoesNotAnswer(t *testing.T) {
	s := startSystem(t)
	dir := t.TempDir()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	path := s.file(t, dir, func(doc string) string {
		doc = strings.Replace(doc, "prometheus: "+s.prometheus, "prometheus: "+closed.URL, 1)
		doc = strings.Replace(doc, "proxy: store_proxy", "proxy: api_to_store", 1)
		return strings.Replace(doc, "admin_token_file: store.token", "admin_token: wrong", 1)
	})
	_, err := Up(t.Context(), Config{File: path, Lab: testLab(t), RunDir: filepath.Join(dir, "run")})
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "3 of 14 endpoints do not answer as they should")
	assert.Contains(t, msg, "prometheus               ready          "+closed.URL+"/-/ready  FAILED: ")
	assert.Contains(t, msg, `proxy api->store         exists         `+s.toxiproxy+`/proxies/api_to_store  FAILED: Toxiproxy has no proxy "api_to_store" (it has client_to_api, store_proxy): the remote stack never creates proxies; create it, or correct edges.api->store.proxy`)
	assert.Contains(t, msg, "store                    admin API      "+s.store+"/faults  FAILED: answered 401 Unauthorized, want 200 OK")
	assert.Equal(t, 3, strings.Count(msg, "FAILED"), msg)
}

func TestUpRefusesAFileOfAnotherLab(t *testing.T) {
	s := startSystem(t)
	dir := t.TempDir()
	path := s.file(t, dir, func(doc string) string { return strings.Replace(doc, "lab: notes", "lab: payroll", 1) })
	_, err := Up(t.Context(), Config{File: path, Lab: testLab(t), RunDir: filepath.Join(dir, "run")})
	require.ErrorContains(t, err, `remote.yaml:1:6: lab: the file describes lab "payroll", but the lab file testdata/lab.yaml is lab "notes"`)
	_, err = Up(t.Context(), Config{Lab: testLab(t), RunDir: dir})
	require.ErrorContains(t, err, "no remote endpoints file: give one with -remote FILE")
}

// Down stops nothing, but what the ledger lists is rolled back: a request
// fault a crashed run left on the store, through its token.
func TestDownRollsBackTheLedgerAndLeavesTheSystemRunning(t *testing.T) {
	s := startSystem(t)
	dir := t.TempDir()
	cfg := Config{File: s.file(t, dir, nil), Lab: testLab(t), RunDir: filepath.Join(dir, "run")}
	l, err := Up(t.Context(), cfg)
	require.NoError(t, err)

	ledger, err := faults.OpenLedger(faults.LedgerPath(l.RunDir()))
	require.NoError(t, err)
	inj := faults.NewInjector(stack.FaultEnv(l, nil), ledger)
	_, err = inj.Apply(t.Context(), "run-1", "sc", "fault", faults.Spec{Request: &faults.RequestFault{Service: "store", Method: "*", GRPCCode: "UNAVAILABLE", Probability: 1}})
	require.NoError(t, err)
	require.NoError(t, ledger.Close()) // the run crashed
	require.Len(t, s.storeFaults.List(), 1, "the fault is in the store")

	rb, err := Down(t.Context(), cfg)
	require.NoError(t, err)
	require.Len(t, rb.Faults, 1)
	assert.Equal(t, "store", rb.Faults[0].Spec.Target())
	assert.Empty(t, s.storeFaults.List(), "the fault is gone")
	assert.NotContains(t, strings.Join(s.calls, ","), "DELETE", "Toxiproxy's proxies are left as they are")

	_, err = Up(t.Context(), cfg)
	require.NoError(t, err, "the system still runs")
}

func TestAdminHTTPAddsEachServicesToken(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path+" "+r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	l := &Lab{file: &File{Services: map[string]Service{
		"a": {Admin: srv.URL + "/a", AdminToken: "ta"},
		"b": {Admin: srv.URL + "/b"},
	}}}
	hc := l.AdminHTTP(nil)
	for _, p := range []string{"/a/faults", "/a", "/b/faults", "/ab/faults"} {
		resp, err := hc.Get(srv.URL + p)
		require.NoError(t, err)
		resp.Body.Close()
	}
	assert.Equal(t, []string{"/a/faults Bearer ta", "/a Bearer ta", "/b/faults ", "/ab/faults "}, got)
}
