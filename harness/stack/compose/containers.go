package compose

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/chaoslab/chaoslab/harness/stack"
)

// Every method that controls containers takes a lab service's name, which
// means each of its replicas' containers for a service with replicas (a
// restart: one after the other), or one replica's instance name
// ("store-1"), which means that replica's container alone.

// container returns the id of a compose service's container (running or
// not), found by the labels compose puts on it: one docker call, not a
// docker-compose one (which costs half a second of Python start-up).
func (l *Lab) container(ctx context.Context, service string) (string, error) {
	out, err := l.r.docker(ctx, "ps", "-a", "-q",
		"--filter", "label=com.docker.compose.project="+l.cfg.Project,
		"--filter", "label=com.docker.compose.service="+service)
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(out)
	if id == "" || strings.Contains(id, "\n") {
		return "", fmt.Errorf("no single container for service %q in compose project %s (%q)", service, l.cfg.Project, id)
	}
	return id, nil
}

// members are the compose services name means (members).
func (l *Lab) members(name string) []string { return l.Endpoints().Members(name) }

// killSignals are the signals docker kill delivers, by their Docker names.
var killSignals = map[syscall.Signal]string{syscall.SIGKILL: "KILL", syscall.SIGTERM: "TERM", syscall.SIGINT: "INT"}

// Signal delivers sig to a service (each replica's container) or one
// replica the way Docker can: SIGKILL, SIGTERM and SIGINT as docker kill,
// SIGSTOP and SIGCONT as docker pause and unpause (the cgroup freezer: the
// whole container stops, as a stopped process does; only the paused ones
// are unpaused).
func (l *Lab) Signal(ctx context.Context, service string, sig syscall.Signal) error {
	switch sig {
	case syscall.SIGSTOP:
		return l.onContainers(ctx, l.members(service), "pause")
	case syscall.SIGCONT:
		return l.UnpauseContainer(ctx, service)
	}
	name, ok := killSignals[sig]
	if !ok {
		return fmt.Errorf("signal %v: the compose stack sends only KILL, TERM, INT, STOP (pause) and CONT (unpause)", sig)
	}
	return l.onContainers(ctx, l.members(service), "kill", "--signal", name)
}

// Restart recreates a service's container with flags overriding its
// defaults (nil: the defaults), through the knobs override file, and waits
// until it is ready: each replica's in turn, the next once the one before
// is ready (a rolling restart), or one replica's by its instance name. Its
// data volume survives.
func (l *Lab) Restart(ctx context.Context, service string, flags map[string]string) error {
	e := l.Endpoints()
	if !known(e, service) {
		return fmt.Errorf("no service %q in the lab", service)
	}
	for _, m := range e.Members(service) {
		if err := l.recreate(ctx, m, flags); err != nil {
			return err
		}
	}
	return nil
}

// recreate recreates one compose service's container with flags and waits
// until it is ready.
func (l *Lab) recreate(ctx context.Context, container string, flags map[string]string) error {
	l.mu.Lock()
	if l.st.Knobs == nil {
		l.st.Knobs = map[string]map[string]string{}
	}
	if len(flags) == 0 {
		delete(l.st.Knobs, container)
	} else {
		l.st.Knobs[container] = maps.Clone(flags)
	}
	knobs := maps.Clone(l.st.Knobs)
	e := l.st.Endpoints
	l.mu.Unlock()
	if err := writeKnobs(l.cfg.knobsFile(), knobs, func(c string) string { return e.ServiceOf(c) }); err != nil {
		return err
	}
	if err := l.writeState(); err != nil {
		return err
	}
	if _, err := l.r.compose(ctx, "up", "-d", "--no-deps", "--no-build", "--force-recreate", container); err != nil {
		return err
	}
	return l.waitReady(ctx, container)
}

// waitReady waits until one compose service of the lab's is ready.
func (l *Lab) waitReady(ctx context.Context, container string) error {
	s, _ := l.Endpoints().Instance(container)
	return stack.WaitReady(ctx, s.ReadyURL, l.cfg.ReadyTimeout, nil)
}

// Running reports whether the service's containers run (a paused one
// does): every replica's, for a service with replicas.
func (l *Lab) Running(service string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range l.members(service) {
		status, _, err := l.containerState(ctx, m)
		if err != nil || status != containerRunning && status != containerPaused {
			return false
		}
	}
	return true
}

// Overrides returns the flags service runs with beyond its defaults, as the
// state records them (State.Knobs; nil: its defaults; a service with
// replicas: its first replica's), so that the fault injector's rollback
// can restore the defaults of a service that a crashed run left with a
// scenario's knobs.
func (l *Lab) Overrides(service string) map[string]string {
	first := l.members(service)[0]
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.st.Knobs[first])
}

// Container faults (faults.Containers): a service's act on each of its
// replicas' containers.

// StopContainer stops the service's containers (SIGTERM, then SIGKILL
// after 10s, all at once): unlike a killed process, nothing restarts them
// until StartContainer.
func (l *Lab) StopContainer(ctx context.Context, service string) error {
	return l.onContainers(ctx, l.members(service), "stop", "--time", "10")
}

// StartContainer starts the service's stopped (or killed) containers and
// waits until each is ready; one that runs (or is paused) is left alone.
func (l *Lab) StartContainer(ctx context.Context, service string) error {
	stopped, err := l.inState(ctx, service, func(status string, _ bool) bool {
		return status != containerRunning && status != containerPaused
	})
	if err != nil {
		return err
	}
	if err := l.onContainers(ctx, stopped, "start"); err != nil {
		return err
	}
	for _, m := range stopped {
		if err := l.waitReady(ctx, m); err != nil {
			return fmt.Errorf("%s: %w", m, err)
		}
	}
	return nil
}

