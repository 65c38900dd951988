package report

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/chaoslab/chaoslab/harness/exitcode"
	"github.com/chaoslab/chaoslab/harness/journal"
)

// renderScenario writes j's report and parses it.
func renderScenario(t *testing.T, j *journal.Journal) (string, *html.Node) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, WriteScenario(dir, j))
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	require.NoError(t, err)
	doc, err := html.Parse(bytes.NewReader(b))
	require.NoError(t, err)
	return string(b), doc
}

// all returns the elements under n for which match is true.
func all(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for c := range n.Descendants() {
		if c.Type == html.ElementNode && match(c) {
			out = append(out, c)
		}
	}
	return out
}

func tag(name string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name }
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	return strings.Contains(" "+attr(n, "class")+" ", " "+class+" ")
}

func classed(name, class string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name && hasClass(n, class) }
}

func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}

// reporter is the part of *testing.T that assertSelfContained uses.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// recorder is a reporter that remembers whether it was told of an error.
type recorder struct{ failed bool }

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }

// assertSelfContained checks that a page loads nothing: no script, no
// external reference of any kind, no URL with a scheme.
func assertSelfContained(t reporter, raw string, doc *html.Node) {
	t.Helper()
	assert.NotRegexp(t, `(?i)https?://`, raw, "no http(s) reference")
	assert.Empty(t, all(doc, tag("script")), "no script")
	assert.Empty(t, all(doc, tag("link")), "no stylesheet link")
	assert.Empty(t, all(doc, tag("img")), "no image")
	assert.Empty(t, all(doc, tag("iframe")), "no frame")
	for _, n := range all(doc, func(*html.Node) bool { return true }) {
		for _, a := range n.Attr {
			assert.False(t, strings.HasPrefix(strings.ToLower(a.Key), "on"), "event handler %s on <%s>", a.Key, n.Data)
			if a.Key == "src" || a.Key == "href" {
				assert.NotRegexp(t, `^[a-zA-Z][a-zA-Z0-9+.-]*:`, a.Val, "%s=%q on <%s> has a scheme", a.Key, a.Val, n.Data)
			}
		}
	}
}

// has reports whether the page's text contains s, without printing the
// whole page when it does not.
func has(t *testing.T, page, s string) {
	t.Helper()
	assert.True(t, strings.Contains(page, s), "the page does not contain %q", s)
}

