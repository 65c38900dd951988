// Package diag describes problems in the lab's input files (scenarios, SLO
// definitions) with their position: "file:line:col: field.path: what is
// wrong; allowed: a, b". Parsers collect every problem instead of stopping at
// the first, and return them together as a *ValidationError.
package diag

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong in an input file.
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

// ValidationError lists every problem found in one or more files.
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

// SortByPosition sorts problems by line, then column (stable).
func SortByPosition(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
}

// yamlLineRE finds the line in the yaml package's syntax errors.
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// YAMLSyntax turns a syntax error of the yaml package into a Problem at
// its line (Line 0 when the error carries none).
func YAMLSyntax(file string, err error) Problem {
	p := Problem{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ") + ": fix the YAML syntax"}
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return p
	}
	line, _ := strconv.Atoi(m[1])
	// The yaml package counts the lines of its parser's errors (not its
	// scanner's) from 0.
	if parserError(m[2]) {
		line++
	}
	p.Line, p.Column, p.Msg = line, 1, m[2]+": fix the YAML syntax"
	return p
}

// parserError reports whether msg is one of the yaml package's parser
// errors, whose line is off by one.
func parserError(msg string) bool {
	switch msg {
	case "did not find expected ',' or ']'", "did not find expected ',' or '}'", "did not find expected key",
		"did not find expected '-' indicator", "did not find expected node content",
		"did not find expected <document start>", "did not find expected <stream-start>",
		"found undefined tag handle", "found duplicate %YAML directive", "found duplicate %TAG directive",
		"found incompatible YAML document":
		return true
	}
	return false
}
