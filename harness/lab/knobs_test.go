package lab

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckKnob(t *testing.T) {
	l, err := Parse("t.yaml", []byte(base))
	require.NoError(t, err)
	tests := []struct {
		service, flag, value string
		want                 string // the error; "" accepts
	}{
		{"ledger", "cache", "false", ""},
		{"ledger", "cache", "no", `want true or false, got "no"`},
		{"ledger", "workers", "64", ""},
		{"ledger", "workers", "1", ""},
		{"ledger", "workers", "0", "0 is out of range: must be from 1 to 64"},
		{"ledger", "workers", "65", "65 is out of range: must be from 1 to 64"},
		{"ledger", "workers", "4.5", `"4.5" is not a whole number`},
		{"ledger", "ratio", "0.25", ""},
		{"ledger", "ratio", "1.5", "1.5 is out of range: must be from 0 to 1"},
		{"ledger", "ratio", "NaN", `"NaN" is not a finite number`},
		{"ledger", "mode", "fast", ""},
		{"ledger", "mode", "slow", `unknown value "slow"; allowed: fast, safe`},
		{"web", "timeout", "10ms", ""},
		{"web", "timeout", "10s", ""},
		{"web", "timeout", "9ms", "9ms is out of range: must be from 10ms to 10s"},
		{"web", "timeout", "1", `"1" is not a duration: write one like "15s", "500ms" or "1m30s"`},
		{"web", "cache", "true", `web has no knob "cache"; allowed: timeout`},
		{"bank", "cache", "true", `unknown service "bank"; allowed: web, ledger`},
	}
	for _, tt := range tests {
		t.Run(tt.service+"/"+tt.flag+"="+tt.value, func(t *testing.T) {
			err := l.CheckKnob(tt.service, tt.flag, tt.value)
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			var kerr *KnobError
			require.ErrorAs(t, err, &kerr)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestKnobCanonical(t *testing.T) {
	k := &Knob{Type: KnobDuration, MinDuration: 1, MaxDuration: 1 << 40}
	v, err := k.Parse("1000ms")
	require.NoError(t, err)
	assert.Equal(t, "1s", v)
	f := &Knob{Type: KnobFloat, Min: 0, Max: 1e6}
	v, err = f.Parse("1e3")
	require.NoError(t, err)
	assert.Equal(t, "1000", v)
	assert.Equal(t, "0 to 1e+06", f.Bounds())
	assert.Equal(t, "CHAOSLAB_ORDERS_CALL_TIMEOUT", KnobEnvName("CHAOSLAB_ORDERS_", "call-timeout"))
}
