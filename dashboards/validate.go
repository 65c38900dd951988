package dashboards

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/chaoslab/chaoslab/harness/diag"
	"github.com/chaoslab/chaoslab/harness/faultwindows"
	"github.com/chaoslab/chaoslab/harness/promql"
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
)

// rateFuncs are the functions whose range must be $__rate_interval.
var rateFuncs = []string{"rate", "irate"}

// validateEnv is what Grafana's global variables stand for while Validate
// parses the queries: any positive step and range do.
var validateEnv = Env{Range: time.Hour, Interval: 15 * time.Second, ScrapeInterval: 15 * time.Second}

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
//   - queries: each parses with Prometheus's parser once its variables are
//     replaced (package promql); a panel's range query and an annotation
//     return an instant vector or a scalar, a label_values variable
//     takes a series selector; rate() and irate() take
//     [$__rate_interval], which spans at least four scrapes and follows
//     the step, never a fixed range;
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
			use := rangeQuery
			if t.Instant && !t.Range {
				use = instantQuery
			}
			if strings.TrimSpace(t.Expr) == "" {
				v.add(tpath+".expr", "is empty")
			} else {
				v.query(d, tpath+".expr", t.Expr, use)
			}
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
		switch {
		case pq.fn == "query_result":
			v.query(d, path+".query", pq.expr, variableQuery)
		case pq.selector != "":
			v.query(d, path+".query", pq.selector, seriesSelector)
		}
		if tv.Definition != "" && tv.Definition != tv.Query.Query {
			v.add(path+".definition", "%q differs from the query %q: Grafana shows the definition", tv.Definition, tv.Query.Query)
		}
	}
}

// queryUse is how Grafana runs a query, which decides what it may return.
type queryUse int

const (
	rangeQuery     queryUse = iota // a panel's target, an annotation: an instant vector or a scalar
	instantQuery                   // an instant target: anything
	variableQuery                  // query_result(expr): anything; its ranges are its own
	seriesSelector                 // label_values(selector, label): match[] of Prometheus's series API
)

// query checks a PromQL expression of d: each variable it uses is defined,
// and one that becomes a regex is only used in a regex matcher; with the
// variables replaced, Prometheus's parser reads it, it returns what use
// takes, and its rate() and irate() take [$__rate_interval]. It returns
// the parsed query, or nil.
func (v *validator) query(d *Dashboard, path, expr string, use queryUse) *promql.Query {
	builtins := Env{}.builtins()
	var regexRefs []ref
	known := true
	for _, r := range refs(expr) {
		if _, ok := builtins[r.name]; ok {
			continue
		}
		tv, ok := d.Variable(r.name)
		switch {
		case !ok:
			v.add(path, "$%s is not a template variable of the dashboard nor a Grafana global one", r.name)
			known = false
		case tv.isRegex():
			regexRefs = append(regexRefs, r)
		}
	}
	if !known {
		return nil // Grafana would send the $ as it is: nothing more to check
	}
	subs, _ := d.substitutions(expr, validateEnv)
	q, err := promql.Parse(expr, subs...)
	lits := q.Literals()
	for _, r := range regexRefs {
		if !slices.ContainsFunc(lits, func(l promql.Literal) bool { return l.Regex && l.Start < r.start && r.end <= l.End }) {
			v.add(path, "$%s stands for a regex (a query or multi-value variable): use it only in a regex matcher, label=~\"$%s\"", r.name, r.name)
		}
	}
	if err != nil {
		v.add(path, "%v", err)
		return nil
	}
	switch sel, ok := q.Selector(); {
	case use == rangeQuery && !q.Instant():
		v.add(path, "returns %s: Grafana runs it as a range query, which takes an instant vector or a scalar", q.Kind())
	case use == seriesSelector && (!ok || sel.Modified):
		v.add(path, "label_values takes a series selector, like up{job=\"x\"} (Prometheus matches series with it), not %q", expr)
	}
	if use == rangeQuery || use == instantQuery {
		v.rateRanges(path, q)
	}
	return q
}

// isRegex: Grafana puts a regex in PromQL for this variable (several
// values, All, or the values of a query variable as used here).
func (tv Variable) isRegex() bool {
	return tv.Type == "query" || tv.Multi || tv.IncludeAll
}

func (v *validator) annotations(d *Dashboard) {
	var fault, tagged []int
	broken := false // an annotation on Prometheus that does not parse
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
		q := v.query(d, path+".expr", a.Expr, rangeQuery)
		if _, err := parseStep(a.Step); err != nil {
			v.add(path+".step", "%q is not a duration: %v", a.Step, err)
		}
		switch {
		case q == nil:
			broken = true
		case slices.Contains(q.Metrics(), FaultMetric):
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
	if len(fault) == 0 && !broken { // a broken one may be it: its problem is reported
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

// rateRanges checks that every rate() and irate() of q takes
// [$__rate_interval]: a fixed range is too short for a long time range
// (the step skips samples) or too long for a short one (it smooths the
// fault away).
func (v *validator) rateRanges(path string, q *promql.Query) {
	for _, r := range q.Ranges() {
		if !slices.Contains(rateFuncs, r.Func) {
			continue
		}
		if rng := strings.ReplaceAll(r.Text, " ", ""); rng != "$__rate_interval" && rng != "${__rate_interval}" {
			v.add(path, "%s(...[%s]): use [$__rate_interval] (at least four scrapes, follows the step)", r.Func, r.Text)
		}
	}
}
