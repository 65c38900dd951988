package dashboards

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/diag"
)

var testSources = []Datasource{
	{Name: "Prometheus", UID: "prometheus", Type: "prometheus"},
	{Name: "Jaeger", UID: "jaeger", Type: "jaeger"},
}

// small is a valid dashboard: a variable, a row, two time series and the
// fault annotation. The tests break one thing at a time.
func small() map[string]any {
	ds := map[string]any{"type": "prometheus", "uid": "prometheus"}
	return map[string]any{
		"id": nil, "uid": "small", "title": "Small", "schemaVersion": 39,
		"templating": map[string]any{"list": []any{
			map[string]any{"name": "service", "type": "query", "datasource": ds, "includeAll": true, "multi": true, "allValue": ".+",
				"query": map[string]any{"query": `label_values(up{job=~".+"}, service)`, "refId": "v"}},
			map[string]any{"name": "q", "type": "custom", "query": "0.99,0.5", "current": map[string]any{"text": "0.99", "value": "0.99"}},
		}},
		"annotations": map[string]any{"list": []any{
			map[string]any{"builtIn": 1, "name": "Annotations & Alerts", "type": "dashboard", "enable": true, "hide": true,
				"datasource": map[string]any{"type": "grafana", "uid": "-- Grafana --"}},
			map[string]any{"name": "Faults", "datasource": ds, "enable": true, "expr": "chaoslab_fault_active", "step": "1s",
				"titleFormat": "{{fault}}", "tagKeys": "scenario,kind,target"},
			map[string]any{"name": "Fault windows", "datasource": map[string]any{"type": "grafana", "uid": "-- Grafana --"}, "enable": true,
				"target": map[string]any{"type": "tags", "tags": []any{"chaoslab"}, "limit": 100, "matchAny": false}},
		}},
		"panels": []any{
			map[string]any{"id": 1, "type": "row", "title": "RED", "gridPos": map[string]any{"x": 0, "y": 0, "w": 24, "h": 1}, "panels": []any{}},
			map[string]any{"id": 2, "type": "timeseries", "title": "Rate", "datasource": ds, "gridPos": map[string]any{"x": 0, "y": 1, "w": 12, "h": 8},
				"targets": []any{map[string]any{"refId": "A", "expr": `sum by (service) (rate(x_total{service=~"$service"}[$__rate_interval]))`}}},
			map[string]any{"id": 3, "type": "timeseries", "title": "Latency", "datasource": ds, "gridPos": map[string]any{"x": 12, "y": 1, "w": 12, "h": 8},
				"targets": []any{map[string]any{"refId": "A", "expr": `histogram_quantile($q, sum by (le) (rate(x_bucket{service=~"${service}"}[${__rate_interval}])))`}}},
		},
	}
}

// set changes the value at a dotted path ("panels.2.targets.0.expr") of a
// decoded JSON document; a nil value deletes the key.
func set(doc map[string]any, path string, value any) {
	parts := strings.Split(path, ".")
	var cur any = doc
	for _, p := range parts[:len(parts)-1] {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			var i int
			fmt.Sscan(p, &i)
			cur = c[i]
		}
	}
	last := parts[len(parts)-1]
	switch c := cur.(type) {
	case map[string]any:
		if value == nil {
			delete(c, last)
		} else {
			c[last] = value
		}
	case []any:
		var i int
		fmt.Sscan(last, &i)
		c[i] = value
	}
}

func parse(t *testing.T, file string, doc map[string]any) *Dashboard {
	t.Helper()
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	d, err := Parse(file, b)
	require.NoError(t, err)
	return d
}

func problems(err error) []string {
	var verr *diag.ValidationError
	if !errors.As(err, &verr) {
		return nil
	}
	out := make([]string, len(verr.Problems))
	for i, p := range verr.Problems {
		out[i] = p.String()
	}
	return out
}

func TestValidateAcceptsTheSmallDashboard(t *testing.T) {
	require.NoError(t, Validate([]*Dashboard{parse(t, "small.json", small())}, testSources))
}

