// This test starts the bookings system the way the lab file says, with
// chaoslab's own loader (harness/lab): it renders each service's local
// command, runs the binaries, carries every edge through a plain TCP relay
// where Toxiproxy would be, books a few stays through the entry edge and
// runs the invariant commands with the run as chaoslab gives it. It shows
// that lab.yaml, the services' flags and the checker's contract agree.
package bookings_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chaoslab/chaoslab/harness/lab"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestLabFileRunsTheSystem(t *testing.T) {
	l, err := lab.Load("lab.yaml")
	if err != nil {
		t.Fatalf("loading lab.yaml: %v", err)
	}
	bin := buildBinaries(t)
	offset := freeOffset(t, l)
	p := l.LocalPlacement(offset, t.TempDir(), bin, nil)
	p.OTLPGRPC = "" // no collector in a unit test: spans are dropped
	if err := os.MkdirAll(p.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := l.HarnessVarsFor(p, "")

	// Every edge through a relay on its proxy port.
	for _, e := range l.Edges {
		to, _ := l.Service(e.To)
		relay(t, fmt.Sprintf("127.0.0.1:%d", e.ProxyPort+offset), addrOf(t, to, e.TargetPort, offset))
	}
	// The services, in the lab's start order, each until it is ready.
	for _, name := range l.StartOrder() {
		proc, err := l.RenderLocal(name, 0, p)
		if err != nil {
			t.Fatalf("rendering %s: %v", name, err)
		}
		if name == "desk" { // a knob, as the local stack appends it
			knobs, err := l.KnobArgs("desk", map[string]string{"retries": "3"})
			if err != nil {
				t.Fatal(err)
			}
			proc.Args = append(proc.Args, knobs...)
		}
		start(t, name, proc)
		s, _ := l.Service(name)
		waitReady(t, s, offset)
	}

	// Book through the entry edge, as k6 would.
	entry := l.EntryEdges()[0]
	base := fmt.Sprintf("http://127.0.0.1:%d", entry.ProxyPort+offset)
	run := lab.RunInput{RunID: "test", Scenario: "lab-file", Since: time.Now().Add(-time.Second)}
	for i := range 5 {
		key := fmt.Sprintf("test-lab-file-%d", i)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/v1/bookings",
			strings.NewReader(`{"guest":"ann","room":"suite","nights":2}`))
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b struct{ ID string }
		_ = json.NewDecoder(resp.Body).Decode(&b)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /v1/bookings through %s: %d, want 201", entry.Name, resp.StatusCode)
		}
		run.Acked = append(run.Acked, lab.Write{ID: b.ID, Key: key})
	}
	run.Until = time.Now()

	tests := []struct {
		invariant string
		run       lab.RunInput
		outcome   string
	}{
		{"acked_bookings_exist", run, lab.OutcomePass},
		{"one_booking_per_key", run, lab.OutcomePass},
		{"acked_bookings_exist", withLostWrite(run), lab.OutcomeFail},
		{"acked_bookings_exist", lab.RunInput{Since: run.Since, Until: run.Until}, lab.OutcomeInconclusive},
	}
	for _, tt := range tests {
		t.Run(tt.invariant+"/"+tt.outcome, func(t *testing.T) {
			inv, ok := l.Invariant(tt.invariant)
			if !ok {
				t.Fatalf("lab.yaml has no invariant %s", tt.invariant)
			}
			var argv []string
			for i, a := range inv.Command {
				r, err := lab.Render(fmt.Sprintf("invariants.%s.command[%d]", tt.invariant, i), a, h)
				if err != nil {
					t.Fatal(err)
				}
				argv = append(argv, r)
			}
			in, _ := json.Marshal(tt.run)
			cmd := exec.CommandContext(t.Context(), argv[0], argv[1:]...)
			cmd.Stdin = bytes.NewReader(in)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v: %v\n%s", argv, err, stderr.String())
			}
			v, err := lab.DecodeVerdict(out)
			if err != nil {
				t.Fatalf("chaoslab cannot read the verdict %s: %v", out, err)
			}
			if got := v.Outcome(); got != tt.outcome {
				t.Errorf("outcome %s (%+v), want %s", got, v, tt.outcome)
			}
		})
	}
}

func withLostWrite(r lab.RunInput) lab.RunInput {
	r.Acked = append(append([]lab.Write(nil), r.Acked...), lab.Write{ID: "b-999999", Key: "never-booked"})
	return r
}

// buildBinaries builds the services and the checker, as `make build` does.
func buildBinaries(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin+"/", "./cmd/desk", "./cmd/pricing", "./cmd/calendar", "./cmd/bookings-check")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeOffset finds a port offset at which every port of the lab's services
// and edges is free.
func freeOffset(t *testing.T, l *lab.Lab) int {
	t.Helper()
	var ports []int
	for _, s := range l.Services {
		for _, p := range s.Ports {
			ports = append(ports, p.Number)
		}
	}
	for _, e := range l.Edges {
		ports = append(ports, e.ProxyPort)
	}
next:
	for offset := 20000; offset < 50000; offset += 1013 {
		for _, p := range ports {
			lis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+offset))
			if err != nil {
				continue next
			}
			lis.Close()
		}
		return offset
	}
	t.Fatal("no port offset with every port of the lab free")
	return 0
}

func addrOf(t *testing.T, s *lab.Service, port string, offset int) string {
	t.Helper()
	for _, p := range s.Ports {
		if p.Name == port {
			return fmt.Sprintf("127.0.0.1:%d", p.Number+offset)
		}
	}
	t.Fatalf("service %s has no port %s", s.Name, port)
	return ""
}

// relay forwards every connection to from on to to, where Toxiproxy's proxy
// would be.
func relay(t *testing.T, from, to string) {
	t.Helper()
	lis, err := net.Listen("tcp", from)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", to)
				if err != nil {
					return
				}
				defer u.Close()
				go io.Copy(u, c)
				io.Copy(c, u)
			}()
		}
	}()
}

// start runs a service; at cleanup it is sent SIGTERM and must exit 0.
func start(t *testing.T, name string, proc lab.Process) {
	t.Helper()
	cmd := exec.Command(proc.Command, proc.Args...)
	cmd.Env = append(os.Environ(), proc.Env...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s after SIGTERM: %v\n%s", name, err, logs.String())
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("%s did not stop within 10s of SIGTERM", name)
		}
	})
}

// waitReady polls the service's readiness probe, as the harness does.
func waitReady(t *testing.T, s *lab.Service, offset int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := probe(t.Context(), s, offset); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s is not ready after 10s: %v", s.Name, probe(t.Context(), s, offset))
}

func probe(ctx context.Context, s *lab.Service, offset int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	port := func(name string) string {
		for _, p := range s.Ports {
			if p.Name == name {
				return fmt.Sprintf("127.0.0.1:%d", p.Number+offset)
			}
		}
		return ""
	}
	switch {
	case s.Ready.HTTP != nil:
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+port(s.Ready.HTTP.Port)+s.Ready.HTTP.Path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("readiness answered %d", resp.StatusCode)
		}
		return nil
	case s.Ready.GRPC != nil:
		conn, err := grpc.NewClient(port(s.Ready.GRPC.Port), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer conn.Close()
		r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: s.Ready.GRPC.Service})
		if err != nil {
			return err
		}
		if r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("health: %s", r.GetStatus())
		}
		return nil
	}
	return errors.New("no readiness probe")
}
