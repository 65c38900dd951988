package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/harness/journal"
)

// The plots are drawn here as plain numbers and strings and rendered by
// html/template into inline SVG, so everything in them is escaped.

// Geometry of the SVG drawings, in viewBox units.
const (
	plotWidth   = 960.0
	chartHeight = 260.0
	marginLeft  = 72.0
	marginRight = 16.0
	chartTop    = 30.0 // room for the phase labels
	chartBottom = 34.0 // room for the time axis
	laneHeight  = 22.0 // one row of the timeline
)

// tick is one labelled mark on an axis.
type tick struct {
	Pos   float64
	Label string
}

// band is a shaded time window.
type band struct {
	X, Y, W, H float64
	Label      string
	// LabelX, LabelY place the label.
	LabelX, LabelY float64
	Class          string
	Title          string
}

// hline is a horizontal marker line.
type hline struct {
	Y     float64
	Label string
}

// chart is one time-series plot.
type chart struct {
	Title, Unit string
	W, H        float64
	// Plot area.
	X0, Y0, X1, Y1 float64
	XTicks, YTicks []tick
	Phases         []band
	Faults         []band
	Paths          []string
	Objective      *hline
	// Empty says the series had no finite point.
	Empty bool
	// Last, Min, Max are formatted with the series' unit.
	Min, Max, Last string
}

// timeline is the Gantt drawing of the phases and faults.
type timeline struct {
	W, H           float64
	X0, X1         float64
	AxisY          float64
	XTicks         []tick
	Phases, Faults []band
}

// timeScale maps unix seconds to x.
type timeScale struct {
	t0, t1, x0, x1 float64
}

func (s timeScale) x(t float64) float64 {
	if s.t1 <= s.t0 {
		return s.x0
	}
	x := s.x0 + (t-s.t0)/(s.t1-s.t0)*(s.x1-s.x0)
	return math.Max(s.x0, math.Min(s.x1, x))
}

func (s timeScale) ticks() []tick {
	span := s.t1 - s.t0
	if span <= 0 {
		return []tick{{Pos: s.x0, Label: "0s"}}
	}
	step := timeStep(span)
	var out []tick
	for t := 0.0; t <= span+1e-9; t += step {
		out = append(out, tick{Pos: s.x(s.t0 + t), Label: offsetLabel(t)})
	}
	return out
}

// timeStep picks a step giving about six ticks over span seconds.
func timeStep(span float64) float64 {
	for _, s := range []float64{1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600} {
		if span/s <= 8 {
			return s
		}
	}
	return niceStep(span / 6)
}

