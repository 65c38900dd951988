package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/chaoslab/chaoslab/harness/stack"
)

// State is what a running lab records in <run dir>/state.json: enough for
// `chaoslab down` to stop everything even after `up` itself was killed -9,
// and for `status`, `run` and `clean` to find the lab.
type State struct {
	StartedAt time.Time `json:"started_at"`
	RunDir    string    `json:"run_dir"`
	// LabFile is the lab file the lab was started from.
	LabFile   string          `json:"lab_file,omitempty"`
	Ports     Ports           `json:"ports"`
	Endpoints stack.Endpoints `json:"endpoints"`
	// Procs in start order.
	Procs []Proc `json:"procs"`
	// ServiceArgs are each service's default flags, for restarts.
	ServiceArgs map[string][]string `json:"service_args"`
	// Overrides are the flags each service runs with beyond its defaults
	// (a scenario's knobs: Lab.Restart with flags), flag name to value; a
	// service that runs with its defaults has none. Recorded with the
	// restarted process, so that `chaoslab clean` and the next run can
	// tell a lab left with knobs by a crashed runner.
	Overrides map[string]map[string]string `json:"overrides,omitempty"`
}

func statePath(runDir string) string { return filepath.Join(runDir, "state.json") }

// ReadState reads the lab's state; fs.ErrNotExist when no lab was started.
func ReadState(runDir string) (*State, error) {
	b, err := os.ReadFile(statePath(runDir))
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading lab state %s: %w", statePath(runDir), err)
	}
	return &s, nil
}

// write saves the state atomically (temp file + rename).
func (s *State) write() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := statePath(s.RunDir) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing lab state: %w", err)
	}
	if err := os.Rename(tmp, statePath(s.RunDir)); err != nil {
		return fmt.Errorf("writing lab state: %w", err)
	}
	return nil
}

// Running returns the recorded processes that still run.
func (s *State) Running() []Proc {
	var out []Proc
	for _, p := range s.Procs {
		if p.Alive() {
			out = append(out, p)
		}
	}
	return out
}

// proc returns the latest recorded process of a component.
func (s *State) proc(name string) (int, bool) {
	for i := len(s.Procs) - 1; i >= 0; i-- {
		if s.Procs[i].Name == name {
			return i, true
		}
	}
	return 0, false
}

// members returns the processes a name means (stack.Endpoints.Members).
func (s *State) members(name string) []string { return s.Endpoints.Members(name) }

// serviceOf returns the lab service of a component
// (stack.Endpoints.ServiceOf).
func (s *State) serviceOf(name string) string { return s.Endpoints.ServiceOf(name) }

func removeState(runDir string) error {
	if err := os.Remove(statePath(runDir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
