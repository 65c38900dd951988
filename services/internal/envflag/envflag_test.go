package envflag

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		env         map[string]string
		wantAddr    string
		wantTimeout time.Duration
		wantErr     string
	}{
		{name: "defaults", wantAddr: ":1", wantTimeout: time.Second},
		{name: "env fills unset flags", env: map[string]string{"APP_ADDR": ":2", "APP_CALL_TIMEOUT": "3s"}, wantAddr: ":2", wantTimeout: 3 * time.Second},
		{name: "flag wins over env", args: []string{"-addr", ":9"}, env: map[string]string{"APP_ADDR": ":2"}, wantAddr: ":9", wantTimeout: time.Second},
		{name: "bad env value names the variable", env: map[string]string{"APP_CALL_TIMEOUT": "soon"}, wantErr: "APP_CALL_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			addr := fs.String("addr", ":1", "")
			timeout := fs.Duration("call-timeout", time.Second, "")
			err := Parse(fs, tt.args, "APP", func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantAddr, *addr)
			assert.Equal(t, tt.wantTimeout, *timeout)
		})
	}
}
