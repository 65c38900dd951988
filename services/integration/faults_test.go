//go:build integration

package integration

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/chaoslab/chaoslab/harness/toxiproxy"
	"github.com/chaoslab/chaoslab/services/internal/grpcclient"
	"github.com/chaoslab/chaoslab/services/internal/resilience"
)

// deadlineSlack is how much later than its deadline a call may end: the
// timer, the scheduler and the return through the interceptors.
const deadlineSlack = 100 * time.Millisecond

// fastFail is how long a call the open breaker refuses may take: it never
// reaches the network, so it ends in well under a millisecond; the bound
// leaves room for a descheduled goroutine on a busy 2-core CI machine and
// stays far below the 300 ms a call that reached the network would wait.
const fastFail = 50 * time.Millisecond

// callerConfig is the shop's resilience configuration (every mechanism on,
// the default retry policy and budget) with a shorter call timeout and
// breaker open period, so that the cases stay fast.
func callerConfig() resilience.Config {
	rc := resilience.DefaultConfig()
	rc.CallTimeout = 300 * time.Millisecond
	rc.BreakerOpenFor = 500 * time.Millisecond
	return rc
}

// TestServicesUnderNetworkFaults runs each gRPC service in a container
// behind Toxiproxy and calls it from the test process, through the proxy,
// with the shop's client stack (grpcclient), while the proxy injects a
// fault. Every case measures what the caller sees: how long failing calls
// take, how many retries the stack made, when the breaker opened and
// closed, and that the idempotent call took effect exactly once.
func TestServicesUnderNetworkFaults(t *testing.T) {
	l := startLab(t)
	faults := []struct {
		name string
		run  func(*testing.T, *faultCase)
	}{
		{"latency above the deadline", latencyAboveDeadline},
		{"connection resets", connectionResets},
		{"proxy down", proxyDown},
	}
	for _, tgt := range targets() {
		t.Run(tgt.name, func(t *testing.T) {
			observer, err := grpc.NewClient(l.endpoints[tgt.name].direct, grpc.WithTransportCredentials(insecure.NewCredentials()))
			require.NoError(t, err)
			t.Cleanup(func() { observer.Close() })
			for _, f := range faults {
				t.Run(f.name, func(t *testing.T) {
					f.run(t, newFaultCase(t, l, tgt, observer))
				})
			}
		})
	}
}

// latencyAboveDeadline delays every answer well past the caller's
// deadline: each call fails with DEADLINE_EXCEEDED at its deadline (not
// later, and not retried), and once the latency goes the same call
// succeeds without having taken effect twice.
func latencyAboveDeadline(t *testing.T, fc *faultCase) {
	rc := callerConfig()
	c := fc.dial(t, rc)
	before := fc.effects(t)
	fc.addToxic(t, toxiproxy.Toxic{
		Name: "latency", Type: "latency", Stream: "downstream", Toxicity: 1,
		Attributes: map[string]any{"latency": 4 * rc.CallTimeout.Milliseconds()},
	})

	const calls = 3
	for i := range calls {
		took, err := c.write(t)
		require.Equal(t, codes.DeadlineExceeded, status.Code(err), "call %d: %v", i+1, err)
		assert.GreaterOrEqual(t, took, rc.CallTimeout, "call %d ended before its deadline", i+1)
		assert.LessOrEqual(t, took, rc.CallTimeout+deadlineSlack, "call %d ended too long after its deadline", i+1)
		t.Logf("call %d: %s after %s (deadline %s)", i+1, status.Code(err), took.Round(time.Millisecond), rc.CallTimeout)
	}
	assert.Equal(t, float64(calls), c.attempts(t), "DEADLINE_EXCEEDED is not retried: one attempt per call")
	assert.Zero(t, c.retries(t))
	assert.Equal(t, 0.0, c.breakerState(t), "%d failures do not open a breaker that opens after %d", calls, rc.BreakerFailures)

	fc.removeToxic(t, "latency")
	fc.requireRecovery(t, c, "the latency went")
	fc.requireOneEffect(t, before)
}

