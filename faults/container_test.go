package faults_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/stack/compose"
)

// The compose stack is what container faults act on.
var _ faults.Containers = (*compose.Lab)(nil)

func contFault(service, action string) faults.Spec {
	return faults.Spec{Container: &faults.ContainerFault{Service: service, Action: action}}
}

// container is the state of one fake container.
type container struct {
	status    string // "running", "paused", "exited"
	connected bool
}

// fakeContainers behaves like docker on the shop's containers: killing,
// pausing or disconnecting a container that is not in the state for it
// fails, starting a running one and connecting a connected one do nothing.
// It logs every call that changes something ("kill ledger") apart from
// the state queries, which it counts.
type fakeContainers struct {
	mu     sync.Mutex
	state  map[string]*container
	calls  []string
	states int
	// fail makes the operation named ("kill", "state", …) fail.
	fail map[string]error
}

func newFakeContainers() *fakeContainers {
	c := &fakeContainers{state: map[string]*container{}, fail: map[string]error{}}
	for _, s := range startOrder() {
		c.state[s] = &container{status: "running", connected: true}
	}
	return c
}

// do runs op on service's container under the lock: it logs the call,
// then fails as told or applies change.
func (c *fakeContainers) do(op, service string, change func(*container) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, op+" "+service)
	if err := c.fail[op]; err != nil {
		return err
	}
	ct, ok := c.state[service]
	if !ok {
		return fmt.Errorf("no container for service %q", service)
	}
	return change(ct)
}

func (c *fakeContainers) StopContainer(_ context.Context, service string) error {
	return c.do("stop", service, func(ct *container) error {
		if ct.status == "paused" {
			return errors.New("cannot stop a paused container")
		}
		ct.status = "exited"
		return nil
	})
}

func (c *fakeContainers) StartContainer(_ context.Context, service string) error {
	return c.do("start", service, func(ct *container) error {
		if ct.status == "paused" {
			return errors.New("cannot start a paused container, try unpause instead")
		}
		ct.status = "running"
		return nil
	})
}

func (c *fakeContainers) KillContainer(_ context.Context, service string) error {
	return c.do("kill", service, func(ct *container) error {
		if ct.status != "running" {
			return fmt.Errorf("container %s is not running", service)
		}
		ct.status = "exited"
		return nil
	})
}

func (c *fakeContainers) PauseContainer(_ context.Context, service string) error {
	return c.do("pause", service, func(ct *container) error {
		if ct.status != "running" {
			return fmt.Errorf("container %s is not running", service)
		}
		ct.status = "paused"
		return nil
	})
}

func (c *fakeContainers) UnpauseContainer(_ context.Context, service string) error {
	return c.do("unpause", service, func(ct *container) error {
		if ct.status != "paused" {
			return fmt.Errorf("container %s is not paused", service)
		}
		ct.status = "running"
		return nil
	})
}

func (c *fakeContainers) DisconnectContainer(_ context.Context, service string) error {
	return c.do("disconnect", service, func(ct *container) error {
		if !ct.connected {
			return fmt.Errorf("container %s is not connected to the network", service)
		}
		ct.connected = false
		return nil
	})
}

func (c *fakeContainers) ConnectContainer(_ context.Context, service string) error {
	return c.do("connect", service, func(ct *container) error {
		ct.connected = true
		return nil
	})
}

func (c *fakeContainers) ContainerState(_ context.Context, service string) (string, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.states++
	if err := c.fail["state"]; err != nil {
		return "", false, err
	}
	ct, ok := c.state[service]
	if !ok {
		return "", false, fmt.Errorf("no container for service %q", service)
	}
	return ct.status, ct.connected, nil
}

// log returns the calls so far, state queries left out.
func (c *fakeContainers) log() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// get returns the state of service's container.
func (c *fakeContainers) get(service string) container {
	c.mu.Lock()
	defer c.mu.Unlock()
	return *c.state[service]
}

// set sets the state of service's container.
func (c *fakeContainers) set(service, status string, connected bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state[service] = &container{status: status, connected: connected}
}

// healthy reports whether every container runs, connected.
func (c *fakeContainers) healthy() bool {
	for _, s := range startOrder() {
		if c.get(s) != (container{status: "running", connected: true}) {
			return false
		}
	}
	return true
}