// KillContainer kills the service's containers (SIGKILL).
func (l *Lab) KillContainer(ctx context.Context, service string) error {
	return l.onContainers(ctx, l.members(service), "kill")
}

// PauseContainer freezes every process of the service's containers.
func (l *Lab) PauseContainer(ctx context.Context, service string) error {
	return l.onContainers(ctx, l.members(service), "pause")
}

// UnpauseContainer thaws those of them that are paused.
func (l *Lab) UnpauseContainer(ctx context.Context, service string) error {
	paused, err := l.inState(ctx, service, func(status string, _ bool) bool { return status == containerPaused })
	if err != nil {
		return err
	}
	return l.onContainers(ctx, paused, "unpause")
}

// network is the compose project's default network.
func (l *Lab) network() string { return l.cfg.Project + "_default" }

// DisconnectContainer takes the service's containers off the project's
// network: their peers can neither resolve nor reach them, and they reach
// none of them; the processes keep running.
func (l *Lab) DisconnectContainer(ctx context.Context, service string) error {
	var errs []error
	for _, m := range l.members(service) {
		errs = append(errs, l.onContainers(ctx, []string{m}, "network", "disconnect", l.network()))
	}
	return errors.Join(errs...)
}

// ConnectContainer puts them back, each under its compose service's name.
// Connecting a container that is already on the network is not an error.
func (l *Lab) ConnectContainer(ctx context.Context, service string) error {
	off, err := l.inState(ctx, service, func(_ string, connected bool) bool { return !connected })
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range off {
		errs = append(errs, l.onContainers(ctx, []string{m}, "network", "connect", "--alias", m, l.network()))
	}
	return errors.Join(errs...)
}

// The container states that ContainerState sums up a service's replicas
// with (Docker's names; faults has the same).
const (
	containerRunning = "running"
	containerPaused  = "paused"
)

// ContainerState is "running", "paused", "exited", … and whether the
// container is on the project's network (for rollback after a crash). For
// a service with replicas it sums up theirs: the state of the first that
// neither runs nor is paused, else "paused" if one is, else "running"; and
// connected only if each one is.
func (l *Lab) ContainerState(ctx context.Context, service string) (status string, connected bool, err error) {
	status, connected = containerRunning, true
	paused := false
	for _, m := range l.members(service) {
		s, c, err := l.containerState(ctx, m)
		if err != nil {
			return "", false, err
		}
		connected = connected && c
		switch s {
		case containerRunning:
		case containerPaused:
			paused = true
		default:
			if status == containerRunning {
				status = s
			}
		}
	}
	if status == containerRunning && paused {
		status = containerPaused
	}
	return status, connected, nil
}

// containerState is one compose service's container's state.
func (l *Lab) containerState(ctx context.Context, container string) (status string, connected bool, err error) {
	id, err := l.container(ctx, container)
	if err != nil {
		return "", false, err
	}
	out, err := l.r.docker(ctx, "inspect", "--format", "{{.State.Status}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", id)
	if err != nil {
		return "", false, err
	}
	f := strings.Fields(out)
	if len(f) == 0 {
		return "", false, fmt.Errorf("inspecting %s: empty answer", container)
	}
	return f[0], slices.Contains(f[1:], l.network()), nil
}

// inState returns the compose services of name whose container's state
// satisfies ok.
func (l *Lab) inState(ctx context.Context, name string, ok func(status string, connected bool) bool) ([]string, error) {
	var out []string
	for _, m := range l.members(name) {
		status, connected, err := l.containerState(ctx, m)
		if err != nil {
			return nil, err
		}
		if ok(status, connected) {
			out = append(out, m)
		}
	}
	return out, nil
}

// onContainers runs one docker command on the containers of the compose
// services (their ids last); none is nothing to do.
func (l *Lab) onContainers(ctx context.Context, services []string, verb string, args ...string) error {
	if len(services) == 0 {
		return nil
	}
	ids := make([]string, 0, len(services))
	for _, s := range services {
		id, err := l.container(ctx, s)
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	_, err := l.r.docker(ctx, append(append([]string{verb}, args...), ids...)...)
	return err
}

// writeKnobs writes the override file that gives containers their knobs as
// CHAOSLAB_<SERVICE>_<FLAG> variables (every flag of a service can be set
// that way; service maps a compose service to its lab service, whose name
// the variables carry: a replica's are its service's; nil with no knobs);
// no knobs still writes a valid, empty override.
func writeKnobs(path string, knobs map[string]map[string]string, service func(container string) string) error {
	var b strings.Builder
	// docker-compose 1.x reads a file without `version` as version 1 and
	// refuses to merge it with the main file; Compose v2 ignores it.
	b.WriteString("# Written by chaoslab (compose stack): the scenario knobs in force.\nversion: \"3.9\"\nservices:")
	if len(knobs) == 0 {
		b.WriteString(" {}\n")
	} else {
		b.WriteString("\n")
	}
	for _, c := range slices.Sorted(maps.Keys(knobs)) {
		fmt.Fprintf(&b, "  %s:\n    environment:\n", c)
		for _, flag := range slices.Sorted(maps.Keys(knobs[c])) {
			fmt.Fprintf(&b, "      %s: %q\n", EnvName(service(c), flag), knobs[c][flag])
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing the knobs override: %w", err)
	}
	return nil
}

// EnvName is the variable a service reads a flag from:
// ("store", "pool-size") → CHAOSLAB_STORE_POOL_SIZE.
func EnvName(service, flag string) string {
	return "CHAOSLAB_" + strings.ToUpper(service) + "_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}