func TestValidateReportsEachBrokenThing(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(d map[string]any)
		want   string
	}{
		{"unknown datasource uid", func(d map[string]any) {
			set(d, "panels.1.datasource", map[string]any{"type": "prometheus", "uid": "prom"})
		}, `small.json: panels[1].datasource: uid "prom" is not a provisioned datasource (prometheus, jaeger)`},
		{"unknown datasource on a target", func(d map[string]any) {
			set(d, "panels.2.targets.0.datasource", map[string]any{"type": "prometheus", "uid": "${DS_PROMETHEUS}"})
		}, `small.json: panels[2].targets[0].datasource: uid "${DS_PROMETHEUS}" is not a provisioned datasource (prometheus, jaeger)`},
		{"datasource by name", func(d map[string]any) { set(d, "panels.1.datasource", "Prometheus") },
			`small.json: panels[1].datasource: is the name "Prometheus": refer to a datasource by {"type", "uid"}, one of prometheus, jaeger`},
		{"datasource type mismatch", func(d map[string]any) {
			set(d, "panels.1.datasource", map[string]any{"type": "prometheus", "uid": "jaeger"})
		}, `small.json: panels[1].datasource: type "prometheus" is not the type of datasource "jaeger" (jaeger)`},
		{"no datasource on a panel", func(d map[string]any) { set(d, "panels.1.datasource", nil) },
			`small.json: panels[1].datasource: is not set`},
		{"old schema", func(d map[string]any) { set(d, "schemaVersion", 27) }, `small.json: schemaVersion: is 27: want 39 or more`},
		{"no uid", func(d map[string]any) { set(d, "uid", "") }, `small.json: uid: is empty`},
		{"uid too long", func(d map[string]any) { set(d, "uid", strings.Repeat("u", 41)) }, `is not a Grafana uid`},
		{"numeric id", func(d map[string]any) { set(d, "id", 7) }, `small.json: id: is 7: set it to null`},
		{"duplicate panel id", func(d map[string]any) { set(d, "panels.2.id", 2) }, `small.json: panels[2].id: 2 is also the id of panels[1]`},
		{"missing panel id", func(d map[string]any) { set(d, "panels.2.id", nil) }, `small.json: panels[2].id: is missing`},
		{"overlapping panels", func(d map[string]any) {
			set(d, "panels.2.gridPos", map[string]any{"x": 6, "y": 4, "w": 12, "h": 8})
		}, `small.json: panels[2].gridPos: {H:8 W:12 X:6 Y:4} overlaps panels[1] ({H:8 W:12 X:0 Y:1})`},
		{"off the grid", func(d map[string]any) {
			set(d, "panels.2.gridPos", map[string]any{"x": 16, "y": 1, "w": 12, "h": 8})
		}, `small.json: panels[2].gridPos: {H:8 W:12 X:16 Y:1} is not on the grid`},
		{"angular panel", func(d map[string]any) { set(d, "panels.1.type", "graph") },
			`small.json: panels[1].type: "graph" is not a panel type Grafana 11+ renders`},
		{"undefined variable", func(d map[string]any) {
			set(d, "panels.1.targets.0.expr", `rate(x_total{route=~"$route"}[5m])`)
		}, `small.json: panels[1].targets[0].expr: $route is not a template variable of the dashboard nor a Grafana global one`},
		{"undefined variable in braces", func(d map[string]any) {
			set(d, "panels.1.targets.0.expr", `rate(x_total[${window}])`)
		}, `small.json: panels[1].targets[0].expr: $window is not a template variable`},
		{"regex variable in an equality matcher", func(d map[string]any) {
			set(d, "panels.1.targets.0.expr", `rate(x_total{service="$service"}[5m])`)
		}, `small.json: panels[1].targets[0].expr: $service stands for a regex (a query or multi-value variable): use it only in a regex matcher`},
		{"regex variable outside a matcher", func(d map[string]any) {
			set(d, "panels.1.targets.0.expr", `label_replace(x, "s", "$service", "", "")`)
		}, `$service stands for a regex`},
		{"empty expr", func(d map[string]any) { set(d, "panels.1.targets.0.expr", " ") }, `small.json: panels[1].targets[0].expr: is empty`},
		{"duplicate refId", func(d map[string]any) {
			set(d, "panels.1.targets", []any{map[string]any{"refId": "A", "expr": "up"}, map[string]any{"refId": "A", "expr": "up"}})
		}, `small.json: panels[1].targets[1].refId: "A" is used twice in the panel`},
		{"hidden query", func(d map[string]any) { set(d, "panels.1.targets.0.hide", true) }, `small.json: panels[1].targets[0].hide: a hidden query is never run`},
		{"panel without query", func(d map[string]any) { set(d, "panels.1.targets", []any{}) }, `small.json: panels[1].targets: the panel has no query`},
		{"panel without title", func(d map[string]any) { set(d, "panels.1.title", "") }, `small.json: panels[1].title: is empty`},
		{"expanded row holding panels", func(d map[string]any) {
			set(d, "panels.0.panels", []any{map[string]any{"id": 9, "type": "text", "title": "t", "gridPos": map[string]any{"x": 0, "y": 1, "w": 4, "h": 2}}})
		}, `small.json: panels[0].panels: an expanded row holds no panels`},
		{"repeat on an undefined variable", func(d map[string]any) { set(d, "panels.1.repeat", "host") },
			`small.json: panels[1].repeat: $host is not a template variable of the dashboard`},
		{"no fault annotation", func(d map[string]any) {
			set(d, "annotations.list.1.expr", "ALERTS")
		}, `small.json: annotations.list: has no annotation on chaoslab_fault_active: a dashboard with time series (panels[1]) shades the fault windows`},
		{"fault annotation off", func(d map[string]any) { set(d, "annotations.list.1.enable", false) },
			`small.json: annotations.list[1].enable: is false`},
		{"fault annotation without the fault in its title", func(d map[string]any) { set(d, "annotations.list.1.titleFormat", "fault") },
			`small.json: annotations.list[1].titleFormat: "fault" does not show the fault: use {{fault}}`},
		{"fault annotation without a tag key", func(d map[string]any) { set(d, "annotations.list.1.tagKeys", "scenario,kind") },
			`small.json: annotations.list[1].tagKeys: "scenario,kind" lacks target`},
		{"no annotation of the harness's fault windows", func(d map[string]any) {
			set(d, "annotations", map[string]any{"list": d["annotations"].(map[string]any)["list"].([]any)[:2]})
		}, `small.json: annotations.list: has no annotation of Grafana's store (uid "-- Grafana --") filtered by the tag "chaoslab"`},
		{"fault windows annotation filtered by another tag", func(d map[string]any) {
			set(d, "annotations.list.2.target.tags", []any{"deploy"})
		}, `small.json: annotations.list: has no annotation of Grafana's store (uid "-- Grafana --") filtered by the tag "chaoslab"`},
		{"fault windows annotation of the dashboard's own annotations", func(d map[string]any) {
			set(d, "annotations.list.2.target.type", "dashboard")
		}, `small.json: annotations.list: has no annotation of Grafana's store (uid "-- Grafana --") filtered by the tag "chaoslab"`},
		{"fault windows annotation off", func(d map[string]any) { set(d, "annotations.list.2.enable", false) },
			`small.json: annotations.list[2].enable: is false: the harness's fault windows are hidden`},
		{"tag filter without tags", func(d map[string]any) { set(d, "annotations.list.2.target.tags", []any{}) },
			`small.json: annotations.list[2].target.tags: is empty`},
		{"rate over a fixed range", func(d map[string]any) {
			set(d, "panels.1.targets.0.expr", `sum(rate(x_total{a=~"[0-9]"}[5m]))`)
		}, `small.json: panels[1].targets[0].expr: rate(...[5m]): use [$__rate_interval]`},
		{"irate over the step", func(d map[string]any) { set(d, "panels.1.targets.0.expr", `irate(x_total[$__interval])`) },
			`small.json: panels[1].targets[0].expr: irate(...[$__interval]): use [$__rate_interval]`},
		{"rate of a subquery over a fixed range", func(d map[string]any) {
			set(d, "panels.1.targets.0.expr", `rate((sum(x_total))[1m:1s])`)
		}, `small.json: panels[1].targets[0].expr: rate(...[1m]): use [$__rate_interval]`},
		{"rate in an annotation", func(d map[string]any) {
			set(d, "annotations.list.1.expr", `rate(chaoslab_fault_active[1m]) > 0`)
		}, `small.json: annotations.list[1].expr: rate(...[1m]): use [$__rate_interval]`},
		{"unbalanced brackets", func(d map[string]any) {
			set(d, "panels.1.targets.0.expr", `sum(rate(x_total{a="(]"}[$__rate_interval])`)
		}, `small.json: panels[1].targets[0].expr: unclosed left parenthesis at the end: sum(rate(x_total{a="(]"}[$__rate_interval]) ⟵ here`},
		{"unterminated string", func(d map[string]any) { set(d, "annotations.list.1.expr", `chaoslab_fault_active{fault="x} > 0`) },
			`small.json: annotations.list[1].expr: unterminated quoted string at column 29: chaoslab_fault_active{fault="x} > 0 ⟵ here`},
		// What the bracket-and-quote checks let through: Prometheus's parser
		// refuses it, with the variables replaced.
		{"PromQL syntax", func(d map[string]any) {
			set(d, "panels.1.targets.0.expr", `sum by (service) rate(x_total{service=~"$service"}[$__rate_interval])`)
		}, `small.json: panels[1].targets[0].expr: unexpected identifier "rate" in aggregation at column 18: sum by (service) rate ⟵ here`},
		{"an error after a variable is placed in the query as written", func(d map[string]any) {
			set(d, "panels.1.targets.0.expr", `histogram_quantile($q, rate(x_bucket{service=~"${service}"}[$__rate_interval]) by (le))`)
		}, `small.json: panels[1].targets[0].expr: unexpected <by> at column 80: …ket{service=~"${service}"}[$__rate_interval]) by ⟵ here`},
		{"a range query of a range vector", func(d map[string]any) {
			set(d, "panels.1.targets.0.expr", `x_total{service=~"$service"}[$__rate_interval]`)
		}, `small.json: panels[1].targets[0].expr: returns a range vector: Grafana runs it as a range query, which takes an instant vector or a scalar`},
		{"the fault metric in a string is not the fault annotation", func(d map[string]any) {
			set(d, "annotations.list.1.expr", `ALERTS{alertname="chaoslab_fault_active"}`)
		}, `small.json: annotations.list: has no annotation on chaoslab_fault_active`},
		{"label_values of a query", func(d map[string]any) {
			set(d, "templating.list.0.query", map[string]any{"query": "label_values(sum by (service) (up), service)"})
		}, `small.json: templating.list[0].query: label_values takes a series selector, like up{job="x"} (Prometheus matches series with it), not "sum by (service) (up)"`},
		{"variable query that does not parse", func(d map[string]any) {
			set(d, "templating.list.0.query", map[string]any{"query": `query_result(topk(3, up{job=~".+"))`})
		}, `small.json: templating.list[0].query: unexpected character inside braces: ')' at column 21: topk(3, up{job=~".+") ⟵ here`},
		{"annotation step not a duration", func(d map[string]any) { set(d, "annotations.list.1.step", "soon") },
			`small.json: annotations.list[1].step: "soon" is not a duration`},
		{"annotation on an unknown datasource", func(d map[string]any) {
			set(d, "annotations.list.1.datasource", map[string]any{"type": "loki", "uid": "loki"})
		}, `small.json: annotations.list[1].datasource: uid "loki" is not a provisioned datasource`},
		{"variable defined twice", func(d map[string]any) { set(d, "templating.list.1.name", "service") },
			`small.json: templating.list[1].name: "service" is defined twice`},
		{"variable of an unknown type", func(d map[string]any) { set(d, "templating.list.1.type", "list") },
			`small.json: templating.list[1].type: "list" is not a variable type; allowed:`},
		{"variable query not runnable", func(d map[string]any) {
			set(d, "templating.list.0.query", map[string]any{"query": "metrics(chaoslab_.*)"})
		}, `small.json: templating.list[0].query: metrics() is not supported here`},
		{"variable query using an undefined variable", func(d map[string]any) {
			set(d, "templating.list.0.query", `label_values(up{job=~"$job"}, service)`)
		}, `small.json: templating.list[0].query: $job is not a template variable`},
		{"variable without datasource", func(d map[string]any) { set(d, "templating.list.0.datasource", nil) },
			`small.json: templating.list[0].datasource: is not set`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := small()
			tt.break_(doc)
			got := problems(Validate([]*Dashboard{parse(t, "small.json", doc)}, testSources))
			require.NotEmpty(t, got, "no problem reported")
			assert.Condition(t, func() bool {
				for _, p := range got {
					if strings.Contains(p, tt.want) {
						return true
					}
				}
				return false
			}, "want a problem containing\n  %s\ngot\n  %s", tt.want, strings.Join(got, "\n  "))
		})
	}
}

