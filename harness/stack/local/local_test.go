package local

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckFreeNamesPortAndComponent(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { busy.Close() })
	port := busy.Addr().(*net.TCPAddr).Port

	p := Ports{"orders": {"grpc": port}, "gateway": {"http": freePort(t)}}
	err = p.CheckFree(PortRange{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "port "+strconv.Itoa(port)+" (orders grpc) is already in use")
	assert.Contains(t, err.Error(), "-port-offset")

	p = Ports{"a": {"x": 7000}, "b": {"y": 7000}}
	require.ErrorContains(t, p.CheckFree(PortRange{}), "planned twice")
}

// Most ports taken means another lab runs there: one line that says so
// and what to do, not a line per port.
func TestCheckFreeRecognisesAnotherLab(t *testing.T) {
	listen := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		return l.Addr().(*net.TCPAddr).Port
	}
	p := Ports{"orders": {"grpc": listen()}, "gateway": {"http": listen(), "metrics": listen()}, "chaoslab": {"metrics": freePort(t)}}
	err := p.CheckFree(PortRange{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "3 of the lab's 4 ports are in use")
	assert.Contains(t, err.Error(), "another lab probably runs on them")
	assert.Contains(t, err.Error(), "chaoslab down")
	assert.NotContains(t, err.Error(), "is already in use", "not a line per port")
	assert.NotContains(t, err.Error(), "chaoslab metrics", "the port it names is one in use")
}

func startSleep(t *testing.T, dir, name string) (Proc, func() error) {
	t.Helper()
	p, wait, err := spawn(name, "/bin/sleep", []string{"60"}, nil, "", filepath.Join(dir, name+".log"))
	require.NoError(t, err)
	t.Cleanup(func() { syscall.Kill(-p.PID, syscall.SIGKILL) })
	return p, wait
}

func TestProcIdentityAndStop(t *testing.T) {
	dir := t.TempDir()
	p, wait := startSleep(t, dir, "sleeper")
	done := make(chan struct{})
	go func() { wait(); close(done) }()

	require.True(t, p.Alive())
	recycled := p
	recycled.StartTime++
	assert.False(t, recycled.Alive(), "a PID with another start time is not ours")
	assert.Error(t, recycled.Signal(syscall.SIGTERM), "never signal a recycled PID")
	assert.True(t, p.Alive())

	require.NoError(t, p.Stop(t.Context(), 5*time.Second))
	<-done
	assert.False(t, p.Alive())
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	dir := t.TempDir()
	// A process that ignores SIGTERM.
	p, wait, err := spawn("stubborn", "/bin/sh", []string{"-c", "trap '' TERM; while :; do sleep 0.05; done"}, nil, "", filepath.Join(dir, "s.log"))
	require.NoError(t, err)
	go wait()
	time.Sleep(100 * time.Millisecond) // let the shell install its trap
	start := time.Now()
	require.NoError(t, p.Stop(t.Context(), 300*time.Millisecond))
	assert.False(t, p.Alive())
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
}

func TestZombieCountsAsGone(t *testing.T) {
	cmd := exec.Command("/bin/true")
	require.NoError(t, cmd.Start())
	st, err := startTime(cmd.Process.Pid)
	require.NoError(t, err)
	p := Proc{Name: "z", PID: cmd.Process.Pid, StartTime: st}
	require.Eventually(t, func() bool { return !p.Alive() }, 5*time.Second, 10*time.Millisecond,
		"an exited, unreaped child is not alive")
	cmd.Wait()
}

