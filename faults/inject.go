package faults

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chaoslab/chaoslab/services/faultinject"
)

// NamePrefix starts the name of every toxic and in-service fault chaoslab
// sets: "chaoslab-<Applied.ID>". Rollback removes whatever carries it.
const NamePrefix = "chaoslab-"

// Injector applies faults to a lab and removes them, recording each in a
// Ledger before acting so that nothing it applied outlives a crash. It is
// safe for concurrent use.
type Injector struct {
	env    Env
	ledger *Ledger
	now    func() time.Time
	seq    atomic.Uint64

	mu      sync.Mutex
	kills   map[string]*restartJob       // kills applied by this Injector, by ID
	flags   map[string]map[string]string // the knobs a killed service ran with, by ID
	removed map[string]bool              // IDs this Injector removed
}

// restartJob is the restart of a killed service: after RestartAfter in a
// goroutine, or at Remove.
type restartJob struct {
	now       chan struct{} // closed by Remove: stop waiting, Remove restarts
	nowOnce   sync.Once
	done      chan struct{} // closed when the goroutine is over (or at once: no goroutine)
	restarted bool          // set before done is closed
}

// NewInjector returns an Injector acting on env and recording in ledger.
func NewInjector(env Env, ledger *Ledger) *Injector {
	return &Injector{
		env: env, ledger: ledger, now: time.Now,
		kills: map[string]*restartJob{}, flags: map[string]map[string]string{}, removed: map[string]bool{},
	}
}

// newID returns a fault ID unique across runs.
func (in *Injector) newID() string {
	return fmt.Sprintf("f-%d-%d", in.now().UnixNano(), in.seq.Add(1))
}

// Apply applies the fault s and returns it as applied. It records the
// intent in the ledger first, then acts, then records it applied; when
// acting fails it undoes what may have been done and returns the error. A
// fault the Env cannot apply at all (a container fault without Containers,
// …) fails before anything is recorded.
//
// A kill with RestartAfter restarts the service in a goroutine after that
// delay, bounded by ctx; Remove restarts it at once if that has not
// happened yet (and waits for a restart under way).
func (in *Injector) Apply(ctx context.Context, runID, scenario, phase string, s Spec) (Applied, error) {
	if err := s.Validate(); err != nil {
		return Applied{}, fmt.Errorf("applying %s: %w", s, err)
	}
	if err := in.capable(s); err != nil {
		return Applied{}, fmt.Errorf("applying %s: %w", s, err)
	}
	id := in.newID()
	a := Applied{ID: id, RunID: runID, Scenario: scenario, Phase: phase, Spec: s, Handle: handleFor(s, id)}
	if err := in.ledger.append(Record{Event: EventIntent, ID: a.ID, Fault: &a}); err != nil {
		return Applied{}, fmt.Errorf("applying %s: %w", s, err)
	}
	if err := in.act(ctx, a); err != nil {
		err = fmt.Errorf("applying %s: %w", s, err)
		_ = in.ledger.append(Record{Event: EventError, ID: a.ID, Error: err.Error()})
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if uerr := in.Remove(uctx, a); uerr != nil {
			return Applied{}, errors.Join(err, fmt.Errorf("undoing it (it stays in the ledger for `chaoslab clean`): %w", uerr))
		}
		return Applied{}, err
	}
	a.AppliedAt = in.now().UTC()
	if err := in.ledger.append(Record{Event: EventApplied, ID: a.ID, Fault: &a}); err != nil {
		// The intent is recorded: the fault is pending all the same.
		return a, fmt.Errorf("applied %s: %w", s, err)
	}
	return a, nil
}

// capable returns an error when the Env lacks what the fault s needs, so
// that such a fault is never recorded: a pending fault that this Env could
// not remove would fail every rollback.
func (in *Injector) capable(s Spec) error {
	var err error
	switch {
	case s.Network != nil:
		_, err = in.toxiproxy()
	case s.Process != nil:
		_, err = in.processes()
	case s.Request != nil && in.env.AdminURL == nil:
		_, err = in.admin(s.Request.Service)
	case s.Container != nil:
		_, err = in.containers()
	}
	return err
}