func TestValidateAcrossDashboards(t *testing.T) {
	a, b := small(), small()
	got := problems(Validate([]*Dashboard{parse(t, "a.json", a), parse(t, "b.json", b)}, testSources))
	assert.Equal(t, []string{
		`b.json: uid: "small" is also the uid of a.json`,
		`b.json: title: "Small" is also the title of a.json: Grafana refuses two dashboards with one title in a folder`,
	}, got)
}

func TestValidateNeedsNoFaultAnnotationWithoutTimeSeries(t *testing.T) {
	doc := small()
	set(doc, "panels.1.type", "stat")
	set(doc, "panels.2.type", "table")
	set(doc, "annotations.list.1.expr", "ALERTS")
	set(doc, "annotations", map[string]any{"list": doc["annotations"].(map[string]any)["list"].([]any)[:2]})
	assert.NoError(t, Validate([]*Dashboard{parse(t, "small.json", doc)}, testSources))
}

// The ranges the rate rule accepts: $__rate_interval in either syntax,
// whatever else the expression holds.
func TestValidateAcceptsRateIntervalRanges(t *testing.T) {
	for _, expr := range []string{
		`rate(x[$__rate_interval])`,
		`rate(x[ ${__rate_interval} ])`,
		`sum by (a) (rate(x{a=~"[a-z]+", b="rate(y[5m])"}[$__rate_interval])) / sum(irate(y[$__rate_interval]))`,
		`rate((sum by (a) (x))[$__rate_interval:1s])`,
		`increase(x[$__range]) + max_over_time(x[5m])`,
		`slo:sli_error:ratio_rate5m + x_rate_total`,
		// Refused by the hand-written checks: a quote and a rate() in a
		// comment.
		"sum(rate(x[$__rate_interval])) # don't use rate(y[5m]) here\n",
	} {
		t.Run(expr, func(t *testing.T) {
			doc := small()
			set(doc, "panels.1.targets.0.expr", expr)
			assert.NoError(t, Validate([]*Dashboard{parse(t, "small.json", doc)}, testSources))
		})
	}
}

