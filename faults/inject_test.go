package faults_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/harness/toxiproxy"
	"github.com/chaoslab/chaoslab/services/faultinject"
)

func netFault(edge, toxic string, attrs map[string]int64) faults.Spec {
	return faults.Spec{Network: &faults.NetworkFault{Edge: edge, Toxic: toxic, Stream: faults.Downstream, Toxicity: 1, Attributes: attrs}}
}

func procFault(service, action string, restartAfter time.Duration) faults.Spec {
	return faults.Spec{Process: &faults.ProcessFault{Service: service, Action: action, RestartAfter: restartAfter}}
}

func reqFault(service, method string) faults.Spec {
	return faults.Spec{Request: &faults.RequestFault{Service: service, Method: method, GRPCCode: "UNAVAILABLE", Probability: 0.1}}
}

// newInjector returns an Injector on env with a ledger in a temp dir.
func newInjector(t *testing.T, env faults.Env) (*faults.Injector, *faults.Ledger) {
	t.Helper()
	l, err := faults.OpenLedger(faults.LedgerPath(t.TempDir()))
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return faults.NewInjector(env, l), l
}

func pendingIDs(t *testing.T, l *faults.Ledger) []string {
	t.Helper()
	p, err := l.Pending()
	require.NoError(t, err)
	ids := make([]string, 0, len(p))
	for _, a := range p {
		ids = append(ids, a.ID)
	}
	return ids
}

