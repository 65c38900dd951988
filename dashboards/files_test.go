package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/harness/promql"
)

// The files Grafana reads, as committed: the tests below check them, not
// samples.
const (
	jsonDir        = "json"
	datasourcesYML = "provisioning/datasources/datasources.yml"
	providersYML   = "provisioning/dashboards/chaoslab.yml"
	composeFile    = "../docker-compose.yml"
)

// wantDashboards are the lab's dashboards: file, stable uid and the
// template variables each must offer. A dashboard added or removed is a
// change to this table (and to docs/dashboards.md).
var wantDashboards = []struct {
	file      string
	uid       string
	variables []string
}{
	{"events.json", "chaoslab-events", nil},
	{"load.json", "chaoslab-load", []string{"run_id", "scenario"}},
	{"overview.json", "chaoslab-overview", nil},
	{"replicas.json", "chaoslab-replicas", nil},
	{"service.json", "chaoslab-service", []string{"service", "route", "method"}},
	{"slo.json", "chaoslab-slo", []string{"slo"}},
	{"toxiproxy.json", "chaoslab-toxiproxy", []string{"proxy"}},
}

func loadReal(t *testing.T) ([]*Dashboard, []Datasource) {
	t.Helper()
	sources, err := LoadDatasources(datasourcesYML)
	require.NoError(t, err)
	boards, err := Load(jsonDir)
	require.NoError(t, err, "every dashboard file parses")
	return boards, sources
}

func TestTheLabsDashboardsAreValid(t *testing.T) {
	boards, sources := loadReal(t)
	err := Validate(boards, sources)
	require.NoError(t, err, "problems:\n  %s", strings.Join(problems(err), "\n  "))

	files := make([]string, 0, len(boards))
	for _, d := range boards {
		files = append(files, filepath.Base(d.File))
	}
	want := make([]string, 0, len(wantDashboards))
	for _, w := range wantDashboards {
		want = append(want, w.file)
	}
	assert.Equal(t, want, files, "the dashboards of %s", jsonDir)
}

func TestEachDashboard(t *testing.T) {
	boards, _ := loadReal(t)
	byFile := map[string]*Dashboard{}
	for _, d := range boards {
		byFile[filepath.Base(d.File)] = d
	}
	env := Env{Range: time.Hour, Interval: 15 * time.Second, ScrapeInterval: time.Second}
	for _, w := range wantDashboards {
		t.Run(w.file, func(t *testing.T) {
			d := byFile[w.file]
			require.NotNil(t, d, "%s is missing", w.file)
			assert.Equal(t, w.uid, d.UID, "the uid is what links and bookmarks use: keep it")
			assert.Contains(t, d.Tags, "chaoslab", "the dashboards link to each other by this tag")

			var names []string
			for _, v := range d.Templating.List {
				names = append(names, v.Name)
			}
			assert.Equal(t, w.variables, names, "template variables")

			qs, err := d.Queries(env)
			require.NoError(t, err)
			used := map[string]bool{}
			for _, q := range qs {
				for _, r := range refs(q.Raw) {
					if q.Kind != KindVariable || r.name != q.Title {
						used[r.name] = true
					}
				}
			}
			for _, name := range w.variables {
				assert.True(t, used[name], "$%s is defined but no query uses it", name)
			}

			// Panels: a handful of well-made ones, each described, each
			// series named.
			var panels int
			d.allPanels(func(path string, p *Panel) {
				if p.Type == "row" {
					return
				}
				panels++
				assert.NotEmpty(t, strings.TrimSpace(p.Description), "%s (%s) has no description: say what it shows", path, p.Title)
				for j, tg := range p.Targets {
					assert.NotEmpty(t, tg.LegendFormat, "%s.targets[%d] (%s) has no legendFormat: its series would be named by their raw labels", path, j, p.Title)
				}
			})
			assert.GreaterOrEqual(t, panels, 4, "panels")
			assert.LessOrEqual(t, panels, 12, "panels: prefer fewer, well-made ones")
		})
	}
}

// Every query parses with Prometheus's parser once the variables are
// replaced, as Grafana would send it (a label_values selector is a series
// selector). Prometheus itself runs them in the e2e test
// (e2e/dashboards_test.go).
func TestEveryQueryParses(t *testing.T) {
	boards, _ := loadReal(t)
	env := Env{Range: time.Hour, Interval: 15 * time.Second, ScrapeInterval: time.Second}
	var n int
	for _, d := range boards {
		qs, err := d.Queries(env)
		require.NoError(t, err)
		for _, q := range qs {
			n++
			assert.NotContains(t, q.Expr, "$", "%s: a variable is left", q)
			if q.Label != "" && q.Expr == "" {
				continue // label_values(label): no selector
			}
			pq, err := promql.Parse(q.Expr)
			if !assert.NoError(t, err, "%s", q) {
				continue
			}
			if q.Label != "" {
				_, ok := pq.Selector()
				assert.True(t, ok, "%s: label_values takes a series selector", q)
			} else if !q.Instant {
				assert.True(t, pq.Instant(), "%s: a range query returns %s", q, pq.Kind())
			}
		}
	}
	assert.Greater(t, n, 30, "queries")
}

