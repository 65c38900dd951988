package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is a process the lab started, as recorded in the state file. The
// start time (from /proc) guards against signalling a recycled PID.
type Proc struct {
	// Name is the component's name: a service's instance
	// (faults.InstanceName: "store", "store-1"), "prometheus", ….
	Name      string   `json:"name"`
	PID       int      `json:"pid"`
	StartTime uint64   `json:"start_time"`
	Path      string   `json:"path"`
	Args      []string `json:"args"`
	Log       string   `json:"log"`
	// Env is what it got beyond the harness's environment, "NAME=value";
	// Dir its working directory ("": the harness's). Restarts reuse both.
	Env []string `json:"env,omitempty"`
	Dir string   `json:"dir,omitempty"`
	// Ready is the URL that answers 200 once the component is ready.
	Ready string `json:"ready"`
}

// spawn starts path with args in its own session (so a Ctrl-C at the
// terminal reaches the lab runner, not the lab) with stdout and stderr
// appended to logPath. When the caller keeps running, it must reap the
// child: wait is that, to be run in a goroutine.
func spawn(name, path string, args []string, env []string, dir, logPath string) (Proc, func() error, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return Proc{}, nil, fmt.Errorf("starting %s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return Proc{}, nil, fmt.Errorf("starting %s (%s): %w", name, path, err)
	}
	logf.Close() // the child holds its own descriptor
	st, _ := startTime(cmd.Process.Pid)
	p := Proc{Name: name, PID: cmd.Process.Pid, StartTime: st, Path: path, Args: args, Log: logPath, Env: env, Dir: dir}
	return p, cmd.Wait, nil
}

// startTime is the process's start time in clock ticks since boot
// (/proc/<pid>/stat field 22).
func startTime(pid int) (uint64, error) {
	f, _, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 20 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// procStat returns the fields after the command name, and the state letter.
func procStat(pid int) ([]string, string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, "", fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) == 0 {
		return nil, "", fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return f, f[0], nil
}

// Alive reports whether the recorded process still runs: same PID, same
// start time, and not a zombie.
func (p Proc) Alive() bool {
	if p.PID <= 0 {
		return false
	}
	f, state, err := procStat(p.PID)
	if err != nil || state == "Z" || state == "X" {
		return false
	}
	if p.StartTime != 0 && len(f) >= 20 && f[19] != strconv.FormatUint(p.StartTime, 10) {
		return false // the PID was recycled by another process
	}
	return true
}

// Signal sends sig to the process's group (its session leader is the
// process itself), if it is still the process that was started.
func (p Proc) Signal(sig syscall.Signal) error {
	if !p.Alive() {
		return fmt.Errorf("%s (pid %d) is not running", p.Name, p.PID)
	}
	if err := syscall.Kill(-p.PID, sig); err != nil {
		if err := syscall.Kill(p.PID, sig); err != nil {
			return fmt.Errorf("signalling %s (pid %d) with %s: %w", p.Name, p.PID, sig, err)
		}
	}
	return nil
}

// Stop sends SIGTERM (after SIGCONT, in case it is paused), waits up to
// grace, then SIGKILLs. It returns once the process is gone.
func (p Proc) Stop(ctx context.Context, grace time.Duration) error {
	if !p.Alive() {
		return nil
	}
	_ = p.Signal(syscall.SIGCONT)
	if err := p.Signal(syscall.SIGTERM); err != nil && p.Alive() {
		return err
	}
	if waitGone(ctx, p, grace) {
		return nil
	}
	if err := p.Signal(syscall.SIGKILL); err != nil && p.Alive() {
		return err
	}
	if waitGone(ctx, p, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("%s (pid %d) is still running after SIGKILL", p.Name, p.PID)
}

func waitGone(ctx context.Context, p Proc, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for p.Alive() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return !p.Alive()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// tail returns the last n lines of a log file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