func TestApplyRemove(t *testing.T) {
	tests := []struct {
		name string
		spec faults.Spec
		// applied checks the lab with the fault in place, removed after
		// it is removed (and removed again).
		applied, removed func(t *testing.T, lab *testLab, a faults.Applied)
	}{
		{
			name: "latency with jitter",
			spec: netFault("store->ledger", faults.ToxicLatency, map[string]int64{"latency": 150, "jitter": 10}),
			applied: func(t *testing.T, lab *testLab, a faults.Applied) {
				p := lab.proxy(t, "store->ledger")
				require.Len(t, p.Toxics, 1)
				x := p.Toxics[0]
				assert.Equal(t, "chaoslab-"+a.ID, x.Name)
				assert.Equal(t, "latency", x.Type)
				assert.Equal(t, "downstream", x.Stream)
				assert.InDelta(t, 1, x.Toxicity, 1e-6)
				assert.EqualValues(t, 150, x.Attributes["latency"])
				assert.EqualValues(t, 10, x.Attributes["jitter"])
				rtt, err := lab.roundTrip(t.Context(), t, "store->ledger")
				require.NoError(t, err)
				assert.GreaterOrEqual(t, rtt, 140*time.Millisecond, "the toxic delays the traffic")
			},
			removed: func(t *testing.T, lab *testLab, _ faults.Applied) {
				assert.Empty(t, lab.toxics(t))
				rtt, err := lab.roundTrip(t.Context(), t, "store->ledger")
				require.NoError(t, err)
				assert.Less(t, rtt, 140*time.Millisecond)
			},
		},
		{
			name: "slicer upstream on half the connections",
			spec: faults.Spec{Network: &faults.NetworkFault{Edge: "api->cache", Toxic: faults.ToxicSlicer,
				Stream: faults.Upstream, Toxicity: 0.5, Attributes: map[string]int64{"average_size": 64, "size_variation": 8}}},
			applied: func(t *testing.T, lab *testLab, a faults.Applied) {
				p := lab.proxy(t, "api->cache")
				require.Len(t, p.Toxics, 1)
				assert.Equal(t, "upstream", p.Toxics[0].Stream)
				assert.InDelta(t, 0.5, p.Toxics[0].Toxicity, 1e-6)
				assert.EqualValues(t, 64, p.Toxics[0].Attributes["average_size"])
				assert.Equal(t, map[string]string{"proxy": "api_to_cache", "toxic": "chaoslab-" + a.ID}, a.Handle)
			},
			removed: func(t *testing.T, lab *testLab, _ faults.Applied) { assert.Empty(t, lab.toxics(t)) },
		},
		{
			name: "proxy down",
			spec: netFault("store->cache", faults.ToxicDown, nil),
			applied: func(t *testing.T, lab *testLab, _ faults.Applied) {
				assert.Equal(t, []string{"store_to_cache"}, lab.disabled(t))
				_, err := lab.roundTrip(t.Context(), t, "store->cache")
				assert.Error(t, err, "a disabled proxy refuses connections")
			},
			removed: func(t *testing.T, lab *testLab, _ faults.Applied) {
				assert.Empty(t, lab.disabled(t))
				_, err := lab.roundTrip(t.Context(), t, "store->cache")
				assert.NoError(t, err)
			},
		},
		{
			name: "request fault",
			spec: reqFault(svcLedger, "/ledger.v1.LedgerService/Debit"),
			applied: func(t *testing.T, lab *testLab, a faults.Applied) {
				got := lab.services[svcLedger].List()
				require.Len(t, got, 1)
				assert.Equal(t, "chaoslab-"+a.ID, got[0].ID)
				assert.Equal(t, "/ledger.v1.LedgerService/Debit", got[0].Method)
				assert.Equal(t, "UNAVAILABLE", got[0].GRPCCode)
				assert.InDelta(t, 0.1, got[0].Probability, 1e-9)
			},
			removed: func(t *testing.T, lab *testLab, _ faults.Applied) { assert.Empty(t, lab.requestFaults()) },
		},
		{
			name: "pause",
			spec: procFault(svcLedger, faults.ActionPause, 0),
			applied: func(t *testing.T, lab *testLab, _ faults.Applied) {
				assert.Equal(t, []string{"signal ledger stopped (signal)"}, lab.procs.log())
				_, paused := lab.procs.state(svcLedger)
				assert.True(t, paused)
			},
			removed: func(t *testing.T, lab *testLab, _ faults.Applied) {
				assert.Equal(t, []string{"signal ledger stopped (signal)", "signal ledger continued"}, lab.procs.log())
				_, paused := lab.procs.state(svcLedger)
				assert.False(t, paused)
			},
		},
		{
			name: "kill, restarted at the end of the phase",
			spec: procFault(svcStore, faults.ActionKill, 0),
			applied: func(t *testing.T, lab *testLab, _ faults.Applied) {
				assert.Equal(t, []string{"signal store killed"}, lab.procs.log())
				running, _ := lab.procs.state(svcStore)
				assert.False(t, running)
			},
			removed: func(t *testing.T, lab *testLab, _ faults.Applied) {
				assert.Equal(t, []string{"signal store killed", "restart store"}, lab.procs.log())
				running, _ := lab.procs.state(svcStore)
				assert.True(t, running)
			},
		},
		{
			name: "restart",
			spec: procFault(svcCache, faults.ActionRestart, 0),
			applied: func(t *testing.T, lab *testLab, _ faults.Applied) {
				assert.Equal(t, []string{"restart cache"}, lab.procs.log())
			},
			removed: func(t *testing.T, lab *testLab, _ faults.Applied) {
				assert.Equal(t, []string{"restart cache"}, lab.procs.log(), "removing a restart does nothing")
			},
		},
	}
	for _, tt := range tests {
		for _, withStatus := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/status=%t", tt.name, withStatus), func(t *testing.T) {
				lab, env := newTestLab(t, withStatus)
				in, ledger := newInjector(t, env)
				before := time.Now()
				a, err := in.Apply(t.Context(), "run-1", "sc", "fault", tt.spec)
				require.NoError(t, err)
				assert.True(t, strings.HasPrefix(a.ID, "f-"), a.ID)
				assert.Equal(t, "run-1", a.RunID)
				assert.Equal(t, "sc", a.Scenario)
				assert.Equal(t, "fault", a.Phase)
				assert.Equal(t, tt.spec, a.Spec)
				assert.False(t, a.AppliedAt.Before(before.Truncate(time.Microsecond)), "AppliedAt %s", a.AppliedAt)
				assert.Equal(t, []string{a.ID}, pendingIDs(t, ledger))
				tt.applied(t, lab, a)

				require.NoError(t, in.Remove(t.Context(), a))
				assert.Empty(t, pendingIDs(t, ledger))
				tt.removed(t, lab, a)

				require.NoError(t, in.Remove(t.Context(), a), "removing again")
				tt.removed(t, lab, a)
				recs, err := ledger.Records()
				require.NoError(t, err)
				events := make([]string, 0, len(recs))
				for _, r := range recs {
					events = append(events, r.Event)
				}
				assert.Equal(t, []string{"intent", "applied", "removed"}, events)
			})
		}
	}
}

