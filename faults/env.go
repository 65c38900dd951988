package faults

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
)

// Env is what the injectors act on: a lab's Toxiproxy, process control,
// admin APIs and, in a lab of containers, container control. A nil field
// disables the faults that need it (they fail to apply). Package faults
// defines what it needs of a lab and nothing else; the harness builds an
// Env from a running lab (stack.FaultEnv).
type Env struct {
	// Services are the lab's services, dependencies first (the lab's start
	// order, lab.Lab.StartOrder): the services faults and knobs may be
	// applied to, and those rollback's sweep goes over.
	Services []string
	// Toxiproxy carries network faults.
	Toxiproxy Proxies
	// Processes kills, pauses and restarts services, and restarts them
	// with knobs. When it also implements ProcessStatus, rollback after a
	// crash restarts only the services that are not running; when it
	// implements KnobStatus, rollback also restores the defaults of a
	// service that runs with overrides the ledger does not know of.
	Processes Processes
	// AdminURL returns the base URL of a service's admin API
	// (faultinject), which takes request faults. For a service without
	// one it returns an error wrapping ErrNoAdminAPI, which rollback's
	// sweep skips.
	AdminURL func(service string) (string, error)
	// HTTP is the client of the admin APIs (nil: a client with a 10s
	// timeout).
	HTTP *http.Client
	// Containers stops, kills, pauses and disconnects the services'
	// containers, for container faults; nil in a lab of processes.
	Containers Containers
	// Instances returns the instances (InstanceName) of a service that
	// runs replicas, for the faults that act on each of them (request
	// faults: each replica has its admin API); nil, or an empty answer,
	// means the service is one instance, named as the service.
	Instances func(service string) []string
	// EdgeProxies returns the proxies of an edge, one per replica of its
	// callee (ReplicaProxyName), for a network fault on the whole edge;
	// nil, or an empty answer, means the edge has one proxy, ProxyName.
	EdgeProxies func(edge string) []string
}

// instances returns the instances of service in the Env.
func (in *Injector) instances(service string) []string {
	if in.env.Instances != nil {
		if is := in.env.Instances(service); len(is) > 0 {
			return is
		}
	}
	return []string{service}
}

// Processes controls the services' processes, for process faults and for
// applying a scenario's service knobs. Every stack of the harness
// (stack.Stack) implements it.
type Processes interface {
	// Signal sends sig to the service's process (SIGKILL, SIGSTOP, SIGCONT, …).
	// service may also name one replica's instance (InstanceName); the
	// name of a service with replicas means all of them.
	Signal(ctx context.Context, service string, sig syscall.Signal) error
	// Restart stops the service (SIGTERM, SIGKILL after a timeout, or
	// nothing if it is already dead) and starts it again with flags
	// overriding its defaults (nil: the lab's defaults), waiting until ready.
	// A service with replicas is restarted one replica after the other;
	// an instance's name restarts that replica alone.
	Restart(ctx context.Context, service string, flags map[string]string) error
}

// ProcessStatus is an optional ability of an Env's Processes: whether a
// service's process is running (a paused process is running).
type ProcessStatus interface {
	// Running of a service with replicas reports whether all of them run.
	Running(service string) bool
}

// knownService returns an error unless service is one of the Env's.
func (in *Injector) knownService(service string) error {
	if !slices.Contains(in.env.Services, service) {
		if len(in.env.Services) == 0 {
			return fmt.Errorf("unknown service %q: the lab names no services (faults.Env.Services)", service)
		}
		return fmt.Errorf("unknown service %q (one of %s)", service, strings.Join(in.env.Services, ", "))
	}
	return nil
}

// processes returns the Env's Processes, or why there are none.
func (in *Injector) processes() (Processes, error) {
	if in.env.Processes == nil {
		return nil, errors.New("no process control in this lab: process faults cannot be applied")
	}
	return in.env.Processes, nil
}
