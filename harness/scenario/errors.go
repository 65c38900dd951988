package scenario

import "github.com/chaoslab/chaoslab/harness/diag"

// Problem is one thing wrong in a scenario file (see package diag).
type Problem = diag.Problem

// ValidationError lists every problem found in one or more scenario files,
// in file order, then line order.
type ValidationError = diag.ValidationError
