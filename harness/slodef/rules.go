package slodef

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// File names of the generated rule files, in the directory `chaoslab slo
// generate` writes (slo/rules).
const (
	RecordingFile = "slo-recording.yml"
	AlertFile     = "slo-alerts.yml"
)

// Names of the recording rules, per SLO (label slo).
const (
	// ErrorRatioRule is the share of bad events over a window; the lab
	// window's name ends it: slo:sli_error:ratio_rate5s.
	ErrorRatioRule = "slo:sli_error:ratio_rate"
	// ObjectiveRule is the objective, 0.99.
	ObjectiveRule = "slo:objective:ratio"
	// ErrorBudgetRule is the error budget, 1 - objective.
	ErrorBudgetRule = "slo:error_budget:ratio"
	// CurrentBurnRateRule is the error ratio over the shortest window
	// divided by the error budget.
	CurrentBurnRateRule = "slo:current_burn_rate:ratio"
	// PeriodBurnRateRule is the error ratio over the SLO period divided by
	// the error budget.
	PeriodBurnRateRule = "slo:period_burn_rate:ratio"
	// PeriodBudgetRemainingRule is the share of the period's error budget
	// left: 1 - the period burn rate.
	PeriodBudgetRemainingRule = "slo:period_error_budget_remaining:ratio"
	// AlertName is the name of every burn-rate alert; labels slo and
	// severity (page or ticket) tell them apart.
	AlertName = "ErrorBudgetBurn"
)

// Files returns the generated rule files by name: RecordingFile and
// AlertFile.
func (s *Set) Files() (map[string][]byte, error) {
	rec, err := s.RecordingRules()
	if err != nil {
		return nil, err
	}
	alerts, err := s.AlertRules()
	if err != nil {
		return nil, err
	}
	return map[string][]byte{RecordingFile: rec, AlertFile: alerts}, nil
}

// RecordingRules returns a Prometheus rule file with one group per SLO:
// its error ratio over every lab window (slo:sli_error:ratio_rate<window>),
// its objective and error budget, and its burn rates and remaining budget.
func (s *Set) RecordingRules() ([]byte, error) {
	var f ruleFile
	ws := s.Windows()
	for _, o := range s.sorted() {
		g := ruleGroup{Name: "slo-" + o.Name}
		labels := map[string]string{"slo": o.Name}
		for _, w := range ws {
			g.Rules = append(g.Rules, rule{Record: ErrorRatioRule + w.Name(), Expr: o.SLI.errorRatio(w.Name()), Labels: labels})
		}
		budget := num(o.ErrorBudget())
		sel := fmt.Sprintf("{slo=%q}", o.Name)
		g.Rules = append(g.Rules,
			rule{Record: ObjectiveRule, Expr: "vector(" + num(o.Objective) + ")", Labels: labels},
			rule{Record: ErrorBudgetRule, Expr: "vector(" + budget + ")", Labels: labels},
			rule{Record: CurrentBurnRateRule, Expr: ErrorRatioRule + ws[0].Name() + sel + " / " + budget, Labels: labels},
			rule{Record: PeriodBurnRateRule, Expr: ErrorRatioRule + s.PeriodWindow().Name() + sel + " / " + budget, Labels: labels},
			rule{Record: PeriodBudgetRemainingRule, Expr: "1 - " + PeriodBurnRateRule + sel, Labels: labels},
		)
		f.Groups = append(f.Groups, g)
	}
	return s.marshal(f, "recording rules: each SLO's error ratio over the lab windows, objective, budget and burn rates")
}

