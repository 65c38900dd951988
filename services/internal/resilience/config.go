// Package resilience holds the switchable resilience mechanisms of the
// chaoslab services: per-call deadlines, retries with a retry budget (a gRPC
// service config), a circuit breaker per dependency, and server-side load
// shedding. Each mechanism is turned on or off by Config, so that a scenario
// can compare the shop with and without it.
package resilience

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"
)

// Config switches the resilience mechanisms on or off and tunes them.
type Config struct {
	// Deadlines gives every outgoing call a timeout of CallTimeout.
	Deadlines   bool
	CallTimeout time.Duration
	// WaitForReady makes a call made while a dependency is (re)connecting
	// wait for the connection, within the call's deadline, instead of
	// failing at once (and spending retries and the retry budget on a
	// connection that is not there yet). It needs Deadlines: a wait must be
	// bounded.
	WaitForReady bool

	// Retries retries calls that failed with UNAVAILABLE, up to MaxAttempts
	// attempts in all, with exponential backoff from InitialBackoff to
	// MaxBackoff (with jitter, as grpc-go does).
	Retries        bool
	MaxAttempts    int
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// RetryBudgetTokens and RetryBudgetRatio are the gRPC retry throttling
	// (the retry budget): each failure takes a token, each success gives
	// back RetryBudgetRatio, and retries stop while fewer than half the
	// tokens are left. RetryBudgetTokens 0 means no budget.
	RetryBudgetTokens float64
	RetryBudgetRatio  float64

	// Breaker puts a circuit breaker in front of each dependency: it opens
	// after BreakerFailures consecutive failures, fails fast for
	// BreakerOpenFor, then lets one probe call through.
	Breaker         bool
	BreakerFailures uint32
	BreakerOpenFor  time.Duration

	// MaxInFlight is the number of requests a server handles at once before
	// it sheds load; 0 means unlimited.
	MaxInFlight int
}

// DefaultConfig returns a Config with every mechanism on.
//
// The retry budget rides out a steady 10% failure rate: with 10 tokens, a
// burst of failures drained it in ~6% of 15-second runs at 15 calls/s, and
// calls it should have retried failed (TestDefaultRetryBudget); with 20, in
// 0.2%. A full outage still stops retries after ~10 failures.
func DefaultConfig() Config {
	return Config{
		Deadlines:         true,
		CallTimeout:       time.Second,
		Retries:           true,
		MaxAttempts:       3,
		InitialBackoff:    25 * time.Millisecond,
		MaxBackoff:        250 * time.Millisecond,
		RetryBudgetTokens: 20,
		RetryBudgetRatio:  0.2,
		Breaker:           true,
		BreakerFailures:   5,
		BreakerOpenFor:    2 * time.Second,
		MaxInFlight:       128,
	}
}

// Off returns a Config with every mechanism off: no deadlines, no retries,
// no breaker, no load shedding.
func Off() Config {
	return Config{}
}

// RegisterFlags registers the flags that tune cfg on fs, with the current
// values of cfg as defaults.
func (cfg *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&cfg.Deadlines, "deadlines", cfg.Deadlines,
		"give every outgoing gRPC call a timeout of -call-timeout")
	fs.DurationVar(&cfg.CallTimeout, "call-timeout", cfg.CallTimeout,
		"timeout of each outgoing gRPC call, retries included, when -deadlines is on")
	fs.BoolVar(&cfg.WaitForReady, "wait-for-ready", cfg.WaitForReady,
		"make a call made while a dependency is (re)connecting wait for it, within -call-timeout, instead of failing at once (needs -deadlines)")
	fs.BoolVar(&cfg.Retries, "retries", cfg.Retries,
		"retry outgoing gRPC calls that fail with UNAVAILABLE, with backoff and a retry budget")
	fs.IntVar(&cfg.MaxAttempts, "retry-max-attempts", cfg.MaxAttempts,
		"attempts per call when -retries is on, the first one included (2 to 5)")
	fs.BoolVar(&cfg.Breaker, "breaker", cfg.Breaker,
		"put a circuit breaker in front of each gRPC dependency")
	fs.Var((*uint32Value)(&cfg.BreakerFailures), "breaker-failures",
		"consecutive failures (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN) that open the breaker")
	fs.DurationVar(&cfg.BreakerOpenFor, "breaker-open-for", cfg.BreakerOpenFor,
		"how long an open breaker fails fast before it lets a probe call through")
	fs.IntVar(&cfg.MaxInFlight, "max-inflight", cfg.MaxInFlight,
		"requests a gRPC server handles at once before it sheds load with RESOURCE_EXHAUSTED (0: unlimited)")
}

// uint32Value is a flag.Value for a uint32.
type uint32Value uint32

// String returns the value in decimal.
func (v *uint32Value) String() string { return strconv.FormatUint(uint64(*v), 10) }

// Set parses s as a decimal uint32.
func (v *uint32Value) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return errors.New("want a whole number from 0 to 4294967295")
	}
	*v = uint32Value(n)
	return nil
}

// maxGRPCAttempts is the most attempts grpc-go makes; it lowers larger
// values silently.
const maxGRPCAttempts = 5

// maxRetryTokens is the largest maxTokens the gRPC retry throttling accepts.
const maxRetryTokens = 1000

// Validate reports every setting of the mechanisms that are on that cannot
// work, naming the flag to fix.
func (cfg Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if cfg.Deadlines && cfg.CallTimeout <= 0 {
		bad("-call-timeout must be positive when -deadlines is on, got %s", cfg.CallTimeout)
	}
	if cfg.WaitForReady && !cfg.Deadlines {
		bad("-wait-for-ready needs -deadlines: a call waiting for a connection must be bounded")
	}
	if cfg.Retries {
		if cfg.MaxAttempts < 2 || cfg.MaxAttempts > maxGRPCAttempts {
			bad("-retry-max-attempts must be from 2 to %d when -retries is on, got %d", maxGRPCAttempts, cfg.MaxAttempts)
		}
		if cfg.InitialBackoff <= 0 {
			bad("the initial retry backoff must be positive, got %s", cfg.InitialBackoff)
		}
		if cfg.MaxBackoff < cfg.InitialBackoff {
			bad("the maximum retry backoff (%s) must not be below the initial one (%s)", cfg.MaxBackoff, cfg.InitialBackoff)
		}
		if cfg.RetryBudgetTokens < 0 || cfg.RetryBudgetTokens > maxRetryTokens {
			bad("the retry budget must be from 0 (no budget) to %d tokens, got %g", maxRetryTokens, cfg.RetryBudgetTokens)
		}
		if cfg.RetryBudgetTokens > 0 && cfg.RetryBudgetRatio <= 0 {
			bad("the retry budget token ratio must be positive, got %g", cfg.RetryBudgetRatio)
		}
	}
	if cfg.Breaker {
		if cfg.BreakerFailures == 0 {
			bad("-breaker-failures must be at least 1 when -breaker is on")
		}
		if cfg.BreakerOpenFor <= 0 {
			bad("-breaker-open-for must be positive when -breaker is on, got %s", cfg.BreakerOpenFor)
		}
	}
	if cfg.MaxInFlight < 0 {
		bad("-max-inflight must be 0 (unlimited) or more, got %d", cfg.MaxInFlight)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid resilience settings: %w", err)
	}
	return nil
}
