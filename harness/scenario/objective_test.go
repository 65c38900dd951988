package scenario

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseObjective(t *testing.T) {
	tests := []struct {
		in   string
		want Objective
		str  string
	}{
		{in: "< 0.25", want: Objective{Op: Less, Value: 0.25}, str: "< 0.25"},
		{in: ">=0.99", want: Objective{Op: GreaterEqual, Value: 0.99}, str: ">= 0.99"},
		{in: "  ==  0 ", want: Objective{Op: Equal, Value: 0}, str: "== 0"},
		{in: "> -1e-3", want: Objective{Op: Greater, Value: -0.001}, str: "> -0.001"},
		{in: "<= 2 * baseline", want: Objective{Op: LessEqual, RelativeTo: "baseline", Factor: 2}, str: "<= 2 * baseline"},
		{in: "<= 2*baseline", want: Objective{Op: LessEqual, RelativeTo: "baseline", Factor: 2}, str: "<= 2 * baseline"},
		{in: ">= baseline", want: Objective{Op: GreaterEqual, RelativeTo: "baseline", Factor: 1}, str: ">= baseline"},
		{in: "<= baseline + 0.05", want: Objective{Op: LessEqual, RelativeTo: "baseline", Factor: 1, Value: 0.05}, str: "<= baseline + 0.05"},
		{in: ">= 0.9 * warm-up - 0.01", want: Objective{Op: GreaterEqual, RelativeTo: "warm-up", Factor: 0.9, Value: -0.01},
			str: ">= 0.9 * warm-up - 0.01"},
		{in: "< 1.5 * phase-1", want: Objective{Op: Less, RelativeTo: "phase-1", Factor: 1.5}, str: "< 1.5 * phase-1"},
		{in: "<= .5 * baseline", want: Objective{Op: LessEqual, RelativeTo: "baseline", Factor: 0.5}, str: "<= 0.5 * baseline"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseObjective(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.str, got.String())
			again, err := ParseObjective(got.String())
			require.NoError(t, err)
			assert.Equal(t, got, again, "String must read back")
		})
	}
}

func TestParseObjectiveErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "", want: `"" does not start with a comparison (<, <=, >, >=, ==)`},
		{in: "0.25", want: `"0.25" does not start with a comparison`},
		{in: "about 3", want: `"about 3" does not start with a comparison`},
		{in: "<", want: `"<" has nothing to compare with`},
		{in: "=< 1", want: `"=< 1" does not start with a comparison`},
		{in: "!= 1", want: `"!= 1" does not start with a comparison`},
		{in: "< NaN", want: `"< NaN": the threshold must be a finite number`},
		{in: "< Inf", want: `"< Inf": the threshold must be a finite number`},
		{in: "<= 0 * baseline", want: `"<= 0 * baseline": the factor "0" must be a positive number`},
		{in: "<= -2 * baseline", want: `"<= -2 * baseline" is not an objective`},
		{in: "<= 2 * Baseline", want: `"<= 2 * Baseline" is not an objective`},
		{in: "<= baseline * 2", want: `"<= baseline * 2" is not an objective`},
		{in: "<= 2 baseline", want: `"<= 2 baseline" is not an objective`},
		{in: "<= baseline + x", want: `"<= baseline + x" is not an objective`},
		{in: "<= baseline + 1..2", want: `"<= baseline + 1..2": the offset "1..2" must be a finite number`},
		{in: "<= 2..1 * baseline", want: `"<= 2..1 * baseline": the factor "2..1" must be a positive number`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseObjective(tt.in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestObjectiveEval(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		obj       string
		got, base float64
		want      bool
	}{
		{obj: "< 0.25", got: 0.2, want: true},
		{obj: "< 0.25", got: 0.25, want: false},
		{obj: "<= 0.25", got: 0.25, want: true},
		{obj: "> 0.5", got: 0.5, want: false},
		{obj: ">= 0.99", got: 0.99, want: true},
		{obj: ">= 0.99", got: 0.989, want: false},
		{obj: "== 2", got: 2, want: true},
		{obj: "== 2", got: 1, want: false},
		{obj: "< 0.25", got: 0.2, base: 100, want: true}, // base ignored when absolute
		{obj: "<= 2 * baseline", got: 0.2, base: 0.1, want: true},
		{obj: "<= 2 * baseline", got: 0.21, base: 0.1, want: false},
		{obj: "<= baseline + 0.05", got: 0.15, base: 0.1, want: true},
		{obj: "<= baseline + 0.05", got: 0.16, base: 0.1, want: false},
		{obj: ">= 0.9 * baseline - 0.01", got: 0.8, base: 1, want: false},
		{obj: ">= 0.9 * baseline - 0.01", got: 0.895, base: 1, want: true},
		{obj: "< 0.25", got: nan, want: false},
		{obj: "> 0.25", got: nan, want: false},
		{obj: "<= 2 * baseline", got: 0.1, base: nan, want: false},
		{obj: "<= 2 * baseline", got: math.Inf(1), base: 1, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.obj, func(t *testing.T) {
			o, err := ParseObjective(tt.obj)
			require.NoError(t, err)
			assert.Equal(t, tt.want, o.Eval(tt.got, tt.base), "got %g base %g", tt.got, tt.base)
		})
	}
	assert.Equal(t, 0.25, Objective{Op: Less, Value: 0.25}.Threshold(9))
	assert.InDelta(t, 0.3, Objective{Op: Less, RelativeTo: "b", Factor: 2, Value: 0.1}.Threshold(0.1), 1e-12)
	assert.False(t, Objective{Op: "~", Value: 1}.Eval(0, 0), "an unknown op never passes")
}