func TestValidateNestedPanelsOfACollapsedRow(t *testing.T) {
	doc := small()
	row := map[string]any{"id": 10, "type": "row", "title": "More", "collapsed": true, "gridPos": map[string]any{"x": 0, "y": 9, "w": 24, "h": 1},
		"panels": []any{
			map[string]any{"id": 3, "type": "timeseries", "title": "Nested", "datasource": map[string]any{"type": "prometheus", "uid": "prom"},
				"gridPos": map[string]any{"x": 0, "y": 10, "w": 12, "h": 8}, "targets": []any{map[string]any{"refId": "A", "expr": "up"}}},
			map[string]any{"id": 11, "type": "timeseries", "title": "Overlapping", "datasource": map[string]any{"type": "prometheus", "uid": "prometheus"},
				"gridPos": map[string]any{"x": 6, "y": 10, "w": 12, "h": 8}, "targets": []any{map[string]any{"refId": "A", "expr": "up"}}},
		}}
	set(doc, "panels", append(doc["panels"].([]any), row))
	got := problems(Validate([]*Dashboard{parse(t, "small.json", doc)}, testSources))
	assert.ElementsMatch(t, []string{
		`small.json: panels[3].panels[0].id: 3 is also the id of panels[2]`,
		`small.json: panels[3].panels[0].datasource: uid "prom" is not a provisioned datasource (prometheus, jaeger)`,
		`small.json: panels[3].panels[1].gridPos: {H:8 W:12 X:6 Y:10} overlaps panels[3].panels[0] ({H:8 W:12 X:0 Y:10})`,
	}, got)
}