func TestScenarioHTML(t *testing.T) {
	j := sampleRun()[1] // latency-payments: 3 phases, 1 fault, 2 series
	raw, doc := renderScenario(t, j)
	assertSelfContained(t, raw, doc)
	body := text(all(doc, tag("body"))[0])

	svgs := all(doc, tag("svg"))
	// The hidden defs, the timeline, one chart per series.
	require.Len(t, svgs, 1+1+len(j.Series))
	assert.Len(t, all(doc, tag("pattern")), 1, "the fault hatching is defined once")

	charts := all(doc, tag("figure"))
	require.Len(t, charts, len(j.Series))
	for i, fig := range charts {
		s := j.Series[i]
		t.Run(s.Name, func(t *testing.T) {
			assert.Contains(t, text(all(fig, tag("figcaption"))[0]), s.Name)
			// Phases shaded, each labelled.
			var phases []*html.Node
			for k := range 4 {
				phases = append(phases, all(fig, classed("rect", "phase"+string(rune('0'+k))))...)
			}
			assert.Len(t, phases, len(j.Phases))
			var labels []string
			for _, l := range all(fig, classed("text", "phase-label")) {
				labels = append(labels, text(l))
			}
			assert.Equal(t, []string{"baseline", "fault", "recovery"}, labels)
			// The fault window, shaded differently and labelled.
			faults := all(fig, classed("rect", "fault"))
			require.Len(t, faults, 1)
			assert.Contains(t, text(faults[0]), "orders->payments")
			assert.Contains(t, text(all(fig, classed("text", "fault-label"))[0]), "orders->payments")
			// The fault band lies inside the fault phase (applied at its
			// start, removed at its end: same x and width).
			assert.Equal(t, attr(phases[1], "x"), attr(faults[0], "x"))
			assert.Equal(t, attr(phases[1], "width"), attr(faults[0], "width"))
			// The line, the dashed objective, axes with ticks and units.
			paths := all(fig, classed("path", "series"))
			require.Len(t, paths, 1)
			assert.Regexp(t, `^M[\d.]+ [\d.]+(L[\d.]+ [\d.]+){70}$`, attr(paths[0], "d"))
			require.Len(t, all(fig, classed("line", "objective")), 1)
			has(t, raw, "stroke-dasharray: 6 4")
			var ticks []string
			for _, tx := range all(fig, func(n *html.Node) bool {
				return n.Data == "text" && attr(n, "text-anchor") == "end" && attr(n, "dx") == "-6"
			}) {
				ticks = append(ticks, text(tx))
			}
			require.NotEmpty(t, ticks)
			switch s.Unit {
			case "s":
				assert.Equal(t, []string{"0ms", "200ms", "400ms", "600ms", "800ms"}, ticks)
				assert.Equal(t, "objective 346ms", text(all(fig, classed("text", "objective-label"))[0]))
			case "ratio":
				assert.Equal(t, "0.00%", ticks[0])
				assert.Equal(t, "objective 1%", text(all(fig, classed("text", "objective-label"))[0]))
			}
			var xticks []string
			for _, tx := range all(fig, func(n *html.Node) bool { return n.Data == "text" && attr(n, "dy") == "16" }) {
				xticks = append(xticks, text(tx))
			}
			assert.Equal(t, []string{"0s", "10s", "20s", "30s", "40s", "50s", "1m", "1m10s"}, xticks)
		})
	}

	t.Run("timeline", func(t *testing.T) {
		tl := svgs[1]
		assert.Len(t, all(tl, classed("rect", "fault")), 1)
		var labels []string
		for _, l := range all(tl, classed("text", "tl-phase")) {
			labels = append(labels, text(l))
		}
		assert.Equal(t, []string{"baseline · 20s", "fault · 30s", "recovery · 20s"}, labels)
	})
	t.Run("header", func(t *testing.T) {
		h1 := all(doc, tag("h1"))[0]
		assert.Contains(t, text(h1), "latency-payments")
		badge := all(h1, classed("span", "badge"))[0]
		assert.True(t, hasClass(badge, "b-unexpected"))
		legend := text(all(doc, classed("div", "legend"))[0])
		assert.Equal(t, "seriesphasefault activeobjective", legend)
		has(t, body, "orders -payments-timeout=1s")
		has(t, body, "1m12s")
	})
	t.Run("checks and queries", func(t *testing.T) {
		details := all(doc, tag("details"))
		require.Len(t, details, 1, "one check has queries")
		assert.Contains(t, text(details[0]), "2 queries")
		assert.Contains(t, text(details[0]), `route="POST /v1/orders"}[30s]`)
		assert.Contains(t, text(details[0]), "t+51.0s")
		assert.Contains(t, text(details[0]), "0.6127")
		assert.Len(t, all(doc, classed("span", "b-fail")), 2, "the outcome in the header and the failed check")
		has(t, body, "recovered in 3s")
	})
	t.Run("faults and load", func(t *testing.T) {
		has(t, body, "latency 300ms ±50ms downstream")
		has(t, body, "t+21.0s")
		has(t, body, "612.7 ms")
		has(t, body, "2.00%")
	})
}

func TestScenarioHTMLExpectedFailure(t *testing.T) {
	raw, doc := renderScenario(t, sampleRun()[2])
	assertSelfContained(t, raw, doc)
	b := all(doc, classed("span", "b-expected-fail"))
	require.Len(t, b, 1)
	assert.Equal(t, "fail (expected)", text(b[0]))
	assert.Empty(t, all(doc, tag("figure")), "no series, no chart")
	assert.Empty(t, all(doc, classed("div", "legend")), "no chart, no legend")
	has(t, raw, "No load ran.")
}

