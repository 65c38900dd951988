// Package dashboards holds the lab's Grafana dashboards and checks them.
//
// The files Grafana reads live next to this code: provisioning/ (the
// datasources and the dashboard provider, mounted at
// /etc/grafana/provisioning) and json/ (one dashboard per file, mounted at
// /var/lib/grafana/dashboards). Grafana cannot run here, so the dashboards
// are tested in two steps: Validate checks the JSON against what the lab
// provisions (datasource uids, unique uids and panel ids, the grid, template
// variables, rate ranges, the two fault-window annotations), and Queries
// lists every query a dashboard sends to Prometheus — panel targets,
// annotations, template variables — with the variables replaced by concrete
// values, so that a test can run each one against a real lab's Prometheus.
//
// The model below holds only what is checked; every other field of
// Grafana's dashboard JSON is ignored when loading.
package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/chaoslab/chaoslab/harness/diag"
)

// Dashboard is one dashboard file.
type Dashboard struct {
	// File is the path the dashboard was loaded from.
	File string `json:"-"`
	// ID must be null in a provisioned file: Grafana assigns it.
	ID            *int64      `json:"id"`
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	SchemaVersion int         `json:"schemaVersion"`
	Tags          []string    `json:"tags"`
	Panels        []Panel     `json:"panels"`
	Templating    Templating  `json:"templating"`
	Annotations   Annotations `json:"annotations"`
}

// Panel is a panel or a row. A collapsed row holds its panels in Panels.
type Panel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	GridPos     GridPos        `json:"gridPos"`
	Datasource  *DatasourceRef `json:"datasource"`
	Targets     []Target       `json:"targets"`
	Repeat      string         `json:"repeat"`
	Collapsed   bool           `json:"collapsed"`
	Panels      []Panel        `json:"panels"`
	Description string         `json:"description"`
}

// GridPos is a panel's place on Grafana's 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Target is one query of a panel.
type Target struct {
	RefID        string         `json:"refId"`
	Datasource   *DatasourceRef `json:"datasource"`
	Expr         string         `json:"expr"`
	LegendFormat string         `json:"legendFormat"`
	Instant      bool           `json:"instant"`
	Range        bool           `json:"range"`
	Interval     string         `json:"interval"`
	Hide         bool           `json:"hide"`
}

// DatasourceRef points at a datasource: {"type": "prometheus", "uid":
// "prometheus"}. Old dashboards name it with a bare string instead; that
// string is kept in Name.
type DatasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
	// Name is set when the reference is a bare string (legacy).
	Name string `json:"-"`
}

// UnmarshalJSON accepts the object form and the legacy string form.
func (r *DatasourceRef) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &r.Name)
	}
	type plain DatasourceRef
	return json.Unmarshal(b, (*plain)(r))
}

// Templating holds the template variables.
type Templating struct {
	List []Variable `json:"list"`
}

// Variable is a template variable.
type Variable struct {
	Name        string         `json:"name"`
	Label       string         `json:"label"`
	Type        string         `json:"type"`
	Datasource  *DatasourceRef `json:"datasource"`
	Query       VariableQuery  `json:"query"`
	Definition  string         `json:"definition"`
	Multi       bool           `json:"multi"`
	IncludeAll  bool           `json:"includeAll"`
	AllValue    string         `json:"allValue"`
	Current     Current        `json:"current"`
	Options     []Option       `json:"options"`
	Refresh     int            `json:"refresh"`
	Regex       string         `json:"regex"`
	Description string         `json:"description"`
}

// VariableQuery is a variable's query: a string, or for a Prometheus query
// variable an object {"query": "label_values(...)", "refId": ...}.
type VariableQuery struct {
	Query string `json:"query"`
}

// UnmarshalJSON accepts both forms.
func (q *VariableQuery) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &q.Query)
	}
	type plain VariableQuery
	return json.Unmarshal(b, (*plain)(q))
}

// Current is a variable's selected value; Value is one string or, for a
// multi-value variable, several.
type Current struct {
	Text  StringList `json:"text"`
	Value StringList `json:"value"`
}

