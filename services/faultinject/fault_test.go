package faultinject_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/services/faultinject"
)

const (
	charge = "/payments.v1.PaymentsService/Charge"
	refund = "/payments.v1.PaymentsService/Refund"
)

func ms(n int) faultinject.Duration { return faultinject.Duration(time.Duration(n) * time.Millisecond) }

func TestFaultValidate(t *testing.T) {
	tests := []struct {
		name  string
		fault faultinject.Fault
		want  string // "" for valid
	}{
		{"latency", faultinject.Fault{Method: charge, Latency: ms(200)}, ""},
		{"error, lower case code", faultinject.Fault{Method: charge, GRPCCode: "unavailable"}, ""},
		{"latency and error", faultinject.Fault{Method: charge, Latency: ms(5), GRPCCode: "INTERNAL", Probability: 0.5}, ""},
		{"abort", faultinject.Fault{Method: charge, Abort: true}, ""},
		{"http error", faultinject.Fault{Method: "POST /v1/orders", HTTPStatus: 503}, ""},
		{"http route with a pattern", faultinject.Fault{Method: "GET /v1/orders/{id}", Latency: ms(1)}, ""},
		{"wildcard with both codes", faultinject.Fault{Method: "*", GRPCCode: "UNAVAILABLE", HTTPStatus: 503}, ""},
		{"probability one", faultinject.Fault{Method: "*", Abort: true, Probability: 1}, ""},
		{"id", faultinject.Fault{ID: "slow-charge_1.2", Method: charge, Latency: ms(1)}, ""},

		{"no method", faultinject.Fault{Latency: ms(1)}, "method is missing"},
		{"bad grpc method", faultinject.Fault{Method: "/payments.v1.PaymentsService", Latency: ms(1)}, "not a full gRPC method"},
		{"bad http route", faultinject.Fault{Method: "post /v1/orders", Latency: ms(1)}, "not an HTTP route"},
		{"nothing to do", faultinject.Fault{Method: charge}, "the fault does nothing"},
		{"unknown code", faultinject.Fault{Method: charge, GRPCCode: "UNAVAILIBLE"}, `grpc_code "UNAVAILIBLE": not a gRPC status code name`},
		{"numeric code", faultinject.Fault{Method: charge, GRPCCode: "14"}, "not a gRPC status code name"},
		{"OK code", faultinject.Fault{Method: charge, GRPCCode: "ok"}, "grpc_code OK is not an error"},
		{"grpc code on http route", faultinject.Fault{Method: "POST /v1/orders", GRPCCode: "UNAVAILABLE"}, "use http_status"},
		{"http status on grpc method", faultinject.Fault{Method: charge, HTTPStatus: 503}, "use grpc_code"},
		{"status 200", faultinject.Fault{Method: "POST /v1/orders", HTTPStatus: 200}, "http_status 200: must be an error status"},
		{"status 600", faultinject.Fault{Method: "POST /v1/orders", HTTPStatus: 600}, "must be an error status"},
		{"abort with error", faultinject.Fault{Method: charge, Abort: true, GRPCCode: "UNAVAILABLE"}, "do not combine it"},
		{"probability above 1", faultinject.Fault{Method: charge, Abort: true, Probability: 1.5}, "probability 1.5: must be in (0, 1]"},
		{"negative probability", faultinject.Fault{Method: charge, Abort: true, Probability: -0.1}, "must be in (0, 1]"},
		{"negative latency", faultinject.Fault{Method: charge, Latency: ms(-1)}, "latency -1ms: must be from 0"},
		{"huge latency", faultinject.Fault{Method: charge, Latency: faultinject.Duration(2 * time.Hour)}, "must be from 0 to 1h0m0s"},
		{"bad id", faultinject.Fault{ID: "a/b", Method: charge, Latency: ms(1)}, `id "a/b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fault.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestFaultJSON(t *testing.T) {
	f := faultinject.Fault{ID: "f-1", Method: charge, Latency: ms(200), GRPCCode: "UNAVAILABLE", Probability: 0.25}
	b, err := json.Marshal(f)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"f-1","method":"/payments.v1.PaymentsService/Charge","latency":"200ms","grpc_code":"UNAVAILABLE","probability":0.25}`, string(b))
	var back faultinject.Fault
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, f, back)

	b, err = json.Marshal(faultinject.Fault{ID: "f-2", Method: "*", Abort: true})
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"f-2","method":"*","abort":true}`, string(b), "zero fields are left out")

	for _, bad := range []string{`{"latency":200}`, `{"latency":"200"}`, `{"latency":"soon"}`} {
		err := json.Unmarshal([]byte(bad), &back)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), `want a duration string like "200ms"`)
	}
}