// handleFor returns what removing the fault with id needs.
func handleFor(s Spec, id string) map[string]string {
	switch {
	case s.Network != nil:
		h := map[string]string{HandleProxy: s.Network.Proxy()}
		if s.Network.Toxic != ToxicDown {
			h[HandleToxic] = NamePrefix + id
		}
		return h
	case s.Process != nil:
		return map[string]string{HandleService: s.Process.Service, HandleAction: s.Process.Action}
	case s.Request != nil:
		return map[string]string{HandleService: s.Request.Service, HandleFaultID: NamePrefix + id}
	case s.Container != nil:
		return map[string]string{HandleService: s.Container.Service, HandleAction: s.Container.Action}
	}
	return map[string]string{}
}

// act puts the fault in place.
func (in *Injector) act(ctx context.Context, a Applied) error {
	s := a.Spec
	switch {
	case s.Network != nil:
		tp, err := in.toxiproxy()
		if err != nil {
			return err
		}
		n := s.Network
		if n.Toxic == ToxicDown {
			return tp.SetEnabled(ctx, a.Handle[HandleProxy], false)
		}
		return tp.AddToxic(ctx, a.Handle[HandleProxy], Toxic{
			Name: a.Handle[HandleToxic], Type: n.Toxic, Stream: n.Stream,
			Toxicity: n.Toxicity, Attributes: maps.Clone(n.Attributes),
		})
	case s.Request != nil:
		c, err := in.admin(s.Request.Service)
		if err != nil {
			return err
		}
		f := s.Request.ToFaultinject()
		f.ID = a.Handle[HandleFaultID]
		_, err = c.Set(ctx, f)
		return err
	case s.Process != nil:
		return in.actProcess(ctx, a)
	case s.Container != nil:
		return in.actContainer(ctx, s.Container)
	}
	return errors.New("empty fault")
}

// actProcess kills, pauses or restarts a service.
func (in *Injector) actProcess(ctx context.Context, a Applied) error {
	procs, err := in.processes()
	if err != nil {
		return err
	}
	p := a.Spec.Process
	switch p.Action {
	case ActionPause:
		return procs.Signal(ctx, p.Service, syscall.SIGSTOP)
	case ActionRestart:
		return procs.Restart(ctx, p.Service, in.runningFlags(p.Service))
	case ActionKill:
		// The service comes back with the knobs it runs with now: a
		// scenario's kill must not switch its resilience settings back.
		flags := in.runningFlags(p.Service)
		in.mu.Lock()
		in.flags[a.ID] = flags
		in.mu.Unlock()
		job := &restartJob{now: make(chan struct{}), done: make(chan struct{})}
		in.mu.Lock()
		in.kills[a.ID] = job
		in.mu.Unlock()
		if err := procs.Signal(ctx, p.Service, syscall.SIGKILL); err != nil {
			// Not killed: undoing it is a crash's rollback (restart if not running).
			in.mu.Lock()
			delete(in.kills, a.ID)
			in.mu.Unlock()
			return err
		}
		if p.RestartAfter <= 0 {
			close(job.done) // restarted by Remove, at the end of the phase
			return nil
		}
		go func() {
			defer close(job.done)
			t := time.NewTimer(p.RestartAfter)
			defer t.Stop()
			select {
			case <-t.C:
			case <-job.now:
				return
			case <-ctx.Done():
				return
			}
			job.restarted = procs.Restart(ctx, p.Service, flags) == nil
		}()
		return nil
	}
	return fmt.Errorf("unknown process action %q", p.Action)
}

// Remove removes the fault a, then records it removed in the ledger.
// Removing a fault that is gone, or was never in place, is not an error,
// and removing it again does nothing.
//
// network: the toxic is removed, or the proxy enabled again (down).
// request: the in-service fault is deleted. process: a paused service gets
// SIGCONT; a killed one is restarted unless its delayed restart already
// did (a restart under way is waited for); a restart needs nothing — after
// a crash (a fault this Injector did not apply), a killed or restarted
// service is restarted only if it is not running, when Processes can tell.
// container: from the container's state, a stopped or killed container is
// started, a paused one unpaused, a disconnected one connected.
func (in *Injector) Remove(ctx context.Context, a Applied) error {
	in.mu.Lock()
	done := in.removed[a.ID]
	in.mu.Unlock()
	if done {
		return nil
	}
	if err := in.undo(ctx, a); err != nil {
		err = fmt.Errorf("removing %s: %w", a.Spec, err)
		_ = in.ledger.append(Record{Event: EventError, ID: a.ID, Error: err.Error()})
		return err
	}
	in.mu.Lock()
	in.removed[a.ID] = true
	delete(in.kills, a.ID)
	delete(in.flags, a.ID)
	in.mu.Unlock()
	if err := in.ledger.append(Record{Event: EventRemoved, ID: a.ID}); err != nil {
		return fmt.Errorf("removed %s: %w", a.Spec, err)
	}
	return nil
}

