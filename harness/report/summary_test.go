package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/chaoslab/chaoslab/harness/journal"
)

func TestSummaryGolden(t *testing.T) {
	var b bytes.Buffer
	Summary(&b, sampleRun())
	golden(t, "summary.txt", b.Bytes())
}

func TestSummary(t *testing.T) {
	var b bytes.Buffer
	Summary(&b, sampleRun())
	out := b.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Equal(t, "5 scenarios: 2 as expected, 1 unexpected, 1 inconclusive, 1 errors", lines[len(lines)-1])
	assert.Regexp(t, `(?m)^latency-payments\s+pass\s+fail\s+unexpected\s+2/3\s+1m12s$`, out)
	assert.Regexp(t, `(?m)^orders-kill9\s+pass\s+-\s+error\s+0/0\s+14s$`, out)
	assert.Contains(t, out, "FAIL          latency-payments / slo/p99 relative: p99 0.613s > 2 × baseline")
	assert.Contains(t, out, "FAIL expected payments-errors-no-retries / slo/availability")
	assert.Contains(t, out, "INCONCLUSIVE  inventory-down / slo/fail fast")
	assert.Contains(t, out, "ERROR         orders-kill9 / run: starting k6")
	assert.NotContains(t, out, "baseline / ", "passing checks are not listed")

	t.Run("all good", func(t *testing.T) {
		var b bytes.Buffer
		Summary(&b, sampleRun()[:1])
		assert.NotContains(t, b.String(), "Failed or inconclusive")
		assert.True(t, strings.HasSuffix(b.String(), "\n1 scenario: 1 as expected, 0 unexpected, 0 inconclusive, 0 errors\n"), b.String())
	})
	t.Run("a name cannot break the table", func(t *testing.T) {
		var b bytes.Buffer
		Summary(&b, []*journal.Journal{{Scenario: "two\nlines\tand tab", Expect: journal.Pass}})
		assert.Contains(t, b.String(), "two lines and tab")
	})
}

func TestCount(t *testing.T) {
	assert.Equal(t, Counts{Scenarios: 5, AsExpected: 2, Unexpected: 1, Inconclusive: 1, Errors: 1}, Count(sampleRun()))
}

// summary.json names the shard a run was, when all its journals ran in one.
func TestSummarizeShard(t *testing.T) {
	one := &journal.Shard{Index: 2, Count: 3, Library: []string{"a", "b", "c"}}
	other := &journal.Shard{Index: 1, Count: 3, Library: []string{"a", "b", "c"}}
	j := func(name string, s *journal.Shard) *journal.Journal {
		return &journal.Journal{Scenario: name, Shard: s}
	}
	tests := []struct {
		name string
		js   []*journal.Journal
		want *journal.Shard
	}{
		{"one shard", []*journal.Journal{j("b", one), j("c", one)}, one},
		{"merged shards", []*journal.Journal{j("a", other), j("b", one)}, nil},
		{"not sharded", []*journal.Journal{j("a", nil)}, nil},
		{"partly sharded", []*journal.Journal{j("b", one), j("a", nil)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, summarize(tt.js).Shard)
		})
	}
}
