package compose

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/chaoslab/chaoslab/harness/stack"
)

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

// killSignals are the signals docker kill delivers, by their Docker names.
var killSignals = map[syscall.Signal]string{syscall.SIGKILL: "KILL", syscall.SIGTERM: "TERM", syscall.SIGINT: "INT"}

// Signal delivers sig to a service the way Docker can: SIGKILL, SIGTERM and
// SIGINT as docker kill, SIGSTOP and SIGCONT as docker pause and unpause
// (the cgroup freezer: the whole container stops, as a stopped process does).
func (l *Lab) Signal(ctx context.Context, service string, sig syscall.Signal) error {
	switch sig {
	case syscall.SIGSTOP:
		return l.onContainer(ctx, service, "pause")
	case syscall.SIGCONT:
		return l.onContainer(ctx, service, "unpause")
	}
	name, ok := killSignals[sig]
	if !ok {
		return fmt.Errorf("signal %v: the compose stack sends only KILL, TERM, INT, STOP (pause) and CONT (unpause)", sig)
	}
	return l.onContainer(ctx, service, "kill", "--signal", name)
}

// Restart recreates a service's container with flags overriding its
// defaults (nil: the defaults), through the knobs override file, and waits
// until it is ready. Its data volume survives.
func (l *Lab) Restart(ctx context.Context, service string, flags map[string]string) error {
	if _, ok := l.Endpoints().Services[service]; !ok {
		return fmt.Errorf("no service %q in the lab", service)
	}
	l.mu.Lock()
	if l.st.Knobs == nil {
		l.st.Knobs = map[string]map[string]string{}
	}
	if len(flags) == 0 {
		delete(l.st.Knobs, service)
	} else {
		l.st.Knobs[service] = maps.Clone(flags)
	}
	knobs := maps.Clone(l.st.Knobs)
	l.mu.Unlock()
	if err := writeKnobs(l.cfg.knobsFile(), knobs); err != nil {
		return err
	}
	if err := l.writeState(); err != nil {
		return err
	}
	if _, err := l.r.compose(ctx, "up", "-d", "--no-deps", "--no-build", "--force-recreate", service); err != nil {
		return err
	}
	return stack.WaitReady(ctx, l.Endpoints().Services[service].ReadyURL, l.cfg.ReadyTimeout, nil)
}

// Running reports whether the service's container runs (a paused one does).
func (l *Lab) Running(service string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, _, err := l.ContainerState(ctx, service)
	return err == nil && (status == "running" || status == "paused")
}

// Overrides returns the flags service runs with beyond its defaults, as the
// state records them (State.Knobs; nil: its defaults), so that the fault
// injector's rollback can restore the defaults of a service that a crashed
// run left with a scenario's knobs.
func (l *Lab) Overrides(service string) map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.st.Knobs[service])
}

// Container faults (faults.Containers).

// StopContainer stops the service's container (SIGTERM, then SIGKILL after
// 10s): unlike a killed process, nothing restarts it until StartContainer.
func (l *Lab) StopContainer(ctx context.Context, service string) error {
	return l.onContainer(ctx, service, "stop", "--time", "10")
}

// StartContainer starts a stopped (or killed) service's container and
// waits until it is ready.
func (l *Lab) StartContainer(ctx context.Context, service string) error {
	if err := l.onContainer(ctx, service, "start"); err != nil {
		return err
	}
	return stack.WaitReady(ctx, l.Endpoints().Services[service].ReadyURL, l.cfg.ReadyTimeout, nil)
}

// KillContainer kills the service's container (SIGKILL).
func (l *Lab) KillContainer(ctx context.Context, service string) error {
	return l.onContainer(ctx, service, "kill")
}

// PauseContainer freezes every process of the service's container.
func (l *Lab) PauseContainer(ctx context.Context, service string) error {
	return l.onContainer(ctx, service, "pause")
}

// UnpauseContainer thaws it.
func (l *Lab) UnpauseContainer(ctx context.Context, service string) error {
	return l.onContainer(ctx, service, "unpause")
}

// network is the compose project's default network.
func (l *Lab) network() string { return l.cfg.Project + "_default" }

// DisconnectContainer takes the service's container off the project's
// network: its peers can neither resolve nor reach it, and it reaches none
// of them; the process keeps running.
func (l *Lab) DisconnectContainer(ctx context.Context, service string) error {
	return l.onContainer(ctx, service, "network", "disconnect", l.network())
}

// ConnectContainer puts it back, under its service name. Connecting a
// container that is already on the network is not an error.
func (l *Lab) ConnectContainer(ctx context.Context, service string) error {
	_, connected, err := l.ContainerState(ctx, service)
	if err != nil || connected {
		return err
	}
	return l.onContainer(ctx, service, "network", "connect", "--alias", service, l.network())
}

// ContainerState is "running", "paused", "exited", … and whether the
// container is on the project's network (for rollback after a crash).
func (l *Lab) ContainerState(ctx context.Context, service string) (status string, connected bool, err error) {
	id, err := l.container(ctx, service)
	if err != nil {
		return "", false, err
	}
	out, err := l.r.docker(ctx, "inspect", "--format", "{{.State.Status}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", id)
	if err != nil {
		return "", false, err
	}
	f := strings.Fields(out)
	if len(f) == 0 {
		return "", false, fmt.Errorf("inspecting %s: empty answer", service)
	}
	return f[0], slices.Contains(f[1:], l.network()), nil
}

func (l *Lab) onContainer(ctx context.Context, service, verb string, args ...string) error {
	id, err := l.container(ctx, service)
	if err != nil {
		return err
	}
	_, err = l.r.docker(ctx, append(append([]string{verb}, args...), id)...)
	return err
}

// writeKnobs writes the override file that gives services their knobs as
// CHAOSLAB_<SERVICE>_<FLAG> variables (every flag of a service can be set
// that way); no knobs still writes a valid, empty override.
func writeKnobs(path string, knobs map[string]map[string]string) error {
	var b strings.Builder
	// docker-compose 1.x reads a file without `version` as version 1 and
	// refuses to merge it with the main file; Compose v2 ignores it.
	b.WriteString("# Written by chaoslab (compose stack): the scenario knobs in force.\nversion: \"3.9\"\nservices:")
	if len(knobs) == 0 {
		b.WriteString(" {}\n")
	} else {
		b.WriteString("\n")
	}
	for _, svc := range slices.Sorted(maps.Keys(knobs)) {
		fmt.Fprintf(&b, "  %s:\n    environment:\n", svc)
		for _, flag := range slices.Sorted(maps.Keys(knobs[svc])) {
			fmt.Fprintf(&b, "      %s: %q\n", EnvName(svc, flag), knobs[svc][flag])
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