// undo takes the fault away.
func (in *Injector) undo(ctx context.Context, a Applied) error {
	s := a.Spec
	switch {
	case s.Network != nil:
		tp, err := in.toxiproxy()
		if err != nil {
			return err
		}
		proxy := a.Handle[HandleProxy]
		if proxy == "" {
			proxy = s.Network.Proxy()
		}
		if s.Network.Toxic == ToxicDown {
			return tp.SetEnabled(ctx, proxy, true)
		}
		name := a.Handle[HandleToxic]
		if name == "" {
			name = NamePrefix + a.ID
		}
		return removeToxic(ctx, tp, proxy, name)
	case s.Request != nil:
		id := a.Handle[HandleFaultID]
		if id == "" {
			id = NamePrefix + a.ID
		}
		return in.deleteRequestFault(ctx, s.Request.Service, id)
	case s.Process != nil:
		return in.undoProcess(ctx, a)
	case s.Container != nil:
		return in.undoContainer(ctx, s.Container)
	}
	return errors.New("empty fault")
}

// removeToxic removes the toxic name from proxy; a toxic (or proxy) that is
// not there is not an error.
func removeToxic(ctx context.Context, tp Proxies, proxy, name string) error {
	rerr := tp.RemoveToxic(ctx, proxy, name)
	if rerr == nil {
		return nil
	}
	// The Toxiproxy client's errors carry no status: check that it is gone.
	proxies, lerr := tp.Proxies(ctx)
	if lerr != nil {
		return errors.Join(rerr, lerr)
	}
	p, ok := proxies[proxy]
	if ok && slices.ContainsFunc(p.Toxics, func(t Toxic) bool { return t.Name == name }) {
		return rerr
	}
	return nil
}

// deleteRequestFault deletes the in-service fault id; one that is not there
// is not an error.
func (in *Injector) deleteRequestFault(ctx context.Context, service, id string) error {
	c, err := in.admin(service)
	if err != nil {
		return err
	}
	derr := c.Delete(ctx, id)
	if derr == nil {
		return nil
	}
	// Delete fails on an unknown id: check that it is gone indeed.
	list, lerr := c.List(ctx)
	if lerr != nil {
		return errors.Join(derr, lerr)
	}
	if slices.ContainsFunc(list, func(f faultinject.Fault) bool { return f.ID == id }) {
		return derr
	}
	return nil
}

// undoProcess ends a process fault.
func (in *Injector) undoProcess(ctx context.Context, a Applied) error {
	procs, err := in.processes()
	if err != nil {
		return err
	}
	p := a.Spec.Process
	status, canTell := procs.(ProcessStatus)
	switch p.Action {
	case ActionPause:
		err := procs.Signal(ctx, p.Service, syscall.SIGCONT)
		if err != nil && canTell && !status.Running(p.Service) {
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
				return fmt.Errorf("waiting for the restart of %s: %w", p.Service, ctx.Err())
			}
			if job.restarted {
				return nil
			}
			in.mu.Lock()
			flags := in.flags[a.ID]
			in.mu.Unlock()
			return procs.Restart(ctx, p.Service, flags)
		}
		// Not killed by this Injector (a crashed run): start it if needed.
		if canTell && status.Running(p.Service) {
			return nil
		}
		return procs.Restart(ctx, p.Service, nil)
	case ActionRestart:
		if canTell && !status.Running(p.Service) {
			return procs.Restart(ctx, p.Service, nil)
		}
		return nil
	}
	return fmt.Errorf("unknown process action %q", p.Action)
}

// Rollback is what RollbackPending did.
type Rollback struct {
	// Faults are the pending faults it removed, newest first.
	Faults []Applied
	// Knobs are the services it restarted with the lab's defaults: first
	// the pending knobs of the ledger, newest first, then those the sweep
	// found running with overrides that no pending record explained (no
	// ID, RunID or Scenario).
	Knobs []Knobs
}