// TestEveryToxic applies every toxic to the real Toxiproxy: the fault
// model's toxic and attribute names are Toxiproxy's.
func TestEveryToxic(t *testing.T) {
	attrs := map[string]map[string]int64{
		faults.ToxicLatency:   {"latency": 100, "jitter": 5},
		faults.ToxicBandwidth: {"rate": 10},
		faults.ToxicSlowClose: {"delay": 100},
		faults.ToxicTimeout:   {"timeout": 0},
		faults.ToxicResetPeer: {"timeout": 10},
		faults.ToxicSlicer:    {"average_size": 64, "size_variation": 8, "delay": 10},
		faults.ToxicLimitData: {"bytes": 1024},
	}
	lab, env := newTestLab(t, false)
	in, ledger := newInjector(t, env)
	for _, toxic := range faults.Toxics() {
		if toxic == faults.ToxicDown {
			continue
		}
		t.Run(toxic, func(t *testing.T) {
			require.Contains(t, attrs, toxic, "the test misses the new toxic %s", toxic)
			for _, stream := range faults.Streams() {
				s := faults.Spec{Network: &faults.NetworkFault{Edge: "api->store", Toxic: toxic, Stream: stream, Toxicity: 1, Attributes: attrs[toxic]}}
				a, err := in.Apply(t.Context(), "run", "sc", "p", s)
				require.NoError(t, err)
				p := lab.proxy(t, "api->store")
				require.Len(t, p.Toxics, 1)
				assert.Equal(t, toxic, p.Toxics[0].Type)
				assert.Equal(t, stream, p.Toxics[0].Stream)
				for k, v := range attrs[toxic] {
					assert.EqualValues(t, v, p.Toxics[0].Attributes[k], "attribute %s", k)
				}
				require.NoError(t, in.Remove(t.Context(), a))
				assert.Empty(t, lab.toxics(t))
			}
		})
	}
	assert.Empty(t, pendingIDs(t, ledger))
}