func TestContainerApplyRemove(t *testing.T) {
	tests := []struct {
		action string
		// during is the container's state with the fault in place.
		during container
		// applyCalls and removeCalls are the calls Apply and Remove make;
		// undoneCalls those of removing a fault that is undone already.
		applyCalls, removeCalls, undoneCalls []string
	}{
		{action: faults.ContainerStop, during: container{status: "exited", connected: true},
			applyCalls: []string{"stop ledger"}, removeCalls: []string{"start ledger"}},
		{action: faults.ContainerKill, during: container{status: "exited", connected: true},
			applyCalls: []string{"kill ledger"}, removeCalls: []string{"start ledger"}},
		{action: faults.ContainerPause, during: container{status: "paused", connected: true},
			applyCalls: []string{"pause ledger"}, removeCalls: []string{"unpause ledger"}},
		{action: faults.ContainerDisconnect, during: container{status: "running", connected: false},
			applyCalls: []string{"disconnect ledger"}, removeCalls: []string{"connect ledger"},
			undoneCalls: []string{"connect ledger"}}, // connecting a connected container does nothing
	}
	require.Len(t, tests, len(faults.ContainerActions()), "a test per action")
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			cs := newFakeContainers()
			in, ledger := newInjector(t, faults.Env{Services: startOrder(), Containers: cs})
			a, err := in.Apply(t.Context(), "r", "sc", "fault", contFault(svcLedger, tt.action))
			require.NoError(t, err)
			assert.Equal(t, map[string]string{faults.HandleService: svcLedger, faults.HandleAction: tt.action}, a.Handle)
			assert.Equal(t, tt.during, cs.get(svcLedger))
			assert.Equal(t, tt.applyCalls, cs.log())
			assert.Equal(t, []string{a.ID}, pendingIDs(t, ledger))

			require.NoError(t, in.Remove(t.Context(), a))
			assert.Equal(t, container{status: "running", connected: true}, cs.get(svcLedger))
			assert.Equal(t, append(tt.applyCalls, tt.removeCalls...), cs.log())
			assert.Empty(t, pendingIDs(t, ledger))

			require.NoError(t, in.Remove(t.Context(), a), "removing twice")
			assert.Equal(t, append(tt.applyCalls, tt.removeCalls...), cs.log(), "the second Remove does nothing")

			// Another Injector (a run that crashed after removing the
			// fault, before recording it) finds the container as it should
			// be and changes nothing.
			other, _ := newInjector(t, faults.Env{Services: startOrder(), Containers: cs})
			require.NoError(t, other.Remove(t.Context(), a))
			assert.Equal(t, append(append(tt.applyCalls, tt.removeCalls...), tt.undoneCalls...), cs.log(), "undone already")
			assert.True(t, cs.healthy())
		})
	}
}

// TestContainerRollbackAfterCrash applies a container fault of every
// action, "crashes" (drops the Injector and the ledger without removing
// anything), and rolls back from a new ledger on the same file.
func TestContainerRollbackAfterCrash(t *testing.T) {
	cs := newFakeContainers()
	env := faults.Env{Services: startOrder(), Containers: cs}
	path := faults.LedgerPath(t.TempDir())
	l1, err := faults.OpenLedger(path)
	require.NoError(t, err)
	in1 := faults.NewInjector(env, l1)
	specs := []faults.Spec{
		contFault(svcLedger, faults.ContainerDisconnect),
		contFault(svcStore, faults.ContainerKill),
		contFault(svcCache, faults.ContainerPause),
		contFault(svcAPI, faults.ContainerStop),
	}
	var applied []faults.Applied
	for _, s := range specs {
		a, err := in1.Apply(t.Context(), "run-crashed", "sc", "fault", s)
		require.NoError(t, err)
		applied = append(applied, a)
	}
	require.NoError(t, l1.Close())
	require.False(t, cs.healthy())

	l2, err := faults.OpenLedger(path)
	require.NoError(t, err)
	t.Cleanup(func() { l2.Close() })
	pending, err := l2.Pending()
	require.NoError(t, err)
	require.Equal(t, applied, normalize(pending))

	in2 := faults.NewInjector(env, l2)
	done, err := in2.RollbackPending(t.Context())
	require.NoError(t, err)
	require.Len(t, done.Faults, len(applied))
	assert.Empty(t, done.Knobs)
	for i, a := range done.Faults {
		assert.Equal(t, applied[len(applied)-1-i].ID, a.ID, "newest first")
	}
	assert.True(t, cs.healthy(), "every container runs, connected")
	assert.Equal(t, []string{
		"disconnect ledger", "kill store", "pause cache", "stop api",
		"start api", "unpause cache", "start store", "connect ledger",
	}, cs.log(), "rolled back newest first; the sweep finds nothing left to do")
	assert.Empty(t, pendingIDs(t, l2))

	again, err := in2.RollbackPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, faults.Rollback{}, again, "nothing left to roll back")
	assert.Len(t, cs.log(), 8, "and nothing done")
}

// TestContainerRollbackIntentOnly: a runner that crashed after recording a
// container fault's intent but before acting on it leaves faults that were
// never applied; rolling them back touches no container.
func TestContainerRollbackIntentOnly(t *testing.T) {
	cs := newFakeContainers()
	path := faults.LedgerPath(t.TempDir())
	var lines []string
	for i, action := range faults.ContainerActions() {
		id := fmt.Sprintf("f-1-%d", i)
		a := faults.Applied{ID: id, RunID: "run-crashed", Scenario: "sc", Phase: "fault",
			Spec: contFault(svcLedger, action), Handle: map[string]string{}}
		b, err := json.Marshal(faults.Record{Event: faults.EventIntent, At: time.Now(), ID: id, Fault: &a})
		require.NoError(t, err)
		lines = append(lines, string(b))
	}
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	l, err := faults.OpenLedger(path)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })

	done, err := faults.NewInjector(faults.Env{Services: startOrder(), Containers: cs}, l).RollbackPending(t.Context())
	require.NoError(t, err)
	assert.Len(t, done.Faults, len(faults.ContainerActions()))
	assert.Empty(t, pendingIDs(t, l))
	assert.Equal(t, []string{"connect ledger"}, cs.log(),
		"the containers were never touched: nothing to undo (connecting a connected container does nothing)")
	assert.True(t, cs.healthy())
}

