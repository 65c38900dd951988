package faults

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// KindProcess is the kind of a ProcessFault.
const KindProcess = "process"

// The actions of a process fault.
const (
	// ActionKill sends SIGKILL; the service is started again after
	// RestartAfter, or at the end of the phase when RestartAfter is 0.
	ActionKill = "kill"
	// ActionPause sends SIGSTOP at the start of the phase and SIGCONT at
	// its end.
	ActionPause = "pause"
	// ActionRestart sends SIGTERM (a graceful drain) at the start of the
	// phase and starts the service again as soon as it has exited.
	ActionRestart = "restart"
)

// Actions returns the actions a ProcessFault accepts.
func Actions() []string { return []string{ActionKill, ActionPause, ActionRestart} }

// maxRestartAfter bounds RestartAfter, to catch unit typos.
const maxRestartAfter = time.Hour

// ProcessFault kills, pauses or restarts one service process.
type ProcessFault struct {
	// Service is one of Services.
	Service string `json:"service"`
	// Action is one of Actions.
	Action string `json:"action"`
	// RestartAfter, for ActionKill only, is how long after the kill the
	// service is started again; 0 means at the end of the phase.
	RestartAfter time.Duration `json:"restart_after,omitempty"`
	// Replica, when set, is the one replica (0-based) of a service with
	// replicas that the fault is on; unset, it is on every replica.
	Replica *int `json:"replica,omitempty"`
}

// target is what process control acts on: the service (all its replicas)
// or the one replica's instance (InstanceName).
func (f ProcessFault) target() string {
	if f.Replica == nil {
		return f.Service
	}
	return InstanceName(f.Service, 2, *f.Replica) // validated: the service has replicas
}

// String describes the fault in one stable line.
func (f ProcessFault) String() string {
	s := fmt.Sprintf("process %s %s", f.Service, f.Action)
	if f.Replica != nil {
		s += " replica=" + strconv.Itoa(*f.Replica)
	}
	if f.RestartAfter != 0 {
		s += " restart_after=" + f.RestartAfter.String()
	}
	return s
}

// Kind returns KindProcess.
func (ProcessFault) Kind() string { return KindProcess }

// Target returns the service (String and Occupies name the replica).
func (f ProcessFault) Target() string { return f.Service }

// Occupies returns the service (or its replica): its process and its
// container are one slot, as a kill and a disconnect of one service would
// undo each other.
func (f ProcessFault) Occupies() (slot, what string) {
	return "service " + f.target(), "a process fault on " + f.target()
}

func (f ProcessFault) summary() string { return fmt.Sprintf("process %s on %s", f.Action, f.target()) }

// problems returns everything wrong with f.
func (f ProcessFault) problems(t *Topology) []FieldError {
	p := problems{prefix: KindProcess}
	if checkService(&p, t, f.Service) {
		checkReplica(&p, t, f.Service, f.Replica)
	}
	switch {
	case f.Action == "":
		p.add("action", Actions(), "action is missing: say what happens to the process")
	case !slices.Contains(Actions(), f.Action):
		p.add("action", Actions(), "unknown action %q", f.Action)
	}
	switch {
	case f.RestartAfter == 0:
	case f.Action != ActionKill:
		p.add("restart_after", nil, "restart_after applies to kill only: %s ends with the phase", f.Action)
	case f.RestartAfter < 0 || f.RestartAfter > maxRestartAfter:
		p.add("restart_after", nil, "restart_after %s: must be from 0 (at the end of the phase) to %s", f.RestartAfter, maxRestartAfter)
	}
	return p.list
}

// checkService records a problem when service is missing, or is not one
// of t's services (a nil t knows every service), and reports whether it
// found one.
func checkService(p *problems, t *Topology, service string) bool {
	var names []string
	if t != nil {
		names = t.ServiceNames()
	}
	switch {
	case service == "":
		p.add("service", names, "service is missing: name the service the fault is on")
	case t != nil && !slices.Contains(names, service):
		p.add("service", names, "unknown service %q", service)
	default:
		return true
	}
	return false
}

