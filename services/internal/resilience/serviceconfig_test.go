package resilience_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	paymentsv1 "github.com/chaoslab/chaoslab/services/api/payments/v1"
	"github.com/chaoslab/chaoslab/services/internal/resilience"
)

func TestServiceConfigJSON(t *testing.T) {
	type retryPolicy struct {
		MaxAttempts          int
		InitialBackoff       string
		MaxBackoff           string
		BackoffMultiplier    float64
		RetryableStatusCodes []string
	}
	type serviceConfig struct {
		LoadBalancingConfig []map[string]json.RawMessage
		MethodConfig        []struct {
			Name        []struct{ Service, Method string }
			RetryPolicy *retryPolicy
		}
		RetryThrottling *struct{ MaxTokens, TokenRatio float64 }
	}
	decode := func(t *testing.T, s string) serviceConfig {
		t.Helper()
		require.True(t, json.Valid([]byte(s)), s)
		var sc serviceConfig
		require.NoError(t, json.Unmarshal([]byte(s), &sc))
		require.Len(t, sc.LoadBalancingConfig, 1)
		assert.Contains(t, sc.LoadBalancingConfig[0], "pick_first")
		return sc
	}

	t.Run("round robin for registry targets, same retry policy", func(t *testing.T) {
		for _, cfg := range []resilience.Config{resilience.DefaultConfig(), {}} {
			balanced := resilience.ServiceConfigJSONBalanced(resilience.RoundRobin, cfg, "payments.v1.PaymentsService")
			var sc struct{ LoadBalancingConfig []map[string]json.RawMessage }
			require.NoError(t, json.Unmarshal([]byte(balanced), &sc))
			require.Len(t, sc.LoadBalancingConfig, 1)
			assert.Contains(t, sc.LoadBalancingConfig[0], "round_robin")
			plain := resilience.ServiceConfigJSON(cfg, "payments.v1.PaymentsService")
			assert.JSONEq(t, strings.Replace(plain, "pick_first", "round_robin", 1), balanced)
		}
	})

	t.Run("retries on", func(t *testing.T) {
		sc := decode(t, resilience.ServiceConfigJSON(resilience.DefaultConfig(),
			"payments.v1.PaymentsService", "inventory.v1.InventoryService"))
		require.Len(t, sc.MethodConfig, 1)
		mc := sc.MethodConfig[0]
		require.Len(t, mc.Name, 2)
		assert.Equal(t, "payments.v1.PaymentsService", mc.Name[0].Service)
		assert.Equal(t, "inventory.v1.InventoryService", mc.Name[1].Service)
		assert.Empty(t, mc.Name[0].Method, "every method of the service")
		assert.Equal(t, &retryPolicy{
			MaxAttempts: 3, InitialBackoff: "0.025s", MaxBackoff: "0.25s",
			BackoffMultiplier: 2, RetryableStatusCodes: []string{"UNAVAILABLE"},
		}, mc.RetryPolicy)
		require.NotNil(t, sc.RetryThrottling)
		assert.Equal(t, 20.0, sc.RetryThrottling.MaxTokens)
		assert.Equal(t, 0.2, sc.RetryThrottling.TokenRatio)
	})
	t.Run("no budget", func(t *testing.T) {
		cfg := resilience.DefaultConfig()
		cfg.RetryBudgetTokens = 0
		sc := decode(t, resilience.ServiceConfigJSON(cfg, "payments.v1.PaymentsService"))
		assert.Len(t, sc.MethodConfig, 1)
		assert.Nil(t, sc.RetryThrottling)
	})
	t.Run("retries off", func(t *testing.T) {
		sc := decode(t, resilience.ServiceConfigJSON(resilience.Off(), "payments.v1.PaymentsService"))
		assert.Empty(t, sc.MethodConfig)
		assert.Nil(t, sc.RetryThrottling)
	})
	t.Run("grpc accepts it", func(t *testing.T) {
		for _, cfg := range []resilience.Config{resilience.DefaultConfig(), resilience.Off()} {
			dialPayments(t, "127.0.0.1:1", grpc.WithDefaultServiceConfig(
				resilience.ServiceConfigJSON(cfg, "payments.v1.PaymentsService")))
		}
	})
}

// fastRetries is DefaultConfig with millisecond backoffs.
func fastRetries() resilience.Config {
	cfg := resilience.DefaultConfig()
	cfg.InitialBackoff, cfg.MaxBackoff = time.Millisecond, 2*time.Millisecond
	return cfg
}

func TestServiceConfigRetriesOverRealServer(t *testing.T) {
	failTwice := func(_ context.Context, n int32) error {
		if n <= 2 {
			return status.Error(codes.Unavailable, "warming up")
		}
		return nil
	}
	tests := []struct {
		name      string
		cfg       resilience.Config
		dialOpts  []grpc.DialOption
		wantCode  codes.Code
		wantCalls int32
	}{
		{"retries on", fastRetries(), nil, codes.OK, 3},
		{"retries off", resilience.Off(), []grpc.DialOption{grpc.WithDisableRetry()}, codes.Unavailable, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakePayments{charge: failTwice}
			opts := append([]grpc.DialOption{grpc.WithDefaultServiceConfig(
				resilience.ServiceConfigJSON(tt.cfg, "payments.v1.PaymentsService"))}, tt.dialOpts...)
			client := dialPayments(t, serve(t, fake), opts...)
			_, err := client.Charge(t.Context(), &paymentsv1.ChargeRequest{IdempotencyKey: "k"})
			assert.Equal(t, tt.wantCode, status.Code(err), "%v", err)
			assert.Equal(t, tt.wantCalls, fake.calls.Load())
		})
	}
}

// TestRetryBudgetStopsRetryStorms checks that the retry throttling is in
// effect: against a server that always fails, retries stop once half the
// tokens are spent (20 tokens, one per failure, threshold 10).
func TestRetryBudgetStopsRetryStorms(t *testing.T) {
	fake := &fakePayments{}
	fake.code.Store(uint32(codes.Unavailable))
	client := dialPayments(t, serve(t, fake), grpc.WithDefaultServiceConfig(
		resilience.ServiceConfigJSON(fastRetries(), "payments.v1.PaymentsService")))
	var perCall []int32
	for range 5 {
		before := fake.calls.Load()
		_, err := client.Charge(t.Context(), &paymentsv1.ChargeRequest{IdempotencyKey: "k"})
		require.Equal(t, codes.Unavailable, status.Code(err))
		perCall = append(perCall, fake.calls.Load()-before)
	}
	assert.Equal(t, []int32{3, 3, 3, 1, 1}, perCall)
}