// connectionResets resets every connection as soon as data flows on it,
// either way: the stack retries, but no more than the retry budget allows
// (the policy alone would allow MaxAttempts-1 per call); once the resets
// stop, the same call succeeds and has taken effect once.
//
// Resetting both directions keeps every new connection from ever being
// ready (the server's first frame resets it too). grpc-go may still retry
// an attempt that never reached the server transparently: that takes no
// token of the budget and is not counted as a retry (package rpcmetrics).
func connectionResets(t *testing.T, fc *faultCase) {
	rc := callerConfig()
	rc.BreakerFailures = 1000 // keep the breaker out of the way: every call goes to the wire
	c := fc.dial(t, rc)
	before := fc.effects(t)
	for _, stream := range []string{"upstream", "downstream"} {
		fc.addToxic(t, toxiproxy.Toxic{
			Name: "reset_" + stream, Type: "reset_peer", Stream: stream, Toxicity: 1,
			Attributes: map[string]any{"timeout": 0},
		})
	}

	const calls = 10
	var total time.Duration
	for i := range calls {
		took, err := c.write(t)
		total += took
		fc.requireOutage(t, rc, i+1, took, err)
	}
	retries, budget := c.retries(t), budgetRetries(rc, calls)
	t.Logf("%d calls during resets in %s: %.0f retries (the retry budget allows %d in all; the policy alone, %d per call)",
		calls, total.Round(time.Millisecond), retries, budget, rc.MaxAttempts-1)
	require.Less(t, budget, calls*(rc.MaxAttempts-1), "the case must be one where the budget, not the policy, bounds the retries")
	assert.GreaterOrEqual(t, retries, 1.0, "the resets were retried")
	assert.LessOrEqual(t, retries, float64(budget), "the retry budget bounds the retries")
	assert.Equal(t, 0.0, c.breakerState(t))

	for _, stream := range []string{"upstream", "downstream"} {
		fc.removeToxic(t, "reset_"+stream)
	}
	fc.requireRecovery(t, c, "the resets stopped")
	fc.requireOneEffect(t, before)
}