// The report says of every check whether its outcome rests on data, and
// why a scenario that expected to fail but failed only without data is
// inconclusive.
func TestScenarioHTMLSaysWhatAFailureRestsOn(t *testing.T) {
	j := sampleRun()[2]
	j.Checks[0].OnData = false
	j.Checks[0].Detail = "fault: no series (empty result) → on_empty: fail"
	d := journal.Decide(j.Expect, j.Checks)
	j.Outcome, j.Verdict, j.VerdictReason = d.Outcome, d.Verdict, d.Reason
	raw, doc := renderScenario(t, j)
	assertSelfContained(t, raw, doc)
	assert.Empty(t, all(doc, classed("span", "b-expected-fail")), "a failure without data is no expected failure")
	body := text(all(doc, tag("body"))[0])
	has(t, body, "without data")
	has(t, body, "on data") // the invariant that passed on its records
	has(t, body, "Verdict: expected to fail, but no check failed on a measurement")
	assert.Len(t, all(doc, classed("span", "b-inconclusive")), 1, "the verdict")

	j = sampleRun()[1]
	j.Sensitivity = true
	j.Faults[0].NoOp = true
	raw, doc = renderScenario(t, j)
	assertSelfContained(t, raw, doc)
	body = text(all(doc, tag("body"))[0])
	has(t, body, "Sensitivity run: every fault of this scenario was replaced by a no-op")
	has(t, body, "no-op: not injected")
}

func TestScenarioHTMLEscapes(t *testing.T) {
	j := hostile()
	raw, doc := renderScenario(t, j)
	assertSelfContained(t, raw, doc)
	assert.Empty(t, all(doc, tag("style"))[1:], "only the report's own style sheet")
	assert.Empty(t, all(doc, tag("iframe")))
	// The hostile text is shown as text.
	assert.Contains(t, text(all(doc, tag("h1"))[0]), "<script>alert(1)</script>")
	assert.Contains(t, text(all(doc, tag("title"))[0]), "<script>alert(1)</script>")
	body := text(all(doc, tag("body"))[0])
	for _, s := range []string{j.Purpose, j.Checks[1].Detail, j.Checks[1].Queries[0].PromQL, j.Faults[0].Spec,
		j.Knobs[0].Value, j.Error, `</title><script>alert(8)</script>`, `<style>body{display:none}</style>`} {
		has(t, body, s)
	}
	// Every table row still has its cells: nothing broke out of a cell.
	for _, tr := range all(doc, tag("tr")) {
		assert.NotEmpty(t, all(tr, func(n *html.Node) bool { return n.Data == "td" || n.Data == "th" }))
	}
}

func TestScenarioHTMLDegenerate(t *testing.T) {
	t.Run("a missing sample breaks the line", func(t *testing.T) {
		j := sampleRun()[1]
		pts := slices.Clone(j.Series[0].Points)
		pts[30][1] = math.NaN()
		pts[31][1] = math.Inf(1)
		c := newChart(j, journal.Series{Name: "gap", Unit: "s", Points: pts})
		require.Len(t, c.Paths, 2)
		assert.True(t, strings.HasPrefix(c.Paths[1], "M"))
	})
	t.Run("a fault never removed lasts to the end", func(t *testing.T) {
		j := sampleRun()[1]
		j.Faults[0].Removed = time.Time{}
		j.Faults[0].RemoveError = "toxiproxy: connection refused"
		tl := newTimeline(j)
		require.Len(t, tl.Faults, 1)
		assert.InDelta(t, tl.X1, tl.Faults[0].X+tl.Faults[0].W, 0.01)
		raw, doc := renderScenario(t, j)
		assertSelfContained(t, raw, doc)
		body := text(all(doc, tag("body"))[0])
		has(t, body, "never")
		has(t, body, "Removing it failed: toxiproxy: connection refused")
	})
	t.Run("all zero", func(t *testing.T) {
		j := sampleRun()[0]
		s := series("errors", "ratio", 0, nil, func(float64) float64 { return 0 })
		c := newChart(j, s)
		require.NotEmpty(t, c.YTicks)
		assert.Equal(t, "0.00%", c.YTicks[0].Label)
		assert.Greater(t, c.YTicks[0].Pos, c.YTicks[len(c.YTicks)-1].Pos, "the axis goes up")
		assert.Nil(t, c.Objective)
	})
	t.Run("an empty journal", func(t *testing.T) {
		raw, doc := renderScenario(t, &journal.Journal{Scenario: "empty", Series: []journal.Series{{Name: "p99", Unit: "s"}}})
		assertSelfContained(t, raw, doc)
		has(t, raw, "No phase ran.")
		has(t, raw, "No check was evaluated.")
		has(t, raw, "no samples in this series")
		legend := text(all(doc, classed("div", "legend"))[0])
		assert.NotContains(t, legend, "fault")
		assert.NotContains(t, legend, "objective")
	})
}

