package dashboards

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/chaoslab/chaoslab/harness/diag"
	"github.com/chaoslab/chaoslab/harness/faultwindows"
)

// MinSchemaVersion is the oldest dashboard schema accepted: Grafana 11's
// (39). Older schemas get migrated on load, which rewrites the JSON.
const MinSchemaVersion = 39

// FaultMetric is the gauge the harness exposes while a fault it injected is
// in place: chaoslab_fault_active{run_id,scenario,phase,kind,target,fault}.
// Every dashboard with time series shades those windows with an annotation
// on it.
const FaultMetric = faultwindows.MetricName

// FaultTag is the tag of the region annotations the harness writes through
// Grafana's API while a fault is in place. Every
// dashboard with time series shows them with an annotation of Grafana's own
// store filtered by it.
const FaultTag = faultwindows.Tag

// faultTagKeys are the labels of FaultMetric the fault annotation turns
// into tags.
var faultTagKeys = []string{"scenario", "kind", "target"}

// grafanaDatasourceUID is Grafana's own annotation store.
const grafanaDatasourceUID = "-- Grafana --"

// panelTypes are the panel types Grafana 11+ renders natively (Angular
// panels such as "graph" and "singlestat" are gone).
var panelTypes = []string{
	"alertlist", "annolist", "barchart", "bargauge", "candlestick", "canvas", "dashlist", "flamegraph", "gauge",
	"geomap", "heatmap", "histogram", "logs", "news", "nodeGraph", "piechart", "row", "stat", "state-timeline",
	"status-history", "table", "text", "timeseries", "traces", "trend", "xychart",
}

// timePanelTypes draw values over time: their dashboards need the fault
// annotation.
var timePanelTypes = []string{"timeseries", "state-timeline", "status-history", "heatmap"}

var variableTypes = []string{"adhoc", "constant", "custom", "datasource", "interval", "query", "textbox"}

