package stack_test

import (
	"context"
	"net/http/httptest"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/stack"
	"github.com/chaoslab/chaoslab/services/faultinject"
)

// tokenStack is a stack whose one service's admin API needs a token.
type tokenStack struct {
	adminURL, token string
}

func (s tokenStack) Endpoints() stack.Endpoints {
	return stack.Endpoints{ToxiproxyURL: "http://127.0.0.1:1", AdminToken: s.token, ServiceOrder: []string{"svc"},
		Services: map[string]stack.Service{"svc": {AdminURL: s.adminURL}}}
}
func (tokenStack) Signal(context.Context, string, syscall.Signal) error     { return nil }
func (tokenStack) Restart(context.Context, string, map[string]string) error { return nil }

// FaultEnv's admin client sends the endpoints' AdminToken as a bearer
// token, and none without one.
func TestFaultEnvAdminToken(t *testing.T) {
	in := faultinject.NewInjector(nil, nil)
	srv := httptest.NewServer(in.AdminHandler(faultinject.WithBearerToken("tok")))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, token string
		ok          bool
	}{
		{"the token", "tok", true},
		{"another token", "other", false},
		{"no token", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := stack.FaultEnv(tokenStack{adminURL: srv.URL, token: tc.token}, nil)
			u, err := env.AdminURL("svc")
			require.NoError(t, err)
			_, err = faultinject.NewClient(u, env.HTTP).List(t.Context())
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, "401")
			}
		})
	}
}