// runningFlags returns the knobs service runs with now, beyond the lab's
// defaults, when the Processes can tell (KnobStatus); nil otherwise.
func (in *Injector) runningFlags(service string) map[string]string {
	if st, ok := in.env.Processes.(KnobStatus); ok {
		if f := st.Overrides(service); len(f) > 0 {
			return f
		}
	}
	return nil
}

// RollbackPending removes every fault the ledger says may still be in place
// (newest first), then restores the defaults of every service the ledger
// says may still run with knobs (newest first, one restart per service),
// and returns what it undid. Then, belt and braces, it removes every toxic
// named chaoslab-* from every proxy, enables every proxy, deletes every
// in-service fault whose id starts with chaoslab- on every service, in a
// lab of containers connects, unpauses or starts every service's container
// that is disconnected, paused or not running, and, when the lab can tell
// (KnobStatus), restarts with its defaults every service that runs with
// overrides. The runner calls it when it starts (a previous run may have
// crashed); `chaoslab clean` is this.
func (in *Injector) RollbackPending(ctx context.Context) (Rollback, error) {
	pending, knobs, err := in.ledger.pending()
	if err != nil {
		return Rollback{}, err
	}
	var rb Rollback
	var errs []error
	for i := len(pending) - 1; i >= 0; i-- {
		a := pending[i]
		if err := in.Remove(ctx, a); err != nil {
			errs = append(errs, err)
			continue
		}
		rb.Faults = append(rb.Faults, a)
	}
	// After the faults: a paused service is resumed before it is restarted.
	restored, err := in.rollbackKnobs(ctx, knobs)
	rb.Knobs = append(rb.Knobs, restored...)
	errs = append(errs, err)
	found, err := in.sweep(ctx)
	rb.Knobs = append(rb.Knobs, found...)
	errs = append(errs, err)
	return rb, errors.Join(errs...)
}

// sweep removes whatever chaoslab left in the lab that the ledger does not
// know of, and returns the overrides it found services running with.
func (in *Injector) sweep(ctx context.Context) ([]Knobs, error) {
	var errs []error
	if tp := in.env.Toxiproxy; tp != nil {
		proxies, err := tp.Proxies(ctx)
		if err != nil {
			errs = append(errs, err)
		}
		for _, name := range sortedNames(proxies) {
			p := proxies[name]
			for _, t := range p.Toxics {
				if strings.HasPrefix(t.Name, NamePrefix) {
					errs = append(errs, removeToxic(ctx, tp, name, t.Name))
				}
			}
			if !p.Enabled {
				errs = append(errs, tp.SetEnabled(ctx, name, true))
			}
		}
	}
	if in.env.AdminURL != nil {
		for _, svc := range Services() {
			c, err := in.admin(svc)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			list, err := c.List(ctx)
			if err != nil {
				errs = append(errs, fmt.Errorf("listing the faults of %s: %w", svc, err))
				continue
			}
			for _, f := range list {
				if strings.HasPrefix(f.ID, NamePrefix) {
					errs = append(errs, in.deleteRequestFault(ctx, svc, f.ID))
				}
			}
		}
	}
	errs = append(errs, in.sweepContainers(ctx))
	// Last: a service's container must run before it can be restarted.
	found, err := in.sweepKnobs(ctx)
	errs = append(errs, err)
	return found, errors.Join(errs...)
}

// sortedNames returns the keys of m, sorted.
func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func (in *Injector) toxiproxy() (Proxies, error) {
	if in.env.Toxiproxy == nil {
		return nil, errors.New("no Toxiproxy in this lab: network faults cannot be applied")
	}
	return in.env.Toxiproxy, nil
}

func (in *Injector) processes() (Processes, error) {
	if in.env.Processes == nil {
		return nil, errors.New("no process control in this lab: process faults cannot be applied")
	}
	return in.env.Processes, nil
}

// admin returns a client of service's admin API.
func (in *Injector) admin(service string) (*faultinject.Client, error) {
	if in.env.AdminURL == nil {
		return nil, errors.New("no admin API in this lab: request faults cannot be applied")
	}
	u, err := in.env.AdminURL(service)
	if err != nil {
		return nil, fmt.Errorf("finding the admin API of %s: %w", service, err)
	}
	return faultinject.NewClient(u, in.env.HTTP), nil
}