var (
	uidRE          = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,40}$`)
	variableNameRE = regexp.MustCompile(`^\w+$`)
	faultMetricRE  = regexp.MustCompile(`(^|[^a-zA-Z0-9_:])` + FaultMetric + `($|[^a-zA-Z0-9_:])`)
	// rateCallRE finds the calls whose range must be $__rate_interval.
	rateCallRE = regexp.MustCompile(`(^|[^a-zA-Z0-9_:])(i?rate)\s*\(`)
)

// Validate checks dashboards against the datasources Grafana provisions
// and returns every problem found as a *diag.ValidationError ("file: JSON
// path: what is wrong"), or nil:
//   - uids: set, Grafana's form, unique; titles set and unique (one
//     folder); id null; schemaVersion at least MinSchemaVersion;
//   - panels (rows' panels too): a known type, a unique non-zero id, a
//     grid position inside the 24 columns that overlaps no other panel, a
//     title and a query, a datasource referred to by a provisioned uid (and
//     its type);
//   - template variables: named once, a known type, a provisioned
//     datasource and a query Queries can run; every $variable a query uses
//     is defined, and a multi-value or query variable (a regex in PromQL)
//     is only used inside a regex matcher (=~, !~);
//   - queries: rate() and irate() take [$__rate_interval], which spans at
//     least four scrapes and follows the step, never a fixed range;
//   - annotations: a provisioned datasource; a dashboard with time series
//     shows the fault windows twice over: the annotation on FaultMetric
//     (enabled, titled by the fault label, tagged by scenario, kind and
//     target) and the one of Grafana's own store filtered by FaultTag
//     (enabled), which shows the regions the harness writes through
//     Grafana's API.
func Validate(dashboards []*Dashboard, sources []Datasource) error {
	v := validator{sources: sources, uids: map[string]string{}, titles: map[string]string{}}
	for _, d := range dashboards {
		v.dashboard(d)
	}
	if len(v.problems) == 0 {
		return nil
	}
	return &diag.ValidationError{Problems: v.problems}
}

type validator struct {
	sources  []Datasource
	uids     map[string]string // uid → file
	titles   map[string]string // title → file
	problems []diag.Problem
	file     string
}

func (v *validator) add(field, format string, args ...any) {
	v.problems = append(v.problems, diag.Problem{File: v.file, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) dashboard(d *Dashboard) {
	v.file = d.File
	if d.ID != nil && *d.ID != 0 {
		v.add("id", "is %d: set it to null, Grafana assigns it (the uid is the stable key)", *d.ID)
	}
	switch {
	case d.UID == "":
		v.add("uid", "is empty: set a stable uid, dashboards' links and URLs use it")
	case !uidRE.MatchString(d.UID):
		v.add("uid", "%q is not a Grafana uid: at most 40 of a-z A-Z 0-9 - _", d.UID)
	case v.uids[d.UID] != "":
		v.add("uid", "%q is also the uid of %s", d.UID, v.uids[d.UID])
	default:
		v.uids[d.UID] = d.File
	}
	switch {
	case strings.TrimSpace(d.Title) == "":
		v.add("title", "is empty")
	case v.titles[d.Title] != "":
		v.add("title", "%q is also the title of %s: Grafana refuses two dashboards with one title in a folder", d.Title, v.titles[d.Title])
	default:
		v.titles[d.Title] = d.File
	}
	if d.SchemaVersion < MinSchemaVersion {
		v.add("schemaVersion", "is %d: want %d or more (Grafana 11+); an older schema is migrated, and rewritten, on load", d.SchemaVersion, MinSchemaVersion)
	}
	v.variables(d)
	v.panels(d)
	v.annotations(d)
}

func (v *validator) panels(d *Dashboard) {
	ids := map[int]string{}
	top := make([]placed, 0, len(d.Panels))
	for i := range d.Panels {
		p := &d.Panels[i]
		path := fmt.Sprintf("panels[%d]", i)
		v.panel(d, path, p, ids)
		top = append(top, placed{path, p.GridPos})
		if p.Type != "row" {
			if len(p.Panels) > 0 {
				v.add(path+".panels", "only a row holds panels")
			}
			continue
		}
		if len(p.Panels) > 0 && !p.Collapsed {
			v.add(path+".panels", "an expanded row holds no panels (they follow it at the top level): set collapsed to true or move them out")
		}
		nested := make([]placed, 0, len(p.Panels))
		for j := range p.Panels {
			np := &p.Panels[j]
			npath := fmt.Sprintf("%s.panels[%d]", path, j)
			v.panel(d, npath, np, ids)
			if np.Type == "row" {
				v.add(npath+".type", "a row cannot hold a row")
			}
			nested = append(nested, placed{npath, np.GridPos})
		}
		v.overlaps(nested)
	}
	v.overlaps(top)
}

type placed struct {
	path string
	pos  GridPos
}

func (v *validator) overlaps(ps []placed) {
	for i, a := range ps {
		for _, b := range ps[:i] {
			if a.pos.X < b.pos.X+b.pos.W && b.pos.X < a.pos.X+a.pos.W && a.pos.Y < b.pos.Y+b.pos.H && b.pos.Y < a.pos.Y+a.pos.H {
				v.add(a.path+".gridPos", "%+v overlaps %s (%+v)", a.pos, b.path, b.pos)
			}
		}
	}
}

func (v *validator) panel(d *Dashboard, path string, p *Panel, ids map[int]string) {
	switch {
	case p.Type == "":
		v.add(path+".type", "is empty")
	case !slices.Contains(panelTypes, p.Type):
		v.problems = append(v.problems, diag.Problem{File: v.file, Field: path + ".type",
			Msg: fmt.Sprintf("%q is not a panel type Grafana 11+ renders (Angular panels are gone)", p.Type), Allowed: panelTypes})
	}
	switch {
	case p.ID <= 0:
		v.add(path+".id", "is missing: give every panel a unique positive id")
	case ids[p.ID] != "":
		v.add(path+".id", "%d is also the id of %s", p.ID, ids[p.ID])
	default:
		ids[p.ID] = path
	}
	g := p.GridPos
	if g.W < 1 || g.W > 24 || g.H < 1 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
		v.add(path+".gridPos", "%+v is not on the grid: 1 ≤ w, x + w ≤ 24, 1 ≤ h, x and y ≥ 0", g)
	}
	if p.Type == "row" || p.Type == "text" {
		if len(p.Targets) > 0 {
			v.add(path+".targets", "a %s runs no query", p.Type)
		}
		return
	}
	if strings.TrimSpace(p.Title) == "" {
		v.add(path+".title", "is empty: say what the panel shows")
	}
	if p.Repeat != "" {
		if _, ok := d.Variable(p.Repeat); !ok {
			v.add(path+".repeat", "$%s is not a template variable of the dashboard", p.Repeat)
		}
	}
	if len(p.Targets) == 0 {
		v.add(path+".targets", "the panel has no query")
		return
	}
	if p.Datasource == nil {
		v.add(path+".datasource", "is not set: Grafana would use whatever its default is; set {\"type\", \"uid\"}")
	} else {
		v.datasource(path+".datasource", p.Datasource, false)
	}
	refIDs := map[string]bool{}
	for j, t := range p.Targets {
		tpath := fmt.Sprintf("%s.targets[%d]", path, j)
		switch {
		case t.RefID == "":
			v.add(tpath+".refId", "is empty")
		case refIDs[t.RefID]:
			v.add(tpath+".refId", "%q is used twice in the panel", t.RefID)
		}
		refIDs[t.RefID] = true
		if t.Datasource != nil {
			v.datasource(tpath+".datasource", t.Datasource, false)
		}
		if t.Hide {
			v.add(tpath+".hide", "a hidden query is never run: remove it")
		}
		if isPrometheus(targetDatasource(p, t)) {
			if strings.TrimSpace(t.Expr) == "" {
				v.add(tpath+".expr", "is empty")
			}
			v.uses(d, tpath+".expr", t.Expr)
			v.rateRanges(tpath+".expr", t.Expr)
			if _, err := parseStep(t.Interval); err != nil {
				v.add(tpath+".interval", "%q is not a duration: %v", t.Interval, err)
			}
		}
	}
}

// datasource checks a reference against the provisioned datasources;
// grafana allows Grafana's own annotation store.
func (v *validator) datasource(path string, r *DatasourceRef, grafana bool) {
	uids := make([]string, 0, len(v.sources))
	for _, s := range v.sources {
		uids = append(uids, s.UID)
	}
	known := strings.Join(uids, ", ")
	if r.Name != "" {
		v.add(path, "is the name %q: refer to a datasource by {\"type\", \"uid\"}, one of %s", r.Name, known)
		return
	}
	if grafana && r.UID == grafanaDatasourceUID {
		if r.Type != "grafana" && r.Type != "datasource" {
			v.add(path, "type %q: Grafana's own store has type \"grafana\"", r.Type)
		}
		return
	}
	i := slices.IndexFunc(v.sources, func(s Datasource) bool { return s.UID == r.UID })
	if i < 0 {
		v.add(path, "uid %q is not a provisioned datasource (%s)", r.UID, known)
		return
	}
	if r.Type != v.sources[i].Type {
		v.add(path, "type %q is not the type of datasource %q (%s)", r.Type, r.UID, v.sources[i].Type)
	}
}

func (v *validator) variables(d *Dashboard) {
	seen := map[string]bool{}
	for i, tv := range d.Templating.List {
		path := fmt.Sprintf("templating.list[%d]", i)
		switch {
		case !variableNameRE.MatchString(tv.Name):
			v.add(path+".name", "%q is not a variable name (letters, digits, _)", tv.Name)
		case strings.HasPrefix(tv.Name, "__"):
			v.add(path+".name", "%q: names starting with __ are Grafana's own", tv.Name)
		case seen[tv.Name]:
			v.add(path+".name", "%q is defined twice", tv.Name)
		}
		seen[tv.Name] = true
		if !slices.Contains(variableTypes, tv.Type) {
			v.problems = append(v.problems, diag.Problem{File: v.file, Field: path + ".type",
				Msg: fmt.Sprintf("%q is not a variable type", tv.Type), Allowed: variableTypes})
		}
		if tv.Type != "query" {
			continue
		}
		if tv.Datasource == nil {
			v.add(path+".datasource", "is not set: a query variable needs {\"type\", \"uid\"}")
			continue
		}
		v.datasource(path+".datasource", tv.Datasource, false)
		if !isPrometheus(tv.Datasource) {
			continue
		}
		pq, err := parseVarQuery(tv.Query.Query)
		if err != nil {
			v.add(path+".query", "%v", err)
			continue
		}
		if pq.fn == "query_result" {
			v.uses(d, path+".query", pq.expr)
		} else {
			v.uses(d, path+".query", pq.selector)
		}
		if tv.Definition != "" && tv.Definition != tv.Query.Query {
			v.add(path+".definition", "%q differs from the query %q: Grafana shows the definition", tv.Definition, tv.Query.Query)
		}
	}
}

// uses checks the variable references of a PromQL expression: each is
// defined, and a variable that becomes a regex is only used in a regex
// matcher.
func (v *validator) uses(d *Dashboard, path, expr string) {
	builtins := Env{}.builtins()
	spans := quotedSpans(expr)
	for _, r := range refs(expr) {
		if _, ok := builtins[r.name]; ok {
			continue
		}
		tv, ok := d.Variable(r.name)
		if !ok {
			v.add(path, "$%s is not a template variable of the dashboard nor a Grafana global one", r.name)
			continue
		}
		if !tv.isRegex() {
			continue
		}
		i := slices.IndexFunc(spans, func(s [2]int) bool { return s[0] < r.start && r.end <= s[1] })
		if i < 0 || !regexMatcherBefore(expr[:spans[i][0]]) {
			v.add(path, "$%s stands for a regex (a query or multi-value variable): use it only in a regex matcher, label=~\"$%s\"", r.name, r.name)
		}
	}
}

// isRegex: Grafana puts a regex in PromQL for this variable (several
// values, All, or the values of a query variable as used here).
func (tv Variable) isRegex() bool {
	return tv.Type == "query" || tv.Multi || tv.IncludeAll
}

// quotedSpans returns the [open quote, close quote] offsets of the string
// literals of a PromQL expression; an unterminated one runs to the end
// (its close offset is len(expr)).
func quotedSpans(expr string) [][2]int {
	var out [][2]int
	var quote byte
	start := 0
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case quote == 0 && (c == '"' || c == '\'' || c == '`'):
			quote, start = c, i
		case quote != 0 && c == '\\' && quote != '`':
			i++
		case quote != 0 && c == quote:
			out = append(out, [2]int{start, i})
			quote = 0
		}
	}
	if quote != 0 {
		out = append(out, [2]int{start, len(expr)})
	}
	return out
}