// checkReplica records a problem when replica is set but is not one of
// service's replicas in t (a nil t knows no replica counts, only that a
// replica is not negative).
func checkReplica(p *problems, t *Topology, service string, replica *int) {
	if replica == nil {
		return
	}
	n := 0
	if t != nil {
		if s, ok := t.Service(service); ok {
			n = s.replicas()
		}
	}
	switch {
	case *replica < 0:
		p.add("replica", nil, "replica %d: replicas count from 0", *replica)
	case t == nil:
	case n < 2:
		p.add("replica", nil, "%s runs one replica: remove replica (a fault without one is on the service)", service)
	case *replica >= n:
		p.add("replica", nil, "replica %d: %s runs %d replicas, 0 to %d", *replica, service, n, n-1)
	}
}

// capable checks that the lab has process control.
func (ProcessFault) capable(in *Injector) error {
	_, err := in.processes()
	return err
}

// handle is the service and the action.
func (f ProcessFault) handle(string) map[string]string {
	return map[string]string{HandleService: f.Service, HandleAction: f.Action}
}

// apply kills, pauses or restarts the service.
func (f ProcessFault) apply(ctx context.Context, in *Injector, a Applied) error {
	procs, err := in.processes()
	if err != nil {
		return err
	}
	target := f.target()
	switch f.Action {
	case ActionPause:
		return procs.Signal(ctx, target, syscall.SIGSTOP)
	case ActionRestart:
		return procs.Restart(ctx, target, in.runningFlags(f.Service))
	case ActionKill:
		// The service comes back with the knobs it runs with now: a
		// scenario's kill must not switch its resilience settings back.
		flags := in.runningFlags(f.Service)
		in.mu.Lock()
		in.flags[a.ID] = flags
		in.mu.Unlock()
		job := &restartJob{now: make(chan struct{}), done: make(chan struct{})}
		in.mu.Lock()
		in.kills[a.ID] = job
		in.mu.Unlock()
		if err := procs.Signal(ctx, target, syscall.SIGKILL); err != nil {
			// Not killed: undoing it is a crash's rollback (restart if not running).
			in.mu.Lock()
			delete(in.kills, a.ID)
			in.mu.Unlock()
			return err
		}
		if f.RestartAfter <= 0 {
			close(job.done) // restarted by Remove, at the end of the phase
			return nil
		}
		go func() {
			defer close(job.done)
			t := time.NewTimer(f.RestartAfter)
			defer t.Stop()
			select {
			case <-t.C:
			case <-job.now:
				return
			case <-ctx.Done():
				return
			}
			job.restarted = procs.Restart(ctx, target, flags) == nil
		}()
		return nil
	}
	return fmt.Errorf("unknown process action %q", f.Action)
}

// undo ends the fault: a paused service gets SIGCONT; a killed one is
// restarted unless its delayed restart already did (a restart under way
// is waited for); a restart needs nothing. After a crash (a fault this
// Injector did not apply), a killed or restarted service is restarted only
// if it is not running, when Processes can tell.
func (f ProcessFault) undo(ctx context.Context, in *Injector, a Applied) error {
	procs, err := in.processes()
	if err != nil {
		return err
	}
	status, canTell := procs.(ProcessStatus)
	target := f.target()
	switch f.Action {
	case ActionPause:
		err := procs.Signal(ctx, target, syscall.SIGCONT)
		if err != nil && canTell && !status.Running(target) {
			return nil // nothing to resume
		}
		return err
	case ActionKill:
		in.mu.Lock()
		job := in.kills[a.ID]
		in.mu.Unlock()
		if job != nil {
			job.nowOnce.Do(func() { close(job.now) })
			select {
			case <-job.done:
			case <-ctx.Done():
				return fmt.Errorf("waiting for the restart of %s: %w", target, ctx.Err())
			}
			if job.restarted {
				return nil
			}
			in.mu.Lock()
			flags := in.flags[a.ID]
			in.mu.Unlock()
			return procs.Restart(ctx, target, flags)
		}
		// Not killed by this Injector (a crashed run): start it if needed.
		if canTell && status.Running(target) {
			return nil
		}
		return procs.Restart(ctx, target, nil)
	case ActionRestart:
		if canTell && !status.Running(target) {
			return procs.Restart(ctx, target, nil)
		}
		return nil
	}
	return fmt.Errorf("unknown process action %q", f.Action)
}

// restartJob is the restart of a killed service: after RestartAfter in a
// goroutine, or at Remove.
type restartJob struct {
	now       chan struct{} // closed by Remove: stop waiting, Remove restarts
	nowOnce   sync.Once
	done      chan struct{} // closed when the goroutine is over (or at once: no goroutine)
	restarted bool          // set before done is closed
}
