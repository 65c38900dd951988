package lab_test

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chaoslab/chaoslab/harness/lab"
)

// The reference, docs/lab.md, is checked against the code, so that it
// cannot rot: its example is the shop's file, every field and contract
// variable is in it, and its JSON and error examples are what the code reads
// and says.

func readDoc(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../docs/lab.md")
	require.NoError(t, err)
	return string(data)
}

// block returns the first fenced block of lang after heading.
func block(t *testing.T, doc, heading, lang string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, heading)
	require.True(t, ok, "docs/lab.md has no %q", heading)
	_, rest, ok = strings.Cut(rest, "```"+lang+"\n")
	require.True(t, ok, "no %s block after %q", lang, heading)
	b, _, ok := strings.Cut(rest, "```")
	require.True(t, ok, "unclosed block after %q", heading)
	return b
}

func TestDocShowsTheShopsFile(t *testing.T) {
	shop, err := os.ReadFile(shopLab)
	require.NoError(t, err)
	assert.Equal(t, string(shop), block(t, readDoc(t), "## The shop's lab file", "yaml"),
		"docs/lab.md shows labs/shop/lab.yaml as it is: copy it over")
}

func TestDocNamesEveryField(t *testing.T) {
	doc := readDoc(t)
	has := func(s, what string) {
		t.Helper()
		if !strings.Contains(doc, s) {
			t.Errorf("docs/lab.md does not document %s: no %q", what, s)
		}
	}
	for _, f := range lab.Fields() {
		has("`"+f+"`", "the field "+f)
	}
	for _, k := range lab.KnobTypes() {
		has("`"+k+"`", "the knob type "+k)
	}
	for _, p := range lab.AuthProviders() {
		has("| `"+p+"` |", "the auth provider "+p)
	}
	for _, p := range lab.JaegerPorts() {
		has(p.Name+": ", "Jaeger's port "+p.Name)
	}
	for _, v := range []string{"{{.Name}}", "{{.Replica}}", "{{.Listen.<port>}}", `{{.Edge "<caller>-><callee>"}}`, "{{.DataDir}}",
		"{{.RunDir}}", "{{.BinDir}}", "{{.ImageTag}}", "{{.Telemetry.OTLPGRPC}}", "{{.Telemetry.OTLPHTTP}}", "{{.Auth.<key>}}",
		"{{.PrometheusURL}}", `{{.Addr "<service>" "<port>"}}`, "`.Flag`", "`.Value`"} {
		has(v, "the template value "+v)
	}
}

func TestDocEnvContract(t *testing.T) {
	doc := readDoc(t)
	_, section, _ := strings.Cut(doc, "### The env contract of k6 scripts")
	section, _, _ = strings.Cut(section, "\n### ")
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z_]+)` \\|").FindAllStringSubmatch(section, -1) {
		documented = append(documented, m[1])
	}
	assert.Equal(t, lab.ScriptEnvNames(), documented, "the table of docs/lab.md is ScriptEnv, in order")
	configJS, err := os.ReadFile("../../loadtests/lib/config.js")
	require.NoError(t, err)
	header, _, _ := strings.Cut(string(configJS), "export ")
	for _, name := range lab.ScriptEnvNames() {
		assert.Regexp(t, `(?m)^//\s+.*\b`+name+`\b`, header, "loadtests/lib/config.js's contract has %s", name)
	}
	for _, w := range []string{lab.AckWord, lab.AcceptedWord, lab.StartWord} {
		if !strings.Contains(doc, "| `"+w+" ") {
			t.Errorf("docs/lab.md has no row for the %s line", w)
		}
	}
}

func TestDocJSONContracts(t *testing.T) {
	doc := readDoc(t)
	v, err := lab.DecodeVerdict([]byte(block(t, doc, "The verdict:", "json")))
	require.NoError(t, err)
	assert.Equal(t, lab.OutcomeFail, v.Outcome())

	s, err := lab.DecodeSettleStatus([]byte(block(t, doc, "## Settle", "json")))
	require.NoError(t, err)
	assert.Equal(t, 3, s.Pending)

	var run lab.RunInput
	dec := json.NewDecoder(bytes.NewReader([]byte(block(t, doc, "The run it is given:", "json"))))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&run))
	assert.Equal(t, []lab.Write{{ID: "o-17", Key: "r1-payments-blackhole-3-12"}}, run.Acked)
	assert.False(t, run.Since.IsZero())
	assert.True(t, run.Until.After(run.Since))
}

// TestDocErrorExample checks the example problem of the format's rules: the
// shop's file with one typo.
func TestDocErrorExample(t *testing.T) {
	doc := readDoc(t)
	m := regexp.MustCompile("(?m)^   `(labs/shop/lab\\.yaml:[^`]+)`").FindStringSubmatch(doc)
	require.NotNil(t, m, "the example problem")
	shop, err := os.ReadFile(shopLab)
	require.NoError(t, err)
	typo := strings.Replace(string(shop), "{{.Listen.public}}", "{{.Listen.pubic}}", 1)
	_, err = lab.Parse("labs/shop/lab.yaml", []byte(typo), lab.WithBuiltins(shopBuiltins))
	require.Error(t, err)
	assert.Equal(t, m[1], err.Error())
}
