package local

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/harness/stack"
)

// ComponentStatus is what `chaoslab status` shows of one component.
type ComponentStatus struct {
	Name    string
	PID     int
	Running bool
	// Ready is nil when the component's ready URL answers 200.
	Ready error
	// RSSBytes is the resident memory of the process (0 when not running).
	RSSBytes int64
	Log      string
}

// Status reports every component of the lab in cfg.RunDir (the latest
// process of each), probing readiness with ctx.
func Status(ctx context.Context, cfg Config) ([]ComponentStatus, *State, error) {
	runDir, err := filepath.Abs(cfg.RunDir)
	if err != nil {
		return nil, nil, err
	}
	st, err := ReadState(runDir)
	if err != nil {
		return nil, nil, err
	}
	latest := map[string]Proc{}
	var order []string
	for _, p := range st.Procs {
		if _, seen := latest[p.Name]; !seen {
			order = append(order, p.Name)
		}
		latest[p.Name] = p
	}
	client := &http.Client{Timeout: 2 * time.Second}
	out := make([]ComponentStatus, 0, len(order))
	for _, name := range order {
		p := latest[name]
		cs := ComponentStatus{Name: name, PID: p.PID, Running: p.Alive(), Log: p.Log}
		if cs.Running {
			cs.RSSBytes = rss(p.PID)
			cs.Ready = stack.Probe(ctx, client, p.Ready)
		} else {
			cs.Ready = errors.New("not running")
		}
		out = append(out, cs)
	}
	return out, st, nil
}

// rss reads VmRSS from /proc/<pid>/status.
func rss(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
