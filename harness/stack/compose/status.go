package compose

import (
	"context"
	"net/http"
	"time"

	"github.com/chaoslab/chaoslab/harness/stack"
)

// Component is one container of the compose lab as `status` shows it.
type Component struct {
	Name string
	// State is Docker's: running, paused, exited, … ("missing" when the
	// container does not exist).
	State string
	// Ready is nil when the component answers its readiness check.
	Ready error
}

// Status reports every container of the lab: its state and readiness.
func Status(ctx context.Context, cfg Config) ([]Component, State, error) {
	l, err := Attach(cfg)
	if err != nil {
		return nil, State{}, err
	}
	client := &http.Client{Timeout: 2 * time.Second}
	var out []Component
	for _, c := range l.readiness() {
		comp := Component{Name: c.name, State: "missing"}
		if state, _, err := l.ContainerState(ctx, c.name); err == nil {
			comp.State = state
		}
		comp.Ready = stack.Probe(ctx, client, c.url)
		out = append(out, comp)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return out, l.st, nil
}