// Option is one of a custom variable's values.
type Option struct {
	Text     string `json:"text"`
	Value    string `json:"value"`
	Selected bool   `json:"selected"`
}

// StringList is a JSON string or array of strings.
type StringList []string

// UnmarshalJSON accepts a string, an array of strings or null.
func (s *StringList) UnmarshalJSON(b []byte) error {
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = StringList{v}
		return nil
	}
	var v []string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = v
	return nil
}

// Annotations holds the annotation queries.
type Annotations struct {
	List []Annotation `json:"list"`
}

// Annotation is an annotation query. A Prometheus annotation has Expr,
// Step (its minimum step) and the formats of the events it makes; each
// series is one event, a region while its value stays above 0.
type Annotation struct {
	Name        string            `json:"name"`
	BuiltIn     int               `json:"builtIn"`
	Type        string            `json:"type"`
	Datasource  *DatasourceRef    `json:"datasource"`
	Enable      bool              `json:"enable"`
	Hide        bool              `json:"hide"`
	Expr        string            `json:"expr"`
	Step        string            `json:"step"`
	TitleFormat string            `json:"titleFormat"`
	TextFormat  string            `json:"textFormat"`
	TagKeys     string            `json:"tagKeys"`
	Target      *AnnotationTarget `json:"target"`
}

// AnnotationTarget is the target of an annotation of Grafana's own store
// (the built-in one, or one filtered by tags).
type AnnotationTarget struct {
	Type string   `json:"type"`
	Tags []string `json:"tags"`
}

// Load reads every *.json file of dir, sorted by name. Every file that
// cannot be read or decoded is reported, with its line and column, in a
// *diag.ValidationError; the dashboards that could be loaded are returned
// with it.
func Load(dir string) ([]*Dashboard, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no dashboard (*.json) in %s", dir)
	}
	slices.Sort(files)
	var out []*Dashboard
	var problems []diag.Problem
	for _, f := range files {
		d, err := LoadFile(f)
		var verr *diag.ValidationError
		switch {
		case errors.As(err, &verr):
			problems = append(problems, verr.Problems...)
		case err != nil:
			return nil, err
		default:
			out = append(out, d)
		}
	}
	if len(problems) > 0 {
		return out, &diag.ValidationError{Problems: problems}
	}
	return out, nil
}

// LoadFile reads one dashboard file.
func LoadFile(path string) (*Dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading dashboard: %w", err)
	}
	return Parse(path, b)
}

// Parse decodes a dashboard; file names it in problems. A syntax or type
// error is a *diag.ValidationError with the position of the error.
func Parse(file string, b []byte) (*Dashboard, error) {
	var d Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		p := diag.Problem{File: file, Msg: err.Error() + ": fix the JSON"}
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			p.Line, p.Column = position(b, syn.Offset)
		case errors.As(err, &typ):
			p.Line, p.Column = position(b, typ.Offset)
			p.Field = typ.Field
			p.Msg = fmt.Sprintf("is a JSON %s, want %s: fix the JSON", typ.Value, typ.Type)
		}
		return nil, &diag.ValidationError{Problems: []diag.Problem{p}}
	}
	d.File = file
	return &d, nil
}

// position turns a byte offset into a 1-based line and column.
func position(b []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(b)))
	before := b[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, max(col, 1)
}

// allPanels calls fn for every panel, rows' nested panels included, with its
// JSON path.
func (d *Dashboard) allPanels(fn func(path string, p *Panel)) {
	for i := range d.Panels {
		p := &d.Panels[i]
		path := fmt.Sprintf("panels[%d]", i)
		fn(path, p)
		for j := range p.Panels {
			fn(fmt.Sprintf("%s.panels[%d]", path, j), &p.Panels[j])
		}
	}
}

// Variable returns the template variable called name.
func (d *Dashboard) Variable(name string) (Variable, bool) {
	for _, v := range d.Templating.List {
		if v.Name == name {
			return v, true
		}
	}
	return Variable{}, false
}
