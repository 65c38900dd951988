package diag

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.yaml.in/yaml/v3"
)

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.yaml", Line: 3, Column: 5, Field: "phases[0].name", Msg: "is empty", Allowed: []string{"x", "y"}},
			"a.yaml:3:5: phases[0].name: is empty; allowed: x, y"},
		{Problem{File: "a.yaml", Msg: "the file is empty"}, "a.yaml: the file is empty"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.p.String())
	}
	err := &ValidationError{Problems: []Problem{tests[0].p, tests[1].p}}
	assert.Equal(t, tests[0].want+"\n"+tests[1].want, err.Error())
}

func TestYAMLSyntaxLines(t *testing.T) {
	tests := []struct {
		name, doc string
		line      int
	}{
		{"scanner error", "a: 1\nb: \"open\n", 2},
		{"parser error (counted from 0 by the yaml package)", "a: [1, 2\nb: 3\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			err := yaml.Unmarshal([]byte(tt.doc), &v)
			p := YAMLSyntax("f.yaml", err)
			assert.Equal(t, tt.line, p.Line, p.String())
			assert.Contains(t, p.Msg, "fix the YAML syntax")
		})
	}
}

func TestSortByPosition(t *testing.T) {
	ps := []Problem{{Line: 3, Column: 1, Msg: "c"}, {Line: 1, Column: 9, Msg: "b"}, {Line: 1, Column: 2, Msg: "a"}}
	SortByPosition(ps)
	assert.Equal(t, []string{"a", "b", "c"}, []string{ps[0].Msg, ps[1].Msg, ps[2].Msg})
}
