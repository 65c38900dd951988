package faults

import (
	"context"
	"net/http"
	"syscall"
)

// Env is what the injectors act on: a lab's Toxiproxy, process control,
// admin APIs and, in a lab of containers, container control. A nil field
// disables the faults that need it (they fail to apply). Package faults
// defines what it needs of a lab and nothing else; the harness builds an
// Env from a running lab (stack.FaultEnv).
type Env struct {
	// Toxiproxy carries network faults.
	Toxiproxy Proxies
	// Processes kills, pauses and restarts services, and restarts them
	// with knobs. When it also implements ProcessStatus, rollback after a
	// crash restarts only the services that are not running; when it
	// implements KnobStatus, rollback also restores the defaults of a
	// service that runs with overrides the ledger does not know of.
	Processes Processes
	// AdminURL returns the base URL of a service's admin API
	// (faultinject), which takes request faults.
	AdminURL func(service string) (string, error)
	// HTTP is the client of the admin APIs (nil: a client with a 10s
	// timeout).
	HTTP *http.Client
	// Containers stops, kills, pauses and disconnects the services'
	// containers, for container faults; nil in a lab of processes.
	Containers Containers
}

// Processes controls the services' processes, for process faults and for
// applying a scenario's service knobs. Every stack of the harness
// (stack.Stack) implements it.
type Processes interface {
	// Signal sends sig to the service's process (SIGKILL, SIGSTOP, SIGCONT, …).
	Signal(ctx context.Context, service string, sig syscall.Signal) error
	// Restart stops the service (SIGTERM, SIGKILL after a timeout, or
	// nothing if it is already dead) and starts it again with flags
	// overriding its defaults (nil: the lab's defaults), waiting until ready.
	Restart(ctx context.Context, service string, flags map[string]string) error
}

// ProcessStatus is an optional ability of an Env's Processes: whether a
// service's process is running (a paused process is running).
type ProcessStatus interface {
	Running(service string) bool
}

// Proxies is what network faults need of Toxiproxy: a toxic added to and
// removed from a proxy, a proxy disabled and enabled again, and every proxy
// with its toxics (for rollback's sweep). The harness adapts its Toxiproxy
// client to it (stack.FaultProxies). Every call ends when ctx does.
type Proxies interface {
	// AddToxic adds t to proxy.
	AddToxic(ctx context.Context, proxy string, t Toxic) error
	// RemoveToxic removes the toxic name from proxy.
	RemoveToxic(ctx context.Context, proxy, name string) error
	// SetEnabled enables or disables proxy: a disabled proxy refuses
	// connections and cuts the ones it has.
	SetEnabled(ctx context.Context, proxy string, enabled bool) error
	// Proxies returns every proxy, by name.
	Proxies(ctx context.Context) (map[string]Proxy, error)
}

// Proxy is the state of one Toxiproxy proxy.
type Proxy struct {
	Enabled bool
	Toxics  []Toxic
}

// Toxic is one toxic on a proxy, in Toxiproxy's terms.
type Toxic struct {
	// Name is unique on its proxy; chaoslab's start with NamePrefix.
	Name string
	// Type is the toxic's type: "latency", "timeout", … (see Toxics).
	Type string
	// Stream is Downstream or Upstream.
	Stream string
	// Toxicity is the fraction of connections hit, in (0, 1].
	Toxicity float64
	// Attributes are the toxic's attributes (see Attributes).
	Attributes map[string]int64
}