// TestContainerSweep: containers left disconnected, paused or stopped that
// the ledger does not know of are brought back, and a running one is left
// alone.
func TestContainerSweep(t *testing.T) {
	cs := newFakeContainers()
	cs.set(svcStore, "paused", true)
	cs.set(svcCache, "exited", false)
	cs.set(svcLedger, "running", false)
	in, _ := newInjector(t, faults.Env{Services: startOrder(), Containers: cs})
	done, err := in.RollbackPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, faults.Rollback{}, done, "the ledger was empty")
	assert.True(t, cs.healthy())
	assert.Equal(t, []string{"connect cache", "start cache", "connect ledger", "unpause store"}, cs.log(),
		"in the Env's order, dependencies first")

	t.Run("a container that cannot be inspected is an error", func(t *testing.T) {
		cs := newFakeContainers()
		cs.fail["state"] = errors.New("docker: not running")
		in, _ := newInjector(t, faults.Env{Services: startOrder(), Containers: cs})
		_, err := in.RollbackPending(t.Context())
		require.ErrorContains(t, err, "inspecting the container of ledger: docker: not running")
	})
	t.Run("no sweep without Containers", func(t *testing.T) {
		in, _ := newInjector(t, faults.Env{})
		_, err := in.RollbackPending(t.Context())
		require.NoError(t, err)
	})
}

func TestContainerApplyFailure(t *testing.T) {
	t.Run("without Containers: a clear error, nothing recorded", func(t *testing.T) {
		lab, env := newTestLab(t, true) // the local stack: processes, no containers
		in, ledger := newInjector(t, env)
		_, err := in.Apply(t.Context(), "r", "sc", "fault", contFault(svcLedger, faults.ContainerDisconnect))
		require.ErrorIs(t, err, faults.ErrNoContainers)
		assert.EqualError(t, err, "applying container ledger disconnect: container faults need the compose stack (-stack compose)")
		recs, err := ledger.Records()
		require.NoError(t, err)
		assert.Empty(t, recs, "a fault this lab cannot remove is never recorded")
		assert.Empty(t, lab.procs.log())
	})
	t.Run("the action fails: undone and not pending", func(t *testing.T) {
		cs := newFakeContainers()
		cs.fail["kill"] = errors.New("permission denied")
		in, ledger := newInjector(t, faults.Env{Services: startOrder(), Containers: cs})
		_, err := in.Apply(t.Context(), "r", "sc", "fault", contFault(svcStore, faults.ContainerKill))
		require.ErrorContains(t, err, "permission denied")
		assert.Empty(t, pendingIDs(t, ledger))
		assert.Equal(t, []string{"kill store"}, cs.log(), "the container still runs: nothing to start")
	})
	t.Run("the undo fails too: stays pending", func(t *testing.T) {
		cs := newFakeContainers()
		cs.fail["disconnect"] = errors.New("daemon timeout")
		cs.fail["connect"] = errors.New("daemon timeout")
		in, ledger := newInjector(t, faults.Env{Services: startOrder(), Containers: cs})
		_, err := in.Apply(t.Context(), "r", "sc", "fault", contFault(svcLedger, faults.ContainerDisconnect))
		require.ErrorContains(t, err, "chaoslab clean")
		assert.Len(t, pendingIDs(t, ledger), 1)
	})
	t.Run("the container cannot be inspected: stays pending", func(t *testing.T) {
		cs := newFakeContainers()
		cs.fail["pause"] = errors.New("daemon timeout")
		cs.fail["state"] = errors.New("daemon timeout")
		in, ledger := newInjector(t, faults.Env{Services: startOrder(), Containers: cs})
		_, err := in.Apply(t.Context(), "r", "sc", "fault", contFault(svcCache, faults.ContainerPause))
		require.ErrorContains(t, err, "inspecting the container of cache: daemon timeout")
		assert.Len(t, pendingIDs(t, ledger), 1)
	})
	t.Run("the container of a paused service is not started", func(t *testing.T) {
		cs := newFakeContainers()
		in, ledger := newInjector(t, faults.Env{Services: startOrder(), Containers: cs})
		a, err := in.Apply(t.Context(), "r", "sc", "fault", contFault(svcStore, faults.ContainerStop))
		require.NoError(t, err)
		cs.set(svcStore, "paused", true) // paused by someone else meanwhile
		require.NoError(t, in.Remove(t.Context(), a))
		assert.Equal(t, []string{"stop store"}, cs.log())
		assert.Empty(t, pendingIDs(t, ledger))
	})
}
