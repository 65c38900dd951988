package load

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
)

// summary is what Run reads from k6's --summary-export file.
type summary struct {
	requests, failed, dropped int64
	p50, p95, p99             float64
	phases                    []PhaseLoad
	checks                    []Check
	thresholds                []Threshold
}

// summaryExport is the JSON of k6's --summary-export (v1.x, "legacy"
// layout): metrics by name, submetrics as "name{tag:value}". A Rate's
// "passes" counts its non-zero samples: for http_req_failed, the failed
// requests. A threshold maps to true when it was crossed.
type summaryExport struct {
	RootGroup struct {
		Checks map[string]struct {
			Name   string `json:"name"`
			Passes int64  `json:"passes"`
			Fails  int64  `json:"fails"`
		} `json:"checks"`
	} `json:"root_group"`
	Metrics map[string]struct {
		Count      *float64        `json:"count"`
		Passes     *float64        `json:"passes"`
		Med        *float64        `json:"med"`
		P50        *float64        `json:"p(50)"`
		P95        *float64        `json:"p(95)"`
		P99        *float64        `json:"p(99)"`
		Max        *float64        `json:"max"`
		Thresholds map[string]bool `json:"thresholds"`
	} `json:"metrics"`
}

// phaseSubmetric matches a per-phase submetric: "http_reqs{phase:fault}".
var phaseSubmetric = regexp.MustCompile(`^(http_reqs|http_req_failed|http_req_duration)\{phase:([^,}]+)\}$`)

func readSummaryFile(path string) (summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return summary{}, fmt.Errorf("reading k6 summary: %w", err)
	}
	defer f.Close()
	s, err := parseSummary(f)
	if err != nil {
		return summary{}, fmt.Errorf("reading k6 summary %s: %w", path, err)
	}
	return s, nil
}

// parseSummary reads k6's --summary-export JSON.
func parseSummary(r io.Reader) (summary, error) {
	var ex summaryExport
	if err := json.NewDecoder(r).Decode(&ex); err != nil {
		return summary{}, err
	}
	if ex.Metrics == nil {
		return summary{}, fmt.Errorf("no metrics in the summary")
	}
	var s summary
	m := ex.Metrics
	s.requests = int64(val(m["http_reqs"].Count))
	s.failed = int64(val(m["http_req_failed"].Passes))
	s.dropped = int64(val(m["dropped_iterations"].Count))
	d := m["http_req_duration"]
	s.p50, s.p95, s.p99 = val(first(d.P50, d.Med)), val(d.P95), val(d.P99)

	byPhase := map[string]*PhaseLoad{}
	var order []string
	for _, name := range slices.Sorted(maps.Keys(m)) {
		met := m[name]
		for expr, crossed := range met.Thresholds {
			s.thresholds = append(s.thresholds, Threshold{Metric: name, Expr: expr, Failed: crossed})
		}
		sub := phaseSubmetric.FindStringSubmatch(name)
		if sub == nil {
			continue
		}
		p, ok := byPhase[sub[2]]
		if !ok {
			p = &PhaseLoad{Name: sub[2]}
			byPhase[sub[2]] = p
			order = append(order, sub[2])
		}
		switch sub[1] {
		case "http_reqs":
			p.Requests = int64(val(met.Count))
		case "http_req_failed":
			p.Failed = int64(val(met.Passes))
		case "http_req_duration":
			p.P50ms, p.P95ms, p.P99ms, p.Maxms = val(first(met.P50, met.Med)), val(met.P95), val(met.P99), val(met.Max)
		}
	}
	for _, name := range order {
		s.phases = append(s.phases, *byPhase[name])
	}
	slices.SortFunc(s.thresholds, func(a, b Threshold) int {
		return strings.Compare(a.Metric+" "+a.Expr, b.Metric+" "+b.Expr)
	})
	for _, name := range slices.Sorted(maps.Keys(ex.RootGroup.Checks)) {
		c := ex.RootGroup.Checks[name]
		s.checks = append(s.checks, Check{Name: c.Name, Passes: c.Passes, Fails: c.Fails})
	}
	return s, nil
}

// orderPhases puts phases in the timeline's order; phases k6 never saw
// get a zero PhaseLoad.
func orderPhases(got []PhaseLoad, names []string) []PhaseLoad {
	out := make([]PhaseLoad, 0, len(names))
	for _, n := range names {
		p := PhaseLoad{Name: n}
		for _, g := range got {
			if g.Name == n {
				p = g
			}
		}
		out = append(out, p)
	}
	return out
}

func val(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func first(ps ...*float64) *float64 {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}
