package slodef

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocs keeps the time scale's mapping, as the definitions file and
// docs/slos.md state it, and the list of SLOs in the docs true.
func TestDocs(t *testing.T) {
	root := filepath.Join("..", "..")
	set, err := Load(filepath.Join(root, "slo", "slos.yaml"))
	require.NoError(t, err)
	defs, err := os.ReadFile(filepath.Join(root, "slo", "slos.yaml"))
	require.NoError(t, err)
	docs, err := os.ReadFile(filepath.Join(root, "docs", "slos.md"))
	require.NoError(t, err)

	assert.Contains(t, string(defs), "time_scale: 60\n")
	assert.Contains(t, string(docs), "`time_scale`, **60**")
	for _, w := range set.Windows() {
		// "#   1h  → 1m" in the file, "| 1h → 1m | `slo:sli_error:ratio_rate1m` |" in the docs.
		assert.Regexp(t, `(?m)^#\s+`+regexp.QuoteMeta(w.Workbook)+`\s+→ `+regexp.QuoteMeta(w.Name())+`\s`, string(defs), w.String())
		assert.Contains(t, string(docs), "| "+w.String()+" | `"+ErrorRatioRule+w.Name()+"` |")
	}
	for _, o := range set.SLOs {
		row := regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(o.Name) + "` \\| ([0-9.]+)% \\|")
		m := row.FindStringSubmatch(string(docs))
		if assert.NotNil(t, m, "docs/slos.md has no row for %s", o.Name) {
			assert.Equal(t, num(100*o.Objective), m[1], o.Name)
		}
	}
	rows := regexp.MustCompile("(?m)^\\| `[a-z-]+` \\| [0-9.]+% \\|").FindAllString(string(docs), -1)
	assert.Len(t, rows, len(set.SLOs), "docs/slos.md lists SLOs that slo/slos.yaml does not define")
	for _, r := range []string{ObjectiveRule, ErrorBudgetRule, CurrentBurnRateRule, PeriodBurnRateRule, PeriodBudgetRemainingRule, AlertName} {
		assert.True(t, strings.Contains(string(docs), "`"+r+"`"), r)
	}
}