func TestWriteSuite(t *testing.T) {
	runDir := t.TempDir()
	js := append(sampleRun(), hostile())
	for _, j := range js {
		require.NoError(t, WriteScenario(filepath.Join(runDir, j.Scenario), j))
	}
	require.NoError(t, WriteSuite(runDir, js))
	for _, f := range []string{"junit.xml", "index.html", "summary.json"} {
		assert.FileExists(t, filepath.Join(runDir, f))
	}

	t.Run("index", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(runDir, "index.html"))
		require.NoError(t, err)
		doc, err := html.Parse(bytes.NewReader(b))
		require.NoError(t, err)
		assertSelfContained(t, string(b), doc)
		rows := all(all(doc, tag("tbody"))[0], tag("tr"))
		require.Len(t, rows, len(js))
		for i, row := range rows {
			a := all(row, tag("a"))[0]
			assert.Equal(t, js[i].Scenario, text(a))
			// Every link leads to the scenario's report.
			href, err := url.PathUnescape(attr(a, "href"))
			require.NoError(t, err)
			assert.FileExists(t, filepath.Join(runDir, href))
			assert.Equal(t, filepath.Join(runDir, js[i].Scenario, "report.html"), filepath.Join(runDir, href))
		}
		problems := func(row *html.Node) []string {
			var out []string
			for _, d := range all(row, classed("div", "problem")) {
				out = append(out, text(d))
			}
			return out
		}
		assert.Equal(t, []string{"slo/p99 relative: p99 0.613s > 2 × baseline 0.048s + 0.25s = 0.346s"}, problems(rows[1]))
		assert.Empty(t, problems(rows[2]), "a failure as expected is not a problem")
		assert.Equal(t, []string{`error: starting k6: exec: "k6": executable file not found in $PATH`}, problems(rows[4]))
		assert.True(t, hasClass(all(all(doc, tag("h1"))[0], classed("span", "badge"))[0], "b-error"), "the run's verdict")
	})
	t.Run("summary.json", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(runDir, "summary.json"))
		require.NoError(t, err)
		var s suiteSummary
		require.NoError(t, json.Unmarshal(b, &s))
		assert.Equal(t, exitcode.Infra, s.ExitCode)
		assert.Equal(t, Counts{Scenarios: 6, AsExpected: 2, Unexpected: 1, Inconclusive: 1, Errors: 2}, s.Counts)
		require.Len(t, s.Scenarios, 6)
		assert.Equal(t, "latency-payments/report.html", s.Scenarios[1].Report)
		assert.Equal(t, []string{"slo/p99 relative"}, s.Scenarios[1].FailedChecks)
		assert.Equal(t, 72.0, s.Scenarios[1].DurationSec)
		assert.Equal(t, at(0), s.Started)
		assert.Equal(t, at(334), s.Finished)
	})
}

// TestSelfContainedCatches shows that assertSelfContained fails on what it
// looks for.
func TestSelfContainedCatches(t *testing.T) {
	for _, page := range []string{
		`<p>hi</p><script>alert(1)</script>`,
		`<link rel="stylesheet" href="/x.css">`,
		`<img src="x.png">`,
		`<p onclick="x()">hi</p>`,
		`<a href="javascript:alert(1)">x</a>`,
		`<p>see HTTPS://example.com</p>`,
	} {
		t.Run(page, func(t *testing.T) {
			doc, err := html.Parse(strings.NewReader(page))
			require.NoError(t, err)
			var rec recorder
			assertSelfContained(&rec, page, doc)
			assert.True(t, rec.failed)
		})
	}
}
