package stack_test

import (
	"context"
	"net/http"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/stack"
)

// farStack is a stack that reaches a lab through URLs: no Toxiproxy, and
// credentials for its admin APIs (stack.AdminHTTP).
type farStack struct{ withToxiproxy bool }

func (s farStack) Endpoints() stack.Endpoints {
	e := stack.Endpoints{ServiceOrder: []string{"store"}, Services: map[string]stack.Service{"store": {AdminURL: "http://127.0.0.1:2"}}}
	if s.withToxiproxy {
		e.ToxiproxyURL = "http://127.0.0.1:1"
	}
	return e
}
func (farStack) Signal(context.Context, string, syscall.Signal) error     { return nil }
func (farStack) Restart(context.Context, string, map[string]string) error { return nil }
func (farStack) AdminHTTP(hc *http.Client) *http.Client                   { return admin }

var admin = &http.Client{}

func TestFaultEnvOfAStackThatReachesALabThroughURLs(t *testing.T) {
	env := stack.FaultEnv(farStack{}, nil)
	assert.Nil(t, env.Toxiproxy, "no Toxiproxy URL: no network faults")
	assert.Same(t, admin, env.HTTP, "the admin APIs are called with the stack's client")
	_, err := faults.NewInjector(env, nil).Apply(t.Context(), "r", "s", "p", faults.Spec{Network: &faults.NetworkFault{Edge: "a->store", Toxic: "latency", Stream: "downstream", Toxicity: 1, Attributes: map[string]int64{"latency": 10}}})
	require.ErrorContains(t, err, "no Toxiproxy in this lab")

	assert.NotNil(t, stack.FaultEnv(farStack{withToxiproxy: true}, nil).Toxiproxy)
}