// TestRollbackAfterCrash applies faults, "crashes" (drops the Injector and
// the ledger without removing anything), and rolls back from a new ledger
// on the same file.
func TestRollbackAfterCrash(t *testing.T) {
	lab, env := newTestLab(t, true)
	path := faults.LedgerPath(t.TempDir())
	l1, err := faults.OpenLedger(path)
	require.NoError(t, err)
	in1 := faults.NewInjector(env, l1)
	specs := []faults.Spec{
		netFault("store->ledger", faults.ToxicLatency, map[string]int64{"latency": 200}),
		netFault("api->cache", faults.ToxicDown, nil),
		reqFault(svcLedger, "*"),
		procFault(svcCache, faults.ActionPause, 0),
		procFault(svcStore, faults.ActionKill, time.Hour),
	}
	var applied []faults.Applied
	for _, s := range specs {
		a, err := in1.Apply(t.Context(), "run-crashed", "sc", "fault", s)
		require.NoError(t, err)
		applied = append(applied, a)
	}
	require.NoError(t, l1.Close())
	require.Len(t, lab.toxics(t), 1)
	require.Len(t, lab.disabled(t), 1)
	require.Len(t, lab.requestFaults(), 1)

	l2, err := faults.OpenLedger(path)
	require.NoError(t, err)
	t.Cleanup(func() { l2.Close() })
	pending, err := l2.Pending()
	require.NoError(t, err)
	require.Equal(t, applied, normalize(pending), "the ledger holds every applied fault, as applied")

	in2 := faults.NewInjector(env, l2)
	done, err := in2.RollbackPending(t.Context())
	require.NoError(t, err)
	require.Len(t, done.Faults, len(applied))
	assert.Empty(t, done.Knobs)
	for i, a := range done.Faults {
		assert.Equal(t, applied[len(applied)-1-i].ID, a.ID, "newest first")
	}
	assert.Empty(t, lab.toxics(t))
	assert.Empty(t, lab.disabled(t))
	assert.Empty(t, lab.requestFaults())
	running, _ := lab.procs.state(svcStore)
	assert.True(t, running, "the killed service runs again")
	_, paused := lab.procs.state(svcCache)
	assert.False(t, paused, "the paused service runs again")
	assert.Len(t, lab.procs.restarts(svcStore), 1)
	assert.Empty(t, pendingIDs(t, l2))

	again, err := in2.RollbackPending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, faults.Rollback{}, again, "nothing left to roll back")
}

// normalize re-reads the times of the faults the way a fresh process sees
// them (monotonic clock readings stripped).
func normalize(as []faults.Applied) []faults.Applied {
	for i := range as {
		as[i].AppliedAt = as[i].AppliedAt.Round(0)
	}
	return as
}

// TestRollbackIntentOnly: a runner that crashed after recording a fault's
// intent but before acting on it leaves faults that were never applied;
// rolling them back is harmless.
func TestRollbackIntentOnly(t *testing.T) {
	specs := []faults.Spec{
		netFault("store->ledger", faults.ToxicTimeout, map[string]int64{"timeout": 0}),
		netFault("client->api", faults.ToxicDown, nil),
		reqFault(svcStore, "/store.v1.StoreService/Put"),
		procFault(svcLedger, faults.ActionPause, 0),
		procFault(svcStore, faults.ActionKill, 0),
		procFault(svcCache, faults.ActionRestart, 0),
	}
	lab, env := newTestLab(t, true)
	path := faults.LedgerPath(t.TempDir())
	var lines []string
	for i, s := range specs {
		id := fmt.Sprintf("f-1-%d", i)
		a := faults.Applied{ID: id, RunID: "run-crashed", Scenario: "sc", Phase: "fault", Spec: s,
			Handle: map[string]string{}}
		b, err := json.Marshal(faults.Record{Event: faults.EventIntent, At: time.Now(), ID: id, Fault: &a})
		require.NoError(t, err)
		lines = append(lines, string(b))
	}
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))

	in, ledger := func() (*faults.Injector, *faults.Ledger) {
		l, err := faults.OpenLedger(path)
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		return faults.NewInjector(env, l), l
	}()
	done, err := in.RollbackPending(t.Context())
	require.NoError(t, err)
	assert.Len(t, done.Faults, len(specs))
	assert.Empty(t, pendingIDs(t, ledger))
	assert.Equal(t, []string{"signal ledger continued"}, lab.procs.log(),
		"services that run are not restarted; a SIGCONT to a running process is harmless")
	assert.Empty(t, lab.toxics(t))
	assert.Empty(t, lab.disabled(t))
}