func TestProvisionedDatasources(t *testing.T) {
	sources, err := LoadDatasources(datasourcesYML)
	require.NoError(t, err)
	assert.Equal(t, []Datasource{
		{Name: "Prometheus", UID: "prometheus", Type: "prometheus", URL: "http://prometheus:9090", IsDefault: true},
		{Name: "Jaeger", UID: "jaeger", Type: "jaeger", URL: "http://jaeger:16686"},
	}, sources)

	// The step Grafana derives $__rate_interval from is the lab's scrape
	// interval.
	var raw struct {
		Datasources []struct {
			UID      string `yaml:"uid"`
			JSONData struct {
				TimeInterval string `yaml:"timeInterval"`
			} `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	b, err := os.ReadFile(datasourcesYML)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &raw))
	var prometheus yaml.Node
	require.NoError(t, yaml.Unmarshal(mustRead(t, "../compose/prometheus.yml"), &prometheus))
	scrape := scrapeInterval(t, &prometheus)
	for _, s := range raw.Datasources {
		if s.UID == "prometheus" {
			assert.Equal(t, scrape, s.JSONData.TimeInterval, "jsonData.timeInterval is the scrape interval of compose/prometheus.yml")
		}
	}
}

func scrapeInterval(t *testing.T, doc *yaml.Node) string {
	t.Helper()
	var cfg struct {
		Global struct {
			ScrapeInterval string `yaml:"scrape_interval"`
		} `yaml:"global"`
	}
	require.NoError(t, doc.Decode(&cfg))
	require.NotEmpty(t, cfg.Global.ScrapeInterval)
	return cfg.Global.ScrapeInterval
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestProvisionedDashboardProvider(t *testing.T) {
	providers, err := LoadProviders(providersYML)
	require.NoError(t, err)
	require.Len(t, providers, 1)
	p := providers[0]
	assert.Equal(t, "file", p.Type)
	assert.Equal(t, "chaoslab", p.Folder)
	assert.Equal(t, JSONMount, p.Options.Path, "the provider reads where docker-compose.yml mounts %s", jsonDir)
}

// docker-compose.yml mounts these folders where the provisioning files
// say, and Grafana's home dashboard is one of them.
func TestComposeMountsTheDashboards(t *testing.T) {
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(mustRead(t, composeFile), &compose))
	grafana, ok := compose.Services["grafana"]
	require.True(t, ok, "%s has a grafana service", composeFile)

	mounts := map[string]string{}
	for _, v := range grafana.Volumes {
		parts := strings.Split(v, ":")
		require.GreaterOrEqual(t, len(parts), 2, "volume %q", v)
		mounts[filepath.Clean(parts[0])] = parts[1]
	}
	assert.Equal(t, ProvisioningMount, mounts["dashboards/provisioning"])
	assert.Equal(t, JSONMount, mounts["dashboards/json"])

	home := grafana.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
	require.True(t, strings.HasPrefix(home, JSONMount+"/"), "the home dashboard %q is one of %s", home, JSONMount)
	_, err := os.Stat(filepath.Join(jsonDir, strings.TrimPrefix(home, JSONMount+"/")))
	assert.NoError(t, err, "the home dashboard exists")
}

// Every datasource reference anywhere in the JSON — including the parts
// the model ignores — names a provisioned uid: the files import into any
// Grafana with a Prometheus of uid "prometheus".
func TestDashboardsReferOnlyToProvisionedUIDs(t *testing.T) {
	sources, err := LoadDatasources(datasourcesYML)
	require.NoError(t, err)
	known := []string{grafanaDatasourceUID}
	for _, s := range sources {
		known = append(known, s.UID)
	}
	files, err := filepath.Glob(filepath.Join(jsonDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		var doc any
		require.NoError(t, json.Unmarshal(mustRead(t, f), &doc))
		var refs int
		walkDatasources(doc, "", func(path string, ref any) {
			refs++
			m, ok := ref.(map[string]any)
			if !assert.True(t, ok, "%s: %s is %v: refer to a datasource by {type, uid}", f, path, ref) {
				return
			}
			assert.Contains(t, known, m["uid"], "%s: %s is not a provisioned datasource", f, path)
		})
		assert.Positive(t, refs, "%s refers to no datasource", f)
	}
}

// walkDatasources calls fn for the value of every "datasource" key of a
// decoded JSON document.
func walkDatasources(v any, path string, fn func(path string, ref any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if k == "datasource" {
				fn(path+"."+k, e)
				continue
			}
			walkDatasources(e, path+"."+k, fn)
		}
	case []any:
		for i, e := range v {
			walkDatasources(e, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}
