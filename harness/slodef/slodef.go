// Package slodef reads the lab's SLO definitions (slo/slos.yaml) and
// generates from them what every other part of the lab uses: the Prometheus
// recording rules and multi-window, multi-burn-rate alerts of the SRE
// workbook (in the shape Sloth and Pyrra generate), and the PromQL of each
// SLO's SLI, which scenario checks refer to by name.
//
// Lab runs last minutes, not months, so every window of the workbook is
// divided by the file's time_scale: with 60, one lab second stands for one
// minute, one lab minute for one hour, and the 30-day SLO period becomes
// 12 hours. See Windows.
package slodef

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/chaoslab/chaoslab/harness/promql"
)

// Set is the lab's SLO definitions, as read from one file.
type Set struct {
	// File is the path the set was loaded from.
	File string
	// TimeScale divides every window of the SRE workbook into lab time.
	TimeScale int
	// SLOs are sorted by name.
	SLOs []SLO
}

// SLO is one service level objective.
type SLO struct {
	// Name is unique in the set: 1–63 of a-z 0-9 -, starting with a letter.
	Name string
	// Description says what is measured, for people.
	Description string
	// Objective is the target share of good events, in (0, 1): 0.99.
	Objective float64
	// SLI says which events are good (or bad) among all.
	SLI SLI
}

// SLI is a ratio of events. Each of Good, Bad and Total is either a series
// selector of a counter (`metric{label="v"}`), summed and rated over the
// window, or a PromQL query with $window where the range goes that returns
// one value. Exactly one of Good and Bad is set.
type SLI struct {
	Good, Bad, Total string
}

// ErrorBudget is the share of events that may be bad: 1 - Objective,
// rounded to twelve significant digits (1 - 0.999 is 0.0010000000000000009).
func (s SLO) ErrorBudget() float64 {
	b, _ := strconv.ParseFloat(num(1-s.Objective), 64)
	return b
}

// Names returns the SLOs' names, sorted.
func (s *Set) Names() []string {
	names := make([]string, len(s.SLOs))
	for i, o := range s.SLOs {
		names[i] = o.Name
	}
	return names
}

// SLO returns the SLO named name.
func (s *Set) SLO(name string) (SLO, error) {
	for _, o := range s.SLOs {
		if o.Name == name {
			return o, nil
		}
	}
	return SLO{}, fmt.Errorf("unknown SLO %q; defined in %s: %s", name, s.File, strings.Join(s.Names(), ", "))
}

// Query returns the PromQL of the SLI of the SLO named name — the share of
// good events, from 0 to 1 — over window: a Prometheus duration ("5m"), or
// "$window", which is kept for the scenario runner to replace with a phase's
// length. The query returns one value: empty when the SLI's series do not
// exist, NaN when there were no events in the window.
func (s *Set) Query(name, window string) (string, error) {
	o, err := s.SLO(name)
	if err != nil {
		return "", err
	}
	if window != windowVar {
		d, err := model.ParseDuration(window)
		if err == nil && d <= 0 {
			err = errors.New("not positive")
		}
		if err != nil {
			return "", fmt.Errorf("window %q: want a Prometheus duration like 5m, or %s: %w", window, windowVar, err)
		}
	}
	return o.SLI.successRatio(window), nil
}

// EventRate returns the PromQL of the rate of the events the SLO named
// name counts (its SLI's total, good and bad alike) over window — a
// Prometheus duration or "$window" — per second: how much of the traffic
// it judges was answered at all.
func (s *Set) EventRate(name, window string) (string, error) {
	o, err := s.SLO(name)
	if err != nil {
		return "", err
	}
	return rated(o.SLI.Total, window), nil
}

// Resolve returns the PromQL of the SLI of the SLO named name with $window
// in it: Query(name, "$window"). It is what the scenario runner uses to
// resolve a check's `slo:`.
func (s *Set) Resolve(name string) (string, error) { return s.Query(name, windowVar) }

// windowVar is the placeholder for a check's window.
const windowVar = promql.WindowVar

// Window is one window of the SRE workbook's alerting on SLOs and its length
// in the lab.
type Window struct {
	// Workbook is the window as the workbook names it: "1h".
	Workbook string
	// Lab is Workbook divided by the time scale.
	Lab time.Duration
}

// Name is the lab window as a Prometheus duration ("1m", "1h12m"); it ends
// the recording rules' names: slo:sli_error:ratio_rate1m.
func (w Window) Name() string { return model.Duration(w.Lab).String() }

// String is "1h → 1m".
func (w Window) String() string { return w.Workbook + " → " + w.Name() }

// The SRE workbook's windows (chapter 5, "Alerting on SLOs") and its SLO
// period.
var (
	workbookWindows = []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d"}
	workbookPeriod  = "30d"
)

// burn is one pair of windows of a multi-window, multi-burn-rate alert: it
// fires when the error ratio is above factor × the error budget over both.
type burn struct {
	severity    string
	factor      string
	long, short string // workbook windows
}

// burns are the workbook's recommended pairs: page when 2% of a 30-day
// budget burns in an hour or 5% in six hours, ticket when 10% burns in a day
// or in three days.
var burns = []burn{
	{severityPage, "14.4", "1h", "5m"},
	{severityPage, "6", "6h", "30m"},
	{severityTicket, "3", "1d", "2h"},
	{severityTicket, "1", "3d", "6h"},
}

// Severities of the alerts.
const (
	severityPage   = "page"
	severityTicket = "ticket"
)

// Windows returns the workbook's windows and the SLO period (last) in lab
// time, shortest first.
func (s *Set) Windows() []Window { return labWindows(s.TimeScale) }

// PeriodWindow returns the SLO period in lab time: 30d / TimeScale.
func (s *Set) PeriodWindow() Window { ws := s.Windows(); return ws[len(ws)-1] }

// MinWindow is the shortest lab window a time scale may produce: rate()
// over it must see several scrapes at the lab's 1 s interval.
const MinWindow = 4 * time.Second

// labWindows divides the workbook's windows and period by scale (1 when
// scale is not positive).
func labWindows(scale int) []Window {
	scale = max(scale, 1)
	var out []Window
	for _, name := range append(slices.Clone(workbookWindows), workbookPeriod) {
		d, _ := model.ParseDuration(name) // constants, all valid
		out = append(out, Window{Workbook: name, Lab: time.Duration(d) / time.Duration(scale)})
	}
	return out
}

// checkTimeScale says what is wrong with a time scale, or nil.
func checkTimeScale(scale int) error {
	if scale < 1 {
		return fmt.Errorf("must be at least 1 (1: the workbook's own windows)")
	}
	for _, w := range labWindows(scale) {
		d, _ := model.ParseDuration(w.Workbook)
		if w.Lab*time.Duration(scale) != time.Duration(d) || w.Lab%time.Second != 0 {
			return fmt.Errorf("%s / %d is not a whole number of seconds: use a divisor of 300 (the 5m window in seconds)", w.Workbook, scale)
		}
		if w.Lab < MinWindow {
			return fmt.Errorf("%s / %d = %s is shorter than %s: rate() over it would see too few of the lab's 1 s scrapes; use at most %d",
				w.Workbook, scale, w.Lab, MinWindow, time.Duration(d)/MinWindow)
		}
	}
	return nil
}

// window returns the lab window of one of the workbook's windows.
func (s *Set) window(workbook string) Window {
	for _, w := range s.Windows() {
		if w.Workbook == workbook {
			return w
		}
	}
	return Window{Workbook: workbook}
}
