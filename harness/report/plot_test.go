package report

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNiceStep(t *testing.T) {
	tests := []struct{ in, want float64 }{
		{0.13, 0.2}, {0.2, 0.2}, {0.21, 0.25}, {0.3, 0.5}, {0.7, 1}, {1, 1}, {3, 5}, {120, 200}, {0, 1}, {-1, 1},
	}
	for _, tt := range tests {
		assert.InDelta(t, tt.want, niceStep(tt.in), 1e-12, "niceStep(%v)", tt.in)
	}
}

func TestTimeAxis(t *testing.T) {
	tests := []struct {
		span  float64
		step  float64
		label string // of the last tick
	}{
		{span: 5, step: 1, label: "5s"},
		{span: 72, step: 10, label: "1m10s"},
		{span: 240, step: 30, label: "4m"},
		{span: 3600, step: 600, label: "60m"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.step, timeStep(tt.span), "span %v", tt.span)
		ticks := timeScale{t0: 100, t1: 100 + tt.span, x0: 0, x1: 1000}.ticks()
		assert.Equal(t, "0s", ticks[0].Label)
		assert.Equal(t, tt.label, ticks[len(ticks)-1].Label)
		assert.LessOrEqual(t, len(ticks), 9)
	}
	assert.Equal(t, []tick{{Pos: 10, Label: "0s"}}, timeScale{t0: 5, t1: 5, x0: 10, x1: 20}.ticks())
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		step float64
		want string
	}{
		{0.25, "s", 0.05, "250ms"},
		{0.0452, "s", 0, "45.2ms"},
		{1.5, "s", 0.5, "1.5s"},
		{2, "s", 1, "2s"},
		{0.0125, "ratio", 0.0025, "1.25%"},
		{0.01, "ratio", 0, "1%"},
		{0.0036512, "ratio", 0, "0.365%"},
		{1234.5, "req/s", 0, "1234 req/s"},
		{40, "req/s", 10, "40 req/s"},
		{3, "", 1, "3"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, formatValue(tt.v, tt.unit, tt.step), "formatValue(%v, %q, %v)", tt.v, tt.unit, tt.step)
	}
}

func TestOffsetLabel(t *testing.T) {
	for in, want := range map[float64]string{0: "0s", 45: "45s", 59.6: "1m", 90: "1m30s", 125: "2m05s", 3600: "60m"} {
		assert.Equal(t, want, offsetLabel(in), "offsetLabel(%v)", in)
	}
}

func TestClip(t *testing.T) {
	assert.Equal(t, "abc", clip("abc", 3))
	assert.Equal(t, "ab…", clip("abcd", 3))
	assert.Equal(t, "", fitLabel("abc", 5))
	assert.Equal(t, "orders->pa…", fitLabel("orders->payments", 70))
}