// TestRollbackSweeps: faults named chaoslab-* that the ledger does not know
// of are removed too, and nothing else is.
func TestRollbackSweeps(t *testing.T) {
	lab, env := newTestLab(t, true)
	ctx := t.Context()
	require.NoError(t, lab.tp.AddToxic(ctx, "store_to_ledger", toxiproxy.Toxic{Name: "chaoslab-stray", Type: "latency", Stream: "downstream", Toxicity: 1, Attributes: map[string]any{"latency": 10}}))
	require.NoError(t, lab.tp.AddToxic(ctx, "store_to_ledger", toxiproxy.Toxic{Name: "someone-else", Type: "latency", Stream: "upstream", Toxicity: 1, Attributes: map[string]any{"latency": 10}}))
	require.NoError(t, lab.tp.SetEnabled(ctx, "api_to_store", false))
	admin := faultinject.NewClient(lab.admin[svcAPI], nil)
	_, err := admin.Set(ctx, faultinject.Fault{ID: "chaoslab-f-1-1", Method: "*", HTTPStatus: 503})
	require.NoError(t, err)
	_, err = admin.Set(ctx, faultinject.Fault{ID: "manual", Method: "*", HTTPStatus: 500})
	require.NoError(t, err)

	in, _ := newInjector(t, env)
	done, err := in.RollbackPending(ctx)
	require.NoError(t, err)
	assert.Equal(t, faults.Rollback{}, done, "the ledger was empty")
	assert.Equal(t, []string{"store_to_ledger/someone-else"}, lab.toxics(t))
	assert.Empty(t, lab.disabled(t))
	assert.Equal(t, []string{"api/manual"}, lab.requestFaults())
}

func TestKillRestartAfter(t *testing.T) {
	t.Run("restarted after the delay", func(t *testing.T) {
		lab, env := newTestLab(t, false)
		in, _ := newInjector(t, env)
		const delay = 150 * time.Millisecond
		a, err := in.Apply(t.Context(), "r", "sc", "fault", procFault(svcStore, faults.ActionKill, delay))
		require.NoError(t, err)
		killedAt := time.Now()
		running, _ := lab.procs.state(svcStore)
		assert.False(t, running)
		waitFor(t, "the restart", func() bool { return len(lab.procs.restarts(svcStore)) == 1 })
		restarts := lab.procs.restarts(svcStore)
		assert.GreaterOrEqual(t, restarts[0].Sub(killedAt), delay-10*time.Millisecond, "not before restart_after")
		require.NoError(t, in.Remove(t.Context(), a))
		assert.Len(t, lab.procs.restarts(svcStore), 1, "Remove does not restart again")
	})
	t.Run("Remove restarts at once when the delay has not passed", func(t *testing.T) {
		lab, env := newTestLab(t, false)
		in, _ := newInjector(t, env)
		a, err := in.Apply(t.Context(), "r", "sc", "fault", procFault(svcStore, faults.ActionKill, time.Hour))
		require.NoError(t, err)
		start := time.Now()
		require.NoError(t, in.Remove(t.Context(), a))
		assert.Less(t, time.Since(start), 5*time.Second)
		assert.Len(t, lab.procs.restarts(svcStore), 1)
		running, _ := lab.procs.state(svcStore)
		assert.True(t, running)
	})
	t.Run("Remove waits for a restart under way", func(t *testing.T) {
		lab, env := newTestLab(t, false)
		gate, started := make(chan struct{}), make(chan struct{}, 1)
		lab.procs.gate, lab.procs.started = gate, started
		in, _ := newInjector(t, env)
		a, err := in.Apply(t.Context(), "r", "sc", "fault", procFault(svcStore, faults.ActionKill, 10*time.Millisecond))
		require.NoError(t, err)
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("the delayed restart did not start")
		}
		removed := make(chan error, 1)
		go func() { removed <- in.Remove(context.WithoutCancel(t.Context()), a) }()
		select {
		case err := <-removed:
			t.Fatalf("Remove returned (%v) while the restart was under way", err)
		case <-time.After(50 * time.Millisecond):
		}
		close(gate)
		select {
		case err := <-removed:
			require.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Fatal("Remove did not return after the restart")
		}
		assert.Len(t, lab.procs.restarts(svcStore), 1, "one restart: the delayed one")
		running, _ := lab.procs.state(svcStore)
		assert.True(t, running)
	})
	t.Run("a cancelled run leaves the restart to Remove", func(t *testing.T) {
		lab, env := newTestLab(t, false)
		in, _ := newInjector(t, env)
		ctx, cancel := context.WithCancel(t.Context())
		a, err := in.Apply(ctx, "r", "sc", "fault", procFault(svcStore, faults.ActionKill, time.Hour))
		require.NoError(t, err)
		cancel()
		require.NoError(t, in.Remove(t.Context(), a))
		assert.Len(t, lab.procs.restarts(svcStore), 1)
	})
}