func TestParseReportsWhereTheJSONIsBroken(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"syntax", "{\n  \"uid\": \"x\",\n  \"title\": \"t\"\n  \"panels\": []\n}", `bad.json:4:3: invalid character '"' after object key:value pair: fix the JSON`},
		{"type", "{\n  \"uid\": \"x\",\n  \"schemaVersion\": \"39\"\n}", `bad.json:3:23: schemaVersion: is a JSON string, want int: fix the JSON`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bad.json", []byte(tt.doc))
			assert.Equal(t, []string{tt.want}, problems(err))
		})
	}
}

func TestQueriesSubstituteTheVariables(t *testing.T) {
	d := parse(t, "small.json", small())
	env := Env{Range: 90 * time.Second, Interval: 2 * time.Second, ScrapeInterval: time.Second}
	qs, err := d.Queries(env)
	require.NoError(t, err)
	got := map[string]Query{}
	for _, q := range qs {
		got[q.Path] = q
	}
	assert.Equal(t, Query{File: "small.json", Dashboard: "Small", Kind: KindVariable, Title: "service", Path: "templating.list[0].query",
		Raw: `up{job=~".+"}`, Expr: `up{job=~".+"}`, Label: "service"}, got["templating.list[0].query"])
	assert.Equal(t, "chaoslab_fault_active", got["annotations.list[1].expr"].Expr)
	assert.Equal(t, time.Second, got["annotations.list[1].expr"].MinStep)
	assert.Equal(t, KindAnnotation, got["annotations.list[1].expr"].Kind)
	// $__rate_interval = max(2s + 1s, 4 × 1s); the All of $service is its allValue.
	assert.Equal(t, `sum by (service) (rate(x_total{service=~".+"}[4s]))`, got["panels[1].targets[0].expr"].Expr)
	assert.Equal(t, "Rate", got["panels[1].targets[0].expr"].Title)
	// A custom variable is its current value; ${service} is $service.
	assert.Equal(t, `histogram_quantile(0.99, sum by (le) (rate(x_bucket{service=~".+"}[4s])))`, got["panels[2].targets[0].expr"].Expr)
	assert.Len(t, qs, 4, "the built-in annotation has no query")

	env.Values = map[string]string{"service": "orders|payments", "q": "0.5"}
	qs, err = d.Queries(env)
	require.NoError(t, err)
	for _, q := range qs {
		if q.Path == "panels[2].targets[0].expr" {
			assert.Equal(t, `histogram_quantile(0.5, sum by (le) (rate(x_bucket{service=~"orders|payments"}[4s])))`, q.Expr)
		}
	}
}