// blankStrings returns expr with its string literals, quotes included,
// replaced by spaces (offsets are kept), so that brackets can be read
// without minding what the strings hold.
func blankStrings(expr string, spans [][2]int) []byte {
	b := []byte(expr)
	for _, s := range spans {
		for i := s[0]; i <= s[1] && i < len(b); i++ {
			b[i] = ' '
		}
	}
	return b
}

// brackets checks that the brackets of a PromQL expression pair up outside
// its strings, and that every string is closed.
func brackets(expr string) error {
	spans := quotedSpans(expr)
	if n := len(spans); n > 0 && spans[n-1][1] == len(expr) {
		return fmt.Errorf("unterminated string at offset %d: %s ⟵ here", spans[n-1][0], expr[:spans[n-1][0]+1])
	}
	pairs := map[byte]byte{')': '(', ']': '[', '}': '{'}
	var open []byte
	for i, c := range blankStrings(expr, spans) {
		switch {
		case c == '(' || c == '[' || c == '{':
			open = append(open, c)
		case pairs[c] != 0:
			if len(open) == 0 || open[len(open)-1] != pairs[c] {
				return fmt.Errorf("unbalanced brackets at offset %d: %s ⟵ here", i, expr[:i+1])
			}
			open = open[:len(open)-1]
		}
	}
	if len(open) > 0 {
		return fmt.Errorf("unbalanced brackets: %d left open at the end of %s", len(open), expr)
	}
	return nil
}