// proxyDown cuts the connection to the service: calls fail (at once, or
// at their deadline when they wait for a connection), the breaker opens
// after BreakerFailures of them and then refuses calls without sending
// anything, even after the service is reachable again, for its open
// period; then one probe goes through, the breaker closes, and calls
// succeed again.
func proxyDown(t *testing.T, fc *faultCase) {
	rc := callerConfig()
	rc.BreakerFailures = 3
	c := fc.dial(t, rc)
	before := fc.effects(t)
	fc.setEnabled(t, false)

	var opened time.Time
	for i := range int(rc.BreakerFailures) {
		took, err := c.write(t)
		require.NotErrorIs(t, err, resilience.ErrBreakerOpen, "call %d", i+1)
		fc.requireOutage(t, rc, i+1, took, err)
		opened = time.Now()
	}
	require.Equal(t, 2.0, c.breakerState(t), "open after %d failures", rc.BreakerFailures)

	attempts := c.attempts(t)
	const refused = 3
	for i := range refused {
		took, err := c.write(t)
		require.ErrorIs(t, err, resilience.ErrBreakerOpen, "call %d while open", i+1)
		assert.Equal(t, codes.Unavailable, status.Code(err))
		assert.Less(t, took, fastFail, "an open breaker fails at once")
	}
	assert.Equal(t, attempts, c.attempts(t), "an open breaker sends nothing")
	assert.Equal(t, float64(refused), c.metric(t, "chaoslab_breaker_rejected_total", nil))

	// The service comes back while the breaker is still open. The probes
	// are reads: a write that waits for a connection (orders) could reach
	// the service with too little of its deadline left to succeed, and
	// then its key would stand for a FAILED order.
	fc.setEnabled(t, true)
	back := time.Now()
	var firstOK time.Time
	var failedProbes int
	for firstOK.IsZero() {
		start := time.Now()
		took, err := c.read(t)
		switch {
		case err == nil:
			firstOK = time.Now()
		case errors.Is(err, resilience.ErrBreakerOpen):
			assert.Less(t, took, fastFail, "an open breaker fails at once")
		default:
			failedProbes++
			t.Logf("probe %d failed after %s: %v", failedProbes, took.Round(time.Millisecond), err)
		}
		if start.Before(opened.Add(rc.BreakerOpenFor - 5*time.Millisecond)) {
			require.ErrorIs(t, err, resilience.ErrBreakerOpen,
				"the breaker refuses calls for its whole open period (%s), the service back or not", rc.BreakerOpenFor)
		}
		require.Less(t, time.Since(back), 10*time.Second, "no call succeeded within 10s of the service coming back: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
	held := firstOK.Sub(opened)
	t.Logf("breaker open for %s (open period %s); first success %s after the service came back, %d failed probes",
		held.Round(time.Millisecond), rc.BreakerOpenFor, firstOK.Sub(back).Round(time.Millisecond), failedProbes)
	assert.GreaterOrEqual(t, held, rc.BreakerOpenFor-5*time.Millisecond)
	assert.Less(t, firstOK.Sub(back), rc.BreakerOpenFor+3*time.Second, "recovery: open period + reconnect backoff")

	assert.Equal(t, 0.0, c.breakerState(t), "closed after a successful probe")
	transitions := func(from, to string) float64 {
		return c.metric(t, "chaoslab_breaker_transitions_total", map[string]string{"from": from, "to": to})
	}
	assert.Equal(t, float64(1+failedProbes), transitions("closed", "open")+transitions("half-open", "open"))
	assert.Equal(t, float64(1+failedProbes), transitions("open", "half-open"))
	assert.Equal(t, 1.0, transitions("half-open", "closed"))
	for i := range 3 {
		_, err := c.write(t)
		require.NoError(t, err, "call %d after recovery", i+1)
	}
	fc.requireOneEffect(t, before)
}

// budgetRetries is the most retries gRPC's retry policy and retry
// throttling allow for calls calls, from a full budget, while every attempt
// fails: each failed attempt takes a token (its last one too), and a call is
// retried while it has attempts left and more than half the tokens are left.
func budgetRetries(rc resilience.Config, calls int) int {
	tokens, n := rc.RetryBudgetTokens, 0
	for range calls {
		for attempt := 1; ; attempt++ {
			tokens = max(0, tokens-1)
			if tokens <= rc.RetryBudgetTokens/2 || attempt == rc.MaxAttempts {
				break
			}
			n++
		}
	}
	return n
}

// faultCase is one fault against one target: a clean proxy, a key of its
// own and an observer connection that goes past the proxy.
type faultCase struct {
	lab      *lab
	tgt      target
	observer *grpc.ClientConn
	key      string
}

// newFaultCase resets the proxies (no toxic, every proxy enabled) now and
// at the end of the case.
func newFaultCase(t *testing.T, l *lab, tgt target, observer *grpc.ClientConn) *faultCase {
	t.Helper()
	reset := func(ctx context.Context) {
		require.NoError(t, l.toxi.Reset(ctx))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	reset(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		reset(ctx)
	})
	key := "it-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return &faultCase{lab: l, tgt: tgt, observer: observer, key: key}
}

// dial connects the caller to the target's proxy as the shop does, with
// rc, its own metrics registry (so its own breaker and retry budget), and
// makes one read to be connected before the fault.
func (fc *faultCase) dial(t *testing.T, rc resilience.Config) *caller {
	t.Helper()
	reg := prometheus.NewRegistry()
	rc.WaitForReady = fc.tgt.waitForReady
	cc, err := grpcclient.Dial(grpcclient.Options{
		Target:     fc.lab.endpoints[fc.tgt.name].proxied,
		Name:       fc.tgt.name,
		Services:   []string{fc.tgt.service},
		Resilience: rc,
		Registerer: reg,
		Instrument: true,
	})
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	c := &caller{fc: fc, cc: cc, reg: reg}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.NoError(t, fc.tgt.read(ctx, cc), "a read through the proxy before the fault")
	return c
}

// effects counts, past the proxy, what the case's writes did.
func (fc *faultCase) effects(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	n, err := fc.tgt.effects(ctx, fc.observer, fc.key)
	require.NoError(t, err, "counting the effects of %s", fc.key)
	return n
}

// requireOneEffect checks that the writes, however many were tried,
// retried or timed out, took effect exactly once.
func (fc *faultCase) requireOneEffect(t *testing.T, before int) {
	t.Helper()
	require.Equal(t, before+1, fc.effects(t), "the idempotent call took effect exactly once")
}

// requireOutage checks call n, made while no connection to the service
// can be made: a caller that does not wait for a connection fails with
// UNAVAILABLE before its deadline; one that waits fails with
// DEADLINE_EXCEEDED at its deadline.
func (fc *faultCase) requireOutage(t *testing.T, rc resilience.Config, n int, took time.Duration, err error) {
	t.Helper()
	if fc.tgt.waitForReady {
		require.Equal(t, codes.DeadlineExceeded, status.Code(err), "call %d waits for a connection until its deadline: %v", n, err)
		assert.GreaterOrEqual(t, took, rc.CallTimeout, "call %d", n)
	} else {
		require.Equal(t, codes.Unavailable, status.Code(err), "call %d: %v", n, err)
		assert.Less(t, took, rc.CallTimeout, "call %d fails before its deadline", n)
	}
	assert.LessOrEqual(t, took, rc.CallTimeout+deadlineSlack, "call %d ended too long after its deadline", n)
}

// requireRecovery waits until the caller's reads succeed again (it is
// connected), then requires the case's write to succeed at once.
func (fc *faultCase) requireRecovery(t *testing.T, c *caller, after string) {
	t.Helper()
	start := time.Now()
	for {
		_, err := c.read(t)
		if err == nil {
			break
		}
		require.Less(t, time.Since(start), 5*time.Second, "reads still fail 5s after %s: %v", after, err)
		time.Sleep(20 * time.Millisecond)
	}
	connected := time.Since(start)
	took, err := c.write(t)
	require.NoError(t, err, "the call once %s", after)
	t.Logf("connected again %s after %s; the call then took %s",
		connected.Round(time.Millisecond), after, took.Round(time.Millisecond))
}

// addToxic adds a toxic to the target's proxy.
func (fc *faultCase) addToxic(t *testing.T, tx toxiproxy.Toxic) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, fc.lab.toxi.AddToxic(ctx, fc.tgt.name, tx))
}