// offsetLabel formats seconds since the start: "0s", "45s", "1m30s".
func offsetLabel(sec float64) string {
	d := time.Duration(math.Round(sec)) * time.Second
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	m, s := int(d.Minutes()), int(d.Seconds())%60
	if s == 0 {
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dm%02ds", m, s)
}

// niceStep rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// span is the time range a journal's drawings cover, in unix seconds.
func span(j *journal.Journal) (t0, t1 float64) {
	t0, t1 = math.Inf(1), math.Inf(-1)
	see := func(t time.Time) {
		if t.IsZero() {
			return
		}
		u := unix(t)
		t0, t1 = math.Min(t0, u), math.Max(t1, u)
	}
	see(j.Started)
	see(j.Finished)
	for _, p := range j.Phases {
		see(p.Start)
		see(p.End)
	}
	if math.IsInf(t0, 0) {
		// Nothing timed: fall back on the samples.
		for _, s := range j.Series {
			for _, p := range s.Points {
				t0, t1 = math.Min(t0, p[0]), math.Max(t1, p[0])
			}
		}
	}
	if math.IsInf(t0, 0) {
		return 0, 0
	}
	return t0, t1
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// faultEnd is when a fault stopped acting: its removal, or the end of the
// run if it was never removed.
func faultEnd(f journal.Fault, t1 float64) float64 {
	if f.Removed.IsZero() {
		return t1
	}
	return unix(f.Removed)
}

// faultLabel names a fault in the drawings.
func faultLabel(f journal.Fault) string {
	parts := []string{}
	for _, p := range []string{f.Kind, f.Target} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	label := strings.Join(parts, " ")
	if f.Spec != "" {
		label += ": " + f.Spec
	}
	return label
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// fitLabel clips a label to the width (in viewBox units) it may take.
func fitLabel(s string, width float64) string {
	n := int(width / 6.2) // ~ width of a character at 11px
	if n < 2 {
		return ""
	}
	return clip(s, n)
}

// newTimeline draws the phases (top lane) and faults (one lane each).
func newTimeline(j *journal.Journal) timeline {
	t0, t1 := span(j)
	sc := timeScale{t0: t0, t1: t1, x0: marginLeft, x1: plotWidth - marginRight}
	tl := timeline{W: plotWidth, X0: sc.x0, X1: sc.x1}
	y := 8.0
	for i, p := range j.Phases {
		x0, x1 := sc.x(unix(p.Start)), sc.x(unix(p.End))
		w := math.Max(x1-x0, 1)
		d := p.End.Sub(p.Start)
		tl.Phases = append(tl.Phases, band{
			X: x0, Y: y, W: w, H: laneHeight,
			Label:  fitLabel(p.Name+" · "+roundDuration(d).String(), w-8),
			LabelX: x0 + 6, LabelY: y + laneHeight/2 + 4,
			Class: fmt.Sprintf("phase%d", i%4),
			Title: fmt.Sprintf("%s: %s → %s (%s)", p.Name, offsetLabel(unix(p.Start)-t0), offsetLabel(unix(p.End)-t0), roundDuration(d)),
		})
	}
	y += laneHeight + 6
	for _, f := range j.Faults {
		x0, x1 := sc.x(unix(f.Applied)), sc.x(faultEnd(f, t1))
		w := math.Max(x1-x0, 2)
		label := faultLabel(f)
		b := band{X: x0, Y: y, W: w, H: laneHeight - 4, Class: "fault", LabelY: y + laneHeight/2 + 2,
			Title: fmt.Sprintf("%s (%s → %s)", label, offsetLabel(unix(f.Applied)-t0), removedLabel(f, t0))}
		// The label goes inside the bar if it fits, else next to it on the
		// side with more room.
		switch {
		case w >= 120:
			b.LabelX, b.Label = x0+6, fitLabel(label, w-10)
		case sc.x1-x1 >= x0-sc.x0:
			b.LabelX, b.Label = x1+6, fitLabel(label, sc.x1-x1-8)
			b.Class = "fault outside"
		default:
			b.Label = fitLabel(label, x0-sc.x0-8)
			b.LabelX = x0 - 6 - float64(len([]rune(b.Label)))*6.2
			b.Class = "fault outside"
		}
		tl.Faults = append(tl.Faults, b)
		y += laneHeight
	}
	tl.AxisY = y + 4
	tl.XTicks = sc.ticks()
	tl.H = tl.AxisY + 24
	return tl
}

func removedLabel(f journal.Fault, t0 float64) string {
	if f.Removed.IsZero() {
		return "never removed"
	}
	return offsetLabel(unix(f.Removed) - t0)
}

// newChart draws one series over the run, with the phases and faults
// shaded and the objective (if any) as a dashed line.
func newChart(j *journal.Journal, s journal.Series) chart {
	t0, t1 := span(j)
	c := chart{
		Title: s.Name, Unit: s.Unit, W: plotWidth, H: chartHeight,
		X0: marginLeft, X1: plotWidth - marginRight, Y0: chartTop, Y1: chartHeight - chartBottom,
	}
	sc := timeScale{t0: t0, t1: t1, x0: c.X0, x1: c.X1}

	// Value range: from 0 (or the lowest value) to the highest value or
	// the objective, with some headroom.
	lo, hi := 0.0, math.Inf(-1)
	var last float64
	finite := 0
	for _, p := range s.Points {
		if !isFinite(p[1]) {
			continue
		}
		finite++
		lo, hi = math.Min(lo, p[1]), math.Max(hi, p[1])
		last = p[1]
	}
	if finite == 0 {
		c.Empty = true
		hi = 0
	} else {
		mn := math.Inf(1)
		for _, p := range s.Points {
			if isFinite(p[1]) {
				mn = math.Min(mn, p[1])
			}
		}
		c.Min, c.Max, c.Last = formatValue(mn, s.Unit, 0), formatValue(hi, s.Unit, 0), formatValue(last, s.Unit, 0)
	}
	if s.Objective != nil && isFinite(*s.Objective) {
		hi = math.Max(hi, *s.Objective)
		lo = math.Min(lo, *s.Objective)
	}
	if hi <= lo {
		hi = lo + defaultTop(s.Unit)
	}
	step := niceStep((hi - lo) * 1.08 / 5)
	lo = math.Floor(lo/step) * step
	top := math.Ceil(hi*1.08/step) * step
	y := func(v float64) float64 { return c.Y1 - (v-lo)/(top-lo)*(c.Y1-c.Y0) }
	for v := lo; v <= top+step/1e6; v += step {
		c.YTicks = append(c.YTicks, tick{Pos: y(v), Label: formatValue(v, s.Unit, step)})
	}
	c.XTicks = sc.ticks()

	for i, p := range j.Phases {
		x0, x1 := sc.x(unix(p.Start)), sc.x(unix(p.End))
		w := math.Max(x1-x0, 0)
		c.Phases = append(c.Phases, band{
			X: x0, Y: c.Y0, W: w, H: c.Y1 - c.Y0,
			Label: fitLabel(p.Name, w-4), LabelX: x0 + w/2, LabelY: c.Y0 - 8,
			Class: fmt.Sprintf("phase%d", i%4), Title: p.Name,
		})
	}
	for i, f := range j.Faults {
		x0, x1 := sc.x(unix(f.Applied)), sc.x(faultEnd(f, t1))
		w := math.Max(x1-x0, 2)
		c.Faults = append(c.Faults, band{
			X: x0, Y: c.Y0, W: w, H: c.Y1 - c.Y0,
			Label:  fitLabel("⚡ "+f.Target, math.Max(w-6, 90)),
			LabelX: x0 + 4, LabelY: c.Y0 + 14 + float64(i%3)*14,
			Class: "fault", Title: faultLabel(f),
		})
	}
	if s.Objective != nil && isFinite(*s.Objective) {
		c.Objective = &hline{Y: y(*s.Objective), Label: "objective " + formatValue(*s.Objective, s.Unit, 0)}
	}

	// The line, broken where a sample is missing (NaN or ±Inf).
	var b strings.Builder
	pen := false
	for _, p := range s.Points {
		if !isFinite(p[1]) || !isFinite(p[0]) {
			if b.Len() > 0 {
				c.Paths = append(c.Paths, b.String())
				b.Reset()
			}
			pen = false
			continue
		}
		cmd := "L"
		if !pen {
			cmd, pen = "M", true
		}
		fmt.Fprintf(&b, "%s%.1f %.1f", cmd, sc.x(p[0]), y(p[1]))
	}
	if b.Len() > 0 {
		c.Paths = append(c.Paths, b.String())
	}
	return c
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// defaultTop is the top of an axis whose values are all zero.
func defaultTop(unit string) float64 {
	switch unit {
	case "s":
		return 0.1
	case "ratio":
		return 0.01
	}
	return 1
}

// formatValue formats v in unit: seconds as ms or s, ratios as percent.
// step, when set, is the axis step that decides the precision.
func formatValue(v float64, unit string, step float64) string {
	switch unit {
	case "s":
		if math.Abs(v) < 1 && (step == 0 || step < 1) {
			return trimFloat(v*1000, decimals(step*1000)) + "ms"
		}
		return trimFloat(v, decimals(step)) + "s"
	case "ratio":
		return trimFloat(v*100, decimals(step*100)) + "%"
	case "":
		return trimFloat(v, decimals(step))
	}
	return trimFloat(v, decimals(step)) + " " + unit
}

// decimals is how many decimals show a multiple of step exactly (at most
// 3); for step 0, a value is shown with up to 3 significant decimals.
func decimals(step float64) int {
	if step <= 0 {
		return -1
	}
	for d := 0; d < 3; d++ {
		scaled := step * math.Pow(10, float64(d))
		if math.Abs(scaled-math.Round(scaled)) < 1e-6 {
			return d
		}
	}
	return 3
}

// trimFloat formats v with d decimals (d < 0: three significant digits).
func trimFloat(v float64, d int) string {
	if d < 0 {
		if math.Abs(v) >= 100 {
			return strconv.FormatFloat(v, 'f', 0, 64)
		}
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', d, 64)
}