// regexMatcherBefore reports whether the text before a string literal ends
// with a regex matcher operator.
func regexMatcherBefore(before string) bool {
	before = strings.TrimRight(before, " \t\n")
	return strings.HasSuffix(before, "=~") || strings.HasSuffix(before, "!~")
}

func (v *validator) annotations(d *Dashboard) {
	var fault, tagged []int
	for i, a := range d.Annotations.List {
		path := fmt.Sprintf("annotations.list[%d]", i)
		if a.Datasource == nil {
			v.add(path+".datasource", "is not set")
			continue
		}
		v.datasource(path+".datasource", a.Datasource, true)
		if a.Datasource.UID == grafanaDatasourceUID && a.Target != nil && a.Target.Type == "tags" {
			if slices.Contains(a.Target.Tags, FaultTag) {
				tagged = append(tagged, i)
			}
			if len(a.Target.Tags) == 0 {
				v.add(path+".target.tags", "is empty: Grafana shows no annotation for a tag filter without tags")
			}
		}
		if !isPrometheus(a.Datasource) {
			continue
		}
		if strings.TrimSpace(a.Expr) == "" {
			v.add(path+".expr", "is empty")
			continue
		}
		v.uses(d, path+".expr", a.Expr)
		v.rateRanges(path+".expr", a.Expr)
		if _, err := parseStep(a.Step); err != nil {
			v.add(path+".step", "%q is not a duration: %v", a.Step, err)
		}
		if faultMetricRE.MatchString(a.Expr) {
			fault = append(fault, i)
		}
	}
	timePanel := ""
	d.allPanels(func(path string, p *Panel) {
		if timePanel == "" && slices.Contains(timePanelTypes, p.Type) {
			timePanel = path
		}
	})
	if timePanel == "" {
		return
	}
	if len(tagged) == 0 {
		v.add("annotations.list", "has no annotation of Grafana's store (uid %q) filtered by the tag %q ({\"type\": \"tags\", \"tags\": [%q]}): a dashboard with time series (%s) shows the fault windows the harness writes through Grafana's API",
			grafanaDatasourceUID, FaultTag, FaultTag, timePanel)
	}
	for _, i := range tagged {
		if !d.Annotations.List[i].Enable {
			v.add(fmt.Sprintf("annotations.list[%d].enable", i), "is false: the harness's fault windows are hidden until someone turns them on")
		}
	}
	if len(fault) == 0 {
		v.add("annotations.list", "has no annotation on %s: a dashboard with time series (%s) shades the fault windows", FaultMetric, timePanel)
		return
	}
	for _, i := range fault {
		a, path := d.Annotations.List[i], fmt.Sprintf("annotations.list[%d]", i)
		if !a.Enable {
			v.add(path+".enable", "is false: the fault windows are hidden until someone turns them on")
		}
		if !strings.Contains(strings.ReplaceAll(a.TitleFormat, " ", ""), "{{fault}}") {
			v.add(path+".titleFormat", "%q does not show the fault: use {{fault}}", a.TitleFormat)
		}
		keys := strings.Split(strings.ReplaceAll(a.TagKeys, " ", ""), ",")
		for _, k := range faultTagKeys {
			if !slices.Contains(keys, k) {
				v.add(path+".tagKeys", "%q lacks %s: tag fault windows by %s", a.TagKeys, k, strings.Join(faultTagKeys, ", "))
			}
		}
	}
}