func TestQueriesOfEveryKind(t *testing.T) {
	tests := []struct {
		name    string
		expr    string
		env     Env
		want    string
		wantErr string
	}{
		{"range builtins", `increase(x[$__range]) / $__range_s + $__range_ms * 0 + $__interval_ms * 0`,
			Env{Range: time.Hour, Interval: 15 * time.Second, ScrapeInterval: 15 * time.Second},
			`increase(x[1h]) / 3600 + 3600000 * 0 + 15000 * 0`, ""},
		{"rate interval follows the step", `rate(x[$__rate_interval])`, Env{Interval: 10 * time.Second, ScrapeInterval: time.Second}, `rate(x[11s])`, ""},
		{"label_replace references are PromQL's", `label_replace(x, "a", "$1", "b", "(.*)")`, Env{}, `label_replace(x, "a", "$1", "b", "(.*)")`, ""},
		{"legacy brackets", `rate(x{service=~"[[service]]"}[1m])`, Env{}, `rate(x{service=~".+"}[1m])`, ""},
		{"format suffix", `rate(x{service=~"${service:regex}"}[1m])`, Env{}, `rate(x{service=~".+"}[1m])`, ""},
		{"unknown variable", `rate(x{a=~"$nope"}[1m])`, Env{}, "", `small.json: panels[1].targets[0].expr: $nope is not a template variable`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := small()
			set(doc, "panels.1.targets.0.expr", tt.expr)
			qs, err := parse(t, "small.json", doc).Queries(tt.env)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			i := indexOf(qs, "panels[1].targets[0].expr")
			require.GreaterOrEqual(t, i, 0)
			assert.Equal(t, tt.want, qs[i].Expr)
		})
	}
}

func indexOf(qs []Query, path string) int {
	for i, q := range qs {
		if q.Path == path {
			return i
		}
	}
	return -1
}

func TestParseVariableQueries(t *testing.T) {
	tests := []struct {
		q       string
		want    parsedVarQuery
		wantErr string
	}{
		{`label_values(x{a=~"b,c",d="{e}"}, service)`, parsedVarQuery{fn: "label_values", selector: `x{a=~"b,c",d="{e}"}`, label: "service"}, ""},
		{`label_values(service)`, parsedVarQuery{fn: "label_values", label: "service"}, ""},
		{` query_result(topk(3, sum by (a) (x))) `, parsedVarQuery{fn: "query_result", expr: `topk(3, sum by (a) (x))`}, ""},
		{`label_values(x, "service")`, parsedVarQuery{}, `label_values: "\"service\"" is not a label name`},
		{`label_names()`, parsedVarQuery{}, `label_names() is not supported here`},
		{`up`, parsedVarQuery{}, `"up" is not label_values(selector, label) nor query_result(expr)`},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			got, err := parseVarQuery(tt.q)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