func TestApplyFailure(t *testing.T) {
	t.Run("undone and not pending", func(t *testing.T) {
		lab, env := newTestLab(t, true)
		lab.procs.signalErr = errors.New("operation not permitted")
		in, ledger := newInjector(t, env)
		_, err := in.Apply(t.Context(), "r", "sc", "fault", procFault(svcLedger, faults.ActionKill, 0))
		require.ErrorContains(t, err, "operation not permitted")
		assert.Empty(t, pendingIDs(t, ledger))
		assert.Empty(t, lab.procs.restarts(svcLedger), "the service still runs: no restart")
	})
	t.Run("missing proxy", func(t *testing.T) {
		lab, env := newTestLab(t, false)
		require.NoError(t, lab.srv.Collection.Remove("store_to_ledger"))
		in, ledger := newInjector(t, env)
		_, err := in.Apply(t.Context(), "r", "sc", "fault", netFault("store->ledger", faults.ToxicLatency, map[string]int64{"latency": 1}))
		require.Error(t, err)
		assert.Empty(t, pendingIDs(t, ledger), "removing a toxic from a missing proxy is harmless")
	})
	t.Run("Toxiproxy unreachable: stays pending", func(t *testing.T) {
		lab, env := newTestLab(t, false)
		env.Toxiproxy = stack.FaultProxies(toxiproxy.New(lab.tp.URL() + "/nowhere"))
		in, ledger := newInjector(t, env)
		_, err := in.Apply(t.Context(), "r", "sc", "fault", netFault("store->ledger", faults.ToxicLatency, map[string]int64{"latency": 1}))
		require.ErrorContains(t, err, "chaoslab clean")
		assert.Len(t, pendingIDs(t, ledger), 1)
	})
	t.Run("undo fails: stays pending", func(t *testing.T) {
		_, env := newTestLab(t, false)
		env.AdminURL = func(string) (string, error) { return "http://127.0.0.1:1", nil }
		in, ledger := newInjector(t, env)
		_, err := in.Apply(t.Context(), "r", "sc", "fault", reqFault(svcLedger, "*"))
		require.ErrorContains(t, err, "chaoslab clean")
		assert.Len(t, pendingIDs(t, ledger), 1)
	})
	for _, tt := range []struct {
		name string
		spec faults.Spec
		want string
	}{
		{"invalid spec", netFault("a->b", faults.ToxicLatency, nil), "network.attributes: latency needs attribute latency (ms)"},
		{"unknown service", procFault("catalog", faults.ActionPause, 0), `unknown service "catalog" (one of cache, ledger, store, api)`},
		{"a service without an admin API", reqFault(svcCache, "*"), "finding the admin API of cache: no admin API in this lab"},
	} {
		t.Run(tt.name+": nothing recorded", func(t *testing.T) {
			_, env := newTestLab(t, false)
			in, ledger := newInjector(t, env)
			_, err := in.Apply(t.Context(), "r", "sc", "fault", tt.spec)
			require.ErrorContains(t, err, tt.want)
			recs, err := ledger.Records()
			require.NoError(t, err)
			assert.Empty(t, recs)
		})
	}
	t.Run("an Env without services", func(t *testing.T) {
		_, env := newTestLab(t, false)
		env.Services = nil
		in, _ := newInjector(t, env)
		_, err := in.Apply(t.Context(), "r", "sc", "fault", procFault(svcStore, faults.ActionPause, 0))
		require.ErrorContains(t, err, `unknown service "store": the lab names no services (faults.Env.Services)`)
	})
}

