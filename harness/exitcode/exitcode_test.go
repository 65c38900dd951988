package exitcode

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The numbers are an interface: CI scripts gate on them.
func TestCodesAreStable(t *testing.T) {
	want := map[Code]int{OK: 0, CheckFailed: 1, Usage: 2, Inconclusive: 3, Infra: 4}
	for _, c := range Codes() {
		assert.Equal(t, want[c], int(c), c.String())
		assert.NotContains(t, c.String(), "exit code", "every code has a name")
	}
	assert.Len(t, Codes(), len(want))
	assert.Equal(t, "exit code 9", Code(9).String())
}
