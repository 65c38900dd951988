package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A knob is a default when its value is the one the lab file declares, in
// any syntax of the same value.
func TestKnobDefault(t *testing.T) {
	shop, err := loadLabFile(libraryLab)
	require.NoError(t, err)
	isDefault := knobDefault(shop)
	tests := []struct {
		service, flag, value string
		want                 bool
	}{
		{"orders", "retries", "true", true},
		{"orders", "retries", "false", false},
		{"orders", "call-timeout", "1s", true},
		{"orders", "call-timeout", "1000ms", true},
		{"orders", "call-timeout", "1500ms", false},
		{"orders", "retry-max-attempts", "3", true},
		{"orders", "retry-max-attempts", "5", false},
		{"gateway", "request-timeout", "3s", true},
		{"orders", "retries", "maybe", false},
		{"orders", "no-such-knob", "true", false},
		{"no-such-service", "retries", "true", false},
	}
	for _, tt := range tests {
		t.Run(tt.service+"/"+tt.flag+"="+tt.value, func(t *testing.T) {
			assert.Equal(t, tt.want, isDefault(tt.service, tt.flag, tt.value))
		})
	}
}