// rateRanges checks that every rate() and irate() of expr takes
// [$__rate_interval]: a fixed range is too short for a long time range
// (the step skips samples) or too long for a short one (it smooths the
// fault away).
func (v *validator) rateRanges(path, expr string) {
	if err := brackets(expr); err != nil {
		v.add(path, "%v", err)
		return
	}
	spans := quotedSpans(expr)
	code := blankStrings(expr, spans)
	for _, m := range rateCallRE.FindAllStringSubmatchIndex(expr, -1) {
		if slices.ContainsFunc(spans, func(s [2]int) bool { return s[0] < m[4] && m[4] < s[1] }) {
			continue // in a string literal
		}
		fn := expr[m[4]:m[5]]
		rng, ok := callRange(code, m[1])
		if !ok {
			continue // not a range vector argument: Prometheus says so
		}
		if r := strings.ReplaceAll(rng, " ", ""); r != "$__rate_interval" && r != "${__rate_interval}" {
			v.add(path, "%s(...[%s]): use [$__rate_interval] (at least four scrapes, follows the step)", fn, rng)
		}
	}
}

// callRange returns the range of the range selector (or subquery) that is
// the argument of the call whose parameters start at open (just after its
// "("): the text between the last top-level [ ] of the call, before a
// subquery's ":". code is the expression with its strings blanked.
func callRange(code []byte, open int) (string, bool) {
	depth := 0
	lastStart, lastEnd := -1, -1
	for i := open; i < len(code); i++ {
		switch c := code[i]; {
		case c == '(' || c == '{':
			depth++
		case c == ')' || c == '}':
			if depth == 0 {
				if lastStart < 0 || lastEnd < lastStart {
					return "", false
				}
				rng, _, _ := strings.Cut(string(code[lastStart+1:lastEnd]), ":")
				return strings.TrimSpace(rng), true
			}
			depth--
		case c == '[' && depth == 0:
			lastStart = i
		case c == ']' && depth == 0 && lastStart >= 0:
			lastEnd = i
		}
	}
	return "", false
}
