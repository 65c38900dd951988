package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// KindContainer is the kind of a ContainerFault.
const KindContainer = "container"

// The actions of a container fault. Each lasts until the end of its phase.
const (
	// ContainerStop stops the service's container (docker stop: SIGTERM,
	// SIGKILL after 10s); it is started again at the end of the phase.
	ContainerStop = "stop"
	// ContainerKill kills it (docker kill: SIGKILL); it is started again at
	// the end of the phase.
	ContainerKill = "kill"
	// ContainerPause freezes every process of the container (docker
	// pause); they are thawed at the end of the phase.
	ContainerPause = "pause"
	// ContainerDisconnect takes the container off the lab's network (docker
	// network disconnect): its peers can neither resolve nor reach it, and
	// the process keeps running. It is connected again at the end of the
	// phase.
	ContainerDisconnect = "disconnect"
)

// ContainerActions returns the actions a ContainerFault accepts.
func ContainerActions() []string {
	return []string{ContainerStop, ContainerKill, ContainerPause, ContainerDisconnect}
}

// The container states (docker's State.Status) that rollback acts on.
const (
	containerRunning = "running"
	containerPaused  = "paused"
	containerExited  = "exited"
	containerCreated = "created"
	containerDead    = "dead"
)

// ErrNoContainers is the error of a container fault on a lab whose services
// are not containers.
var ErrNoContainers = errors.New("container faults need the compose stack (-stack compose)")

// ContainerFault stops, kills, pauses or disconnects the container of one
// service. Only a lab whose services run in containers (the compose stack)
// can apply it.
type ContainerFault struct {
	// Service is one of Services.
	Service string `json:"service"`
	// Action is one of ContainerActions.
	Action string `json:"action"`
}

// String describes the fault in one stable line.
func (f ContainerFault) String() string {
	return fmt.Sprintf("container %s %s", f.Service, f.Action)
}

// Kind returns KindContainer.
func (ContainerFault) Kind() string { return KindContainer }

// Target returns the service.
func (f ContainerFault) Target() string { return f.Service }

// Occupies returns the service: its container and its process are one
// slot, as a disconnect and a kill of one service would undo each other.
func (f ContainerFault) Occupies() (slot, what string) {
	return "service " + f.Service, "a container fault on " + f.Service
}

func (f ContainerFault) summary() string {
	return fmt.Sprintf("container %s on %s", f.Action, f.Service)
}

// capable checks that the lab has container control.
func (ContainerFault) capable(in *Injector) error {
	_, err := in.containers()
	return err
}

// handle is the service and the action.
func (f ContainerFault) handle(string) map[string]string {
	return map[string]string{HandleService: f.Service, HandleAction: f.Action}
}

// problems returns everything wrong with f.
func (f ContainerFault) problems(t *Topology) []FieldError {
	p := problems{prefix: KindContainer}
	checkService(&p, t, f.Service)
	switch {
	case f.Action == "":
		p.add("action", ContainerActions(), "action is missing: say what happens to the container")
	case !slices.Contains(ContainerActions(), f.Action):
		p.add("action", ContainerActions(), "unknown action %q", f.Action)
	}
	return p.list
}

// Containers controls the containers of a lab's services, for container
// faults: the compose stack implements it. Every method names the service
// ("store"), not the container.
type Containers interface {
	// StopContainer stops the container; it stays down.
	StopContainer(ctx context.Context, service string) error
	// StartContainer starts a stopped or killed container and waits until
	// the service is ready.
	StartContainer(ctx context.Context, service string) error
	// KillContainer kills the container.
	KillContainer(ctx context.Context, service string) error
	// PauseContainer and UnpauseContainer freeze and thaw the container.
	PauseContainer(ctx context.Context, service string) error
	UnpauseContainer(ctx context.Context, service string) error
	// DisconnectContainer takes the container off the lab's network;
	// ConnectContainer puts it back (already connected is not an error).
	DisconnectContainer(ctx context.Context, service string) error
	ConnectContainer(ctx context.Context, service string) error
	// ContainerState returns docker's status of the container ("running",
	// "paused", "exited", …) and whether it is on the lab's network.
	ContainerState(ctx context.Context, service string) (status string, connected bool, err error)
}

// containers returns the Env's Containers, or ErrNoContainers.
func (in *Injector) containers() (Containers, error) {
	if in.env.Containers == nil {
		return nil, ErrNoContainers
	}
	return in.env.Containers, nil
}

// apply stops, kills, pauses or disconnects the container.
func (f ContainerFault) apply(ctx context.Context, in *Injector, _ Applied) error {
	c, err := in.containers()
	if err != nil {
		return err
	}
	switch f.Action {
	case ContainerStop:
		return c.StopContainer(ctx, f.Service)
	case ContainerKill:
		return c.KillContainer(ctx, f.Service)
	case ContainerPause:
		return c.PauseContainer(ctx, f.Service)
	case ContainerDisconnect:
		return c.DisconnectContainer(ctx, f.Service)
	}
	return fmt.Errorf("unknown container action %q", f.Action)
}

// undo ends a container fault idempotently: undoing a fault that
// is already undone, or that never acted (a crash between the ledger's
// intent and the action), changes nothing. disconnect: the container is
// connected, which does nothing to a connected one (ConnectContainer's
// contract), without inspecting it first: every second the container stays
// off the network delays the system's recovery. The others go by the
// container's state: stop and kill start it unless it runs (or is paused);
// pause unpauses it if it is paused.
func (f ContainerFault) undo(ctx context.Context, in *Injector, _ Applied) error {
	c, err := in.containers()
	if err != nil {
		return err
	}
	if f.Action == ContainerDisconnect {
		return c.ConnectContainer(ctx, f.Service)
	}
	status, _, err := c.ContainerState(ctx, f.Service)
	if err != nil {
		return fmt.Errorf("inspecting the container of %s: %w", f.Service, err)
	}
	switch f.Action {
	case ContainerStop, ContainerKill:
		switch status {
		case containerRunning:
			return nil
		case containerPaused:
			// Not stopped after all (paused by something else): leave
			// pauses to pause faults and the sweep.
			return nil
		}
		return c.StartContainer(ctx, f.Service)
	case ContainerPause:
		if status != containerPaused {
			return nil
		}
		return c.UnpauseContainer(ctx, f.Service)
	}
	return fmt.Errorf("unknown container action %q", f.Action)
}

// sweep brings back every service's container that a container
// fault may have left behind and the ledger does not know of: it connects
// a container that is off the network, unpauses a paused one and starts
// one that is not running (exited, created or dead). It leaves the other
// states alone (restarting, removing: docker is at work).
func (ContainerFault) sweep(ctx context.Context, in *Injector) error {
	c := in.env.Containers
	if c == nil {
		return nil
	}
	var errs []error
	for _, svc := range in.env.Services {
		status, connected, err := c.ContainerState(ctx, svc)
		if err != nil {
			errs = append(errs, fmt.Errorf("inspecting the container of %s: %w", svc, err))
			continue
		}
		if !connected {
			if err := c.ConnectContainer(ctx, svc); err != nil {
				errs = append(errs, fmt.Errorf("connecting the container of %s: %w", svc, err))
			}
		}
		switch status {
		case containerPaused:
			err = c.UnpauseContainer(ctx, svc)
		case containerExited, containerCreated, containerDead:
			err = c.StartContainer(ctx, svc)
		default:
			err = nil
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("bringing back the %s container of %s: %w", status, svc, err))
		}
	}
	return errors.Join(errs...)
}