func TestPauseOfDeadService(t *testing.T) {
	lab, env := newTestLab(t, true)
	in, ledger := newInjector(t, env)
	a, err := in.Apply(t.Context(), "r", "sc", "fault", procFault(svcLedger, faults.ActionPause, 0))
	require.NoError(t, err)
	lab.procs.mu.Lock()
	lab.procs.running[svcLedger] = false // died while paused
	lab.procs.mu.Unlock()
	require.NoError(t, in.Remove(t.Context(), a), "nothing to resume")
	assert.Empty(t, pendingIDs(t, ledger))
}

func TestLedger(t *testing.T) {
	t.Run("torn last line", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ledger.jsonl")
		a := faults.Applied{ID: "f-1-1", Spec: netFault("store->ledger", faults.ToxicDown, nil)}
		b, err := json.Marshal(faults.Record{Event: faults.EventIntent, ID: a.ID, Fault: &a})
		require.NoError(t, err)
		torn := `{"event":"intent","id":"f-1-2","fault":{"id":"f-1-2","spec":{"netw`
		require.NoError(t, os.WriteFile(path, []byte(string(b)+"\n"+torn), 0o644))

		l, err := faults.OpenLedger(path)
		require.NoError(t, err)
		defer l.Close()
		assert.Equal(t, []string{"f-1-1"}, pendingIDs(t, l), "the torn record is skipped")

		_, env := newTestLab(t, false)
		in := faults.NewInjector(env, l)
		c, err := in.Apply(t.Context(), "r", "sc", "p", netFault("store->ledger", faults.ToxicLatency, map[string]int64{"latency": 1}))
		require.NoError(t, err)
		assert.Equal(t, []string{"f-1-1", c.ID}, pendingIDs(t, l), "the next record starts on a line of its own")
	})
	t.Run("two writers", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ledger.jsonl")
		l1, err := faults.OpenLedger(path)
		require.NoError(t, err)
		defer l1.Close()
		l2, err := faults.OpenLedger(path)
		require.NoError(t, err)
		defer l2.Close()
		_, env := newTestLab(t, false)
		a, err := faults.NewInjector(env, l1).Apply(t.Context(), "r", "sc", "p", netFault("store->ledger", faults.ToxicDown, nil))
		require.NoError(t, err)
		assert.Equal(t, []string{a.ID}, pendingIDs(t, l2))
		require.NoError(t, faults.NewInjector(env, l2).Remove(t.Context(), a))
		assert.Empty(t, pendingIDs(t, l1))
	})
	t.Run("ids are unique", func(t *testing.T) {
		_, env := newTestLab(t, false)
		in, _ := newInjector(t, env)
		seen := map[string]bool{}
		for range 20 {
			a, err := in.Apply(t.Context(), "r", "sc", "p", netFault("store->ledger", faults.ToxicLatency, map[string]int64{"latency": 1}))
			require.NoError(t, err)
			assert.False(t, seen[a.ID], a.ID)
			seen[a.ID] = true
			assert.NoError(t, faultinject.Fault{ID: "chaoslab-" + a.ID, Method: "*", Abort: true}.Validate(), "a valid in-service fault id")
		}
	})
}

func TestSummary(t *testing.T) {
	tests := []struct {
		spec faults.Spec
		want string
	}{
		{netFault("store->ledger", faults.ToxicLatency, map[string]int64{"latency": 1}), "network latency on store->ledger"},
		{procFault(svcStore, faults.ActionKill, 0), "process kill on store"},
		{reqFault(svcLedger, "*"), "request fault * on ledger"},
		{faults.Spec{Container: &faults.ContainerFault{Service: svcLedger, Action: faults.ContainerDisconnect}}, "container disconnect on ledger"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, faults.Applied{Spec: tt.spec}.Summary())
		})
	}
}