// Down works from the state file alone: here the "lab" processes were
// started by a process that is gone (as after `kill -9` of `chaoslab up`).
func TestDownStopsEverythingFromTheStateFile(t *testing.T) {
	dir := t.TempDir()
	a, _ := startSleep(t, dir, "jaeger")
	b, _ := startSleep(t, dir, "orders")
	st := &State{StartedAt: time.Now(), RunDir: dir, Procs: []Proc{a, b}}
	require.NoError(t, st.write())

	_, err := Up(t.Context(), Config{Lab: testLab(t), RunDir: dir, ToolsDir: dir, BinDir: dir})
	require.ErrorIs(t, err, ErrRunning, "a second up while a lab runs says so")

	require.NoError(t, Down(t.Context(), Config{RunDir: dir, StopGrace: 2 * time.Second}))
	require.Eventually(t, func() bool { return !a.Alive() && !b.Alive() }, 5*time.Second, 10*time.Millisecond)
	_, err = os.Stat(statePath(dir))
	assert.True(t, os.IsNotExist(err), "state file removed")
	require.NoError(t, Down(t.Context(), Config{RunDir: dir}), "down without a lab is fine")
}

func TestUpNamesMissingBinariesAndTheirMakeTarget(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Lab: testLab(t), RunDir: filepath.Join(dir, "run"), ToolsDir: filepath.Join(dir, "tools"), BinDir: filepath.Join(dir, "bin")}
	_, err := Up(context.Background(), cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "make tools")
	assert.Contains(t, err.Error(), "jaeger")

	for _, tool := range []string{"jaeger", "prometheus", "toxiproxy-server"} {
		require.NoError(t, os.MkdirAll(cfg.ToolsDir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(cfg.ToolsDir, tool), nil, 0o755))
	}
	_, err = Up(context.Background(), cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "api's command")
	assert.Contains(t, err.Error(), "make build")
}

func TestUpNeedsALabFile(t *testing.T) {
	_, err := Up(t.Context(), Config{RunDir: t.TempDir()})
	require.ErrorContains(t, err, "no lab file")
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// A busy port in the ephemeral range is most likely a client connection's
// local port: the error says so and what to do; outside it, it does not.
func TestCheckFreeExplainsTheEphemeralRange(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { busy.Close() })
	port := busy.Addr().(*net.TCPAddr).Port
	p := Ports{"orders": {"grpc": port}, "gateway": {"http": freePort(t)}}

	for _, tt := range []struct {
		name      string
		ephemeral PortRange
		want      bool
	}{
		{"inside", PortRange{Low: port - 1, High: port + 1}, true},
		{"at the low end", PortRange{Low: port, High: port}, true},
		{"outside", PortRange{Low: port + 1, High: port + 100}, false},
		{"unknown", PortRange{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := p.CheckFree(tt.ephemeral)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "port "+strconv.Itoa(port)+" (orders grpc) is already in use")
			if tt.want {
				assert.Contains(t, err.Error(), "ephemeral range "+tt.ephemeral.String())
				assert.Contains(t, err.Error(), "below "+strconv.Itoa(tt.ephemeral.Low))
			} else {
				assert.NotContains(t, err.Error(), "ephemeral")
			}
		})
	}
}

func TestParsePortRange(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want PortRange
	}{
		{"32768\t60999\n", PortRange{32768, 60999}},
		{"1024 65535", PortRange{1024, 65535}},
		{"", linuxEphemeral},
		{"60999 32768", linuxEphemeral},
		{"a b", linuxEphemeral},
		{"1 2 3", linuxEphemeral},
	} {
		assert.Equal(t, tt.want, parsePortRange(tt.in), "%q", tt.in)
	}
}

func TestInRangeListsThePortsByNumber(t *testing.T) {
	p := Ports{"orders": {"public": 50051, "metrics": 9082}, "inventory": {"public": 50052}, "toxiproxy": {"api": 8474}}
	in := p.InRange(PortRange{32768, 60999})
	assert.Equal(t, []Port{{"orders", "public", 50051}, {"inventory", "public", 50052}}, in)
	assert.Equal(t, "ports orders public 50051, inventory public 50052", portList(in))
	assert.Equal(t, "port orders public 50051", portList(in[:1]))
	assert.Empty(t, p.InRange(PortRange{}))
}
