package scenario

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong in a scenario file.
type Problem struct {
	// File, Line and Column say where: Line and Column are 1-based, 0 when
	// unknown.
	File         string
	Line, Column int
	// Field is the path of the field: "phases[1].faults[0].network.toxic".
	Field string
	// Msg says what is wrong and what to do.
	Msg string
	// Allowed lists what the field may be, when it is a choice.
	Allowed []string
}

// String returns "file:line:col: field.path: what is wrong; allowed: a, b".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	if len(p.Allowed) > 0 {
		b.WriteString("; allowed: ")
		b.WriteString(strings.Join(p.Allowed, ", "))
	}
	return b.String()
}

// ValidationError lists every problem found in one or more scenario files,
// in file order, then line order.
type ValidationError struct {
	Problems []Problem
}

// Error returns one problem per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
