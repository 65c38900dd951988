package resilience_test

import (
	"flag"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/services/internal/resilience"
)

func TestDefaultConfig(t *testing.T) {
	cfg := resilience.DefaultConfig()
	require.NoError(t, cfg.Validate())
	assert.Equal(t, resilience.Config{
		Deadlines: true, CallTimeout: time.Second,
		Retries: true, MaxAttempts: 3, InitialBackoff: 25 * time.Millisecond, MaxBackoff: 250 * time.Millisecond,
		RetryBudgetTokens: 20, RetryBudgetRatio: 0.2,
		Breaker: true, BreakerFailures: 5, BreakerOpenFor: 2 * time.Second,
		MaxInFlight: 128,
	}, cfg)
	require.NoError(t, resilience.Off().Validate())
	assert.Equal(t, resilience.Config{}, resilience.Off())
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*resilience.Config)
		want   string
	}{
		{"no call timeout", func(c *resilience.Config) { c.CallTimeout = 0 }, "-call-timeout must be positive"},
		{"unbounded wait", func(c *resilience.Config) { c.WaitForReady, c.Deadlines = true, false }, "-wait-for-ready needs -deadlines"},
		{"one attempt", func(c *resilience.Config) { c.MaxAttempts = 1 }, "-retry-max-attempts must be from 2 to 5"},
		{"six attempts", func(c *resilience.Config) { c.MaxAttempts = 6 }, "-retry-max-attempts must be from 2 to 5"},
		{"no backoff", func(c *resilience.Config) { c.InitialBackoff = 0 }, "initial retry backoff must be positive"},
		{"max below initial", func(c *resilience.Config) { c.MaxBackoff = time.Millisecond }, "must not be below the initial one"},
		{"huge budget", func(c *resilience.Config) { c.RetryBudgetTokens = 1001 }, "retry budget must be from 0"},
		{"no ratio", func(c *resilience.Config) { c.RetryBudgetRatio = 0 }, "token ratio must be positive"},
		{"no failures", func(c *resilience.Config) { c.BreakerFailures = 0 }, "-breaker-failures must be at least 1"},
		{"never open", func(c *resilience.Config) { c.BreakerOpenFor = 0 }, "-breaker-open-for must be positive"},
		{"negative in flight", func(c *resilience.Config) { c.MaxInFlight = -1 }, "-max-inflight must be 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := resilience.DefaultConfig()
			tt.change(&cfg)
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	t.Run("mechanisms off are not checked", func(t *testing.T) {
		cfg := resilience.Off()
		cfg.MaxAttempts, cfg.BreakerOpenFor = 1, -time.Second
		require.NoError(t, cfg.Validate())
	})
	t.Run("every problem is reported", func(t *testing.T) {
		cfg := resilience.DefaultConfig()
		cfg.CallTimeout, cfg.BreakerFailures = 0, 0
		err := cfg.Validate()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "-call-timeout")
		assert.Contains(t, err.Error(), "-breaker-failures")
	})
}

func TestRegisterFlags(t *testing.T) {
	cfg := resilience.DefaultConfig()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.RegisterFlags(fs)

	defaults := map[string]string{
		"deadlines": "true", "call-timeout": "1s", "retries": "true", "retry-max-attempts": "3",
		"breaker": "true", "breaker-failures": "5", "breaker-open-for": "2s", "max-inflight": "128",
	}
	for name, want := range defaults {
		f := fs.Lookup(name)
		require.NotNil(t, f, name)
		assert.Equal(t, want, f.DefValue, name)
		assert.NotEmpty(t, f.Usage, name)
	}

	require.NoError(t, fs.Parse([]string{
		"-deadlines=false", "-call-timeout=300ms", "-retries=false", "-retry-max-attempts=4",
		"-breaker=false", "-breaker-failures=7", "-breaker-open-for=5s", "-max-inflight=0",
	}))
	want := resilience.DefaultConfig()
	want.Deadlines, want.CallTimeout = false, 300*time.Millisecond
	want.Retries, want.MaxAttempts = false, 4
	want.Breaker, want.BreakerFailures, want.BreakerOpenFor = false, 7, 5*time.Second
	want.MaxInFlight = 0
	assert.Equal(t, want, cfg)

	err := fs.Parse([]string{"-breaker-failures=-1"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "whole number")
}

// TestDefaultRetryBudget checks the default retry budget against the load
// the payments-errors-10pct scenario puts on it: 225 calls (15 calls/s for
// 15 s), each attempt failing with probability 0.1. It replays gRPC's retry
// throttling (a failed attempt takes a token, a successful call gives back
// the ratio, no retry once half the tokens are gone) over many seeded runs
// and counts the runs whose calls fail more than 1% (the scenario's
// objective). The policy alone (3 attempts) loses such a run in about 0.14%
// of runs; a budget that drains under bursts of a 10% error rate loses many
// more (10 tokens: ~6%).
func TestDefaultRetryBudget(t *testing.T) {
	cfg := resilience.DefaultConfig()
	const runs, calls, failRate = 4000, 225, 0.1
	rng := rand.New(rand.NewPCG(1, 2))
	lost := 0
	for range runs {
		tokens, failed := cfg.RetryBudgetTokens, 0
		for range calls {
			for attempt := 1; ; attempt++ {
				if rng.Float64() >= failRate {
					tokens = min(cfg.RetryBudgetTokens, tokens+cfg.RetryBudgetRatio)
					break
				}
				tokens = max(0, tokens-1)
				if attempt == cfg.MaxAttempts || tokens <= cfg.RetryBudgetTokens/2 {
					failed++
					break
				}
			}
		}
		if float64(failed) > 0.01*calls {
			lost++
		}
	}
	assert.Less(t, float64(lost)/runs, 0.005,
		"%d of %d runs fail more than 1%% of calls at a 10%% error rate: the retry budget drains", lost, runs)
}