// removeToxic removes a toxic from the target's proxy.
func (fc *faultCase) removeToxic(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, fc.lab.toxi.RemoveToxic(ctx, fc.tgt.name, name))
}

// setEnabled enables or disables (cuts) the target's proxy.
func (fc *faultCase) setEnabled(t *testing.T, enabled bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, fc.lab.toxi.SetEnabled(ctx, fc.tgt.name, enabled))
}

// caller is the test process calling the target through its proxy.
type caller struct {
	fc  *faultCase
	cc  *grpc.ClientConn
	reg *prometheus.Registry
}

// write makes the case's idempotent call and returns how long it took.
func (c *caller) write(t *testing.T) (time.Duration, error) {
	t.Helper()
	// The stack's own deadline (CallTimeout) bounds the call; this one only
	// keeps a broken stack from hanging the test.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err := c.fc.tgt.write(ctx, c.cc, c.fc.key)
	return time.Since(start), err
}

// read makes the target's read-only call and returns how long it took.
func (c *caller) read(t *testing.T) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err := c.fc.tgt.read(ctx, c.cc)
	return time.Since(start), err
}

// attempts is how many attempts of the case's call went out.
func (c *caller) attempts(t *testing.T) float64 {
	return c.metric(t, "chaoslab_rpc_client_attempts_total", map[string]string{"method": c.fc.tgt.writeMethod})
}

// retries is how many of those attempts were retries.
func (c *caller) retries(t *testing.T) float64 {
	return c.metric(t, "chaoslab_rpc_client_retries_total", map[string]string{"method": c.fc.tgt.writeMethod})
}

// breakerState is the breaker's state gauge: 0 closed, 1 half-open, 2 open.
func (c *caller) breakerState(t *testing.T) float64 {
	return c.metric(t, "chaoslab_breaker_state", nil)
}

// metric sums the counters or gauges named name of the caller's target
// whose labels include want.
func (c *caller) metric(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := c.reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["target"] != c.fc.tgt.name {
				continue
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}