// AlertRules returns a Prometheus rule file with the multi-window,
// multi-burn-rate alerts of every SLO: severity page when the error ratio
// is above 14.4 × the budget over 1h and 5m or 6 × over 6h and 30m, ticket
// when above 3 × over 1d and 2h or 1 × over 3d and 6h — workbook windows,
// divided by the time scale.
func (s *Set) AlertRules() ([]byte, error) {
	g := ruleGroup{Name: "slo-alerts"}
	for _, o := range s.sorted() {
		for _, sev := range []string{severityPage, severityTicket} {
			var terms, conds []string
			for _, b := range burns {
				if b.severity != sev {
					continue
				}
				long, short := s.window(b.long), s.window(b.short)
				bound := fmt.Sprintf("(%s * %s)", b.factor, num(o.ErrorBudget()))
				terms = append(terms, fmt.Sprintf("(\n  %s%s{slo=%q} > %s\n  and\n  %s%s{slo=%q} > %s\n)",
					ErrorRatioRule, long.Name(), o.Name, bound, ErrorRatioRule, short.Name(), o.Name, bound))
				conds = append(conds, fmt.Sprintf("above %s × the budget over both %s and %s (the workbook's %s and %s)",
					b.factor, long.Name(), short.Name(), b.long, b.short))
			}
			speed := "fast"
			if sev == severityTicket {
				speed = "slowly"
			}
			g.Rules = append(g.Rules, rule{
				Alert:  AlertName,
				Expr:   strings.Join(terms, "\nor\n"),
				Labels: map[string]string{"slo": o.Name, "severity": sev},
				Annotations: map[string]string{
					"summary": fmt.Sprintf("%s is burning its error budget %s", o.Name, speed),
					"description": fmt.Sprintf("Objective %s%%, error budget %s: the error ratio is %s. What %s measures: %s.",
						num(100*o.Objective), num(o.ErrorBudget()), strings.Join(conds, ", or "), o.Name, filepath.ToSlash(s.File)),
				},
			})
		}
	}
	return s.marshal(ruleFile{Groups: []ruleGroup{g}}, "multi-window, multi-burn-rate alerts of each SLO (SRE workbook, chapter 5)")
}

// sorted returns the SLOs sorted by name (Load sorts them; a Set built by
// hand may not be).
func (s *Set) sorted() []SLO {
	return slices.SortedFunc(slices.Values(s.SLOs), func(a, b SLO) int { return strings.Compare(a.Name, b.Name) })
}

// ruleFile is a Prometheus rule file.
type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

// ruleGroup is a group of rules, evaluated in order.
type ruleGroup struct {
	Name  string `yaml:"name"`
	Rules []rule `yaml:"rules"`
}

// rule is a recording rule (Record) or an alerting rule (Alert).
type rule struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// marshal writes f as YAML under a header that says where it comes from
// and how lab windows relate to the workbook's.
func (s *Set) marshal(f ruleFile, what string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Code generated by `chaoslab slo generate` from %s. DO NOT EDIT.\n", filepath.ToSlash(s.File))
	fmt.Fprintf(&b, "# The %s.\n", what)
	fmt.Fprintf(&b, "# Lab windows are the SRE workbook's divided by the time scale, %d:\n#  ", s.TimeScale)
	for _, w := range s.Windows() {
		fmt.Fprintf(&b, " %s", w)
		if w != s.PeriodWindow() {
			b.WriteString(",")
		}
	}
	b.WriteString(" (the SLO period).\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("writing rules: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("writing rules: %w", err)
	}
	return b.Bytes(), nil
}

// rated is an SLI part over window: a selector summed and rated, or a
// query with $window replaced.
func rated(e, window string) string {
	if strings.Contains(e, windowVar) {
		return "(" + strings.ReplaceAll(e, windowVar, window) + ")"
	}
	return fmt.Sprintf("sum(rate(%s[%s]))", e, window)
}

// parts returns the numerator (good or bad events, 0 when none of their
// series exist yet: a service that never failed has no error series) and
// the denominator of the SLI over window.
func (s SLI) parts(window string) (num, total string) {
	e := s.Good
	if e == "" {
		e = s.Bad
	}
	return "(" + rated(e, window) + " or vector(0))", rated(s.Total, window)
}

// successRatio is the share of good events over window, on one line.
func (s SLI) successRatio(window string) string {
	n, t := s.parts(window)
	if s.Good != "" {
		return n + " / " + t
	}
	return "1 - (" + n + " / " + t + ")"
}

// errorRatio is the share of bad events over window, laid out on lines
// for a rule file.
func (s SLI) errorRatio(window string) string {
	n, t := s.parts(window)
	if s.Good != "" {
		return "1 - (\n  " + n + "\n  /\n  " + t + "\n)"
	}
	return n + "\n/\n" + t
}
