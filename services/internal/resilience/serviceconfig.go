package resilience

import (
	"encoding/json"
	"strconv"
	"time"
)

// ServiceConfigJSON returns the default gRPC service config of a connection
// to a dependency that serves the given full service names
// ("payments.v1.PaymentsService"). With cfg.Retries on, every method of those
// services is retried on UNAVAILABLE by grpc-go itself, below the
// interceptors, under a retry budget (retryThrottling). With cfg.Retries off
// there is no retry policy; the dialer must also pass grpc.WithDisableRetry()
// so that nothing retries (transparent retries of RPCs that never left the
// client aside).
//
// Retrying every method is safe: each call of the shop's services is
// idempotent, by its idempotency key (payments, orders) or reservation id
// (inventory), or read-only (see the .proto files), so a retried call never
// charges, reserves or places twice. UNAVAILABLE is the only retryable code:
// DEADLINE_EXCEEDED would retry into an expired deadline and
// RESOURCE_EXHAUSTED (load shedding) must not be amplified.
//
// The load balancing policy is pick_first (one connection to the one
// address of a host:port target); ServiceConfigJSONBalanced chooses another.
func ServiceConfigJSON(cfg Config, services ...string) string {
	return ServiceConfigJSONBalanced(PickFirst, cfg, services...)
}

// Load balancing policies of grpc-go (the names of the service config).
const (
	// PickFirst connects to one address at a time: host:port targets.
	PickFirst = "pick_first"
	// RoundRobin connects to every address the resolver gives and sends
	// each call to the next ready one: registry targets (etcd:///…), whose
	// resolver lists every replica.
	RoundRobin = "round_robin"
)

// ServiceConfigJSONBalanced is ServiceConfigJSON with the load balancing
// policy lb (PickFirst, RoundRobin).
func ServiceConfigJSONBalanced(lb string, cfg Config, services ...string) string {
	sc := serviceConfig{LoadBalancingConfig: []map[string]struct{}{{lb: {}}}}
	if cfg.Retries {
		names := make([]methodName, 0, len(services))
		for _, s := range services {
			names = append(names, methodName{Service: s})
		}
		if len(names) > 0 {
			sc.MethodConfig = []methodConfig{{
				Name: names,
				RetryPolicy: &retryPolicy{
					MaxAttempts:          cfg.MaxAttempts,
					InitialBackoff:       protoDuration(cfg.InitialBackoff),
					MaxBackoff:           protoDuration(cfg.MaxBackoff),
					BackoffMultiplier:    2,
					RetryableStatusCodes: []string{"UNAVAILABLE"},
				},
			}}
		}
		if cfg.RetryBudgetTokens > 0 {
			sc.RetryThrottling = &retryThrottling{MaxTokens: cfg.RetryBudgetTokens, TokenRatio: cfg.RetryBudgetRatio}
		}
	}
	b, err := json.Marshal(sc)
	if err != nil { // plain strings and numbers only: cannot happen
		panic("resilience: encoding service config: " + err.Error())
	}
	return string(b)
}

// serviceConfig is the subset of the gRPC service config
// (https://github.com/grpc/grpc/blob/master/doc/service_config.md) we set.
type serviceConfig struct {
	LoadBalancingConfig []map[string]struct{} `json:"loadBalancingConfig"`
	MethodConfig        []methodConfig        `json:"methodConfig,omitempty"`
	RetryThrottling     *retryThrottling      `json:"retryThrottling,omitempty"`
}

type methodConfig struct {
	Name        []methodName `json:"name"`
	RetryPolicy *retryPolicy `json:"retryPolicy,omitempty"`
}

type methodName struct {
	Service string `json:"service"`
	Method  string `json:"method,omitempty"`
}

type retryPolicy struct {
	MaxAttempts          int      `json:"maxAttempts"`
	InitialBackoff       string   `json:"initialBackoff"`
	MaxBackoff           string   `json:"maxBackoff"`
	BackoffMultiplier    float64  `json:"backoffMultiplier"`
	RetryableStatusCodes []string `json:"retryableStatusCodes"`
}

type retryThrottling struct {
	MaxTokens  float64 `json:"maxTokens"`
	TokenRatio float64 `json:"tokenRatio"`
}

// protoDuration formats d as a protobuf JSON duration ("0.025s").
func protoDuration(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}
