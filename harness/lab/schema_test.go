package lab_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/chaoslab/chaoslab/harness/lab"
)

const schemaFile = "../../labs/lab.schema.json"

// compileSchema compiles labs/lab.schema.json (draft 2020-12).
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaFile)
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	const id = "https://github.com/chaoslab/chaoslab/labs/lab.schema.json"
	require.NoError(t, c.AddResource(id, doc))
	s, err := c.Compile(id)
	require.NoError(t, err)
	return s
}

// instance is a lab file as the JSON an editor's YAML plugin checks (YAML
// merge keys resolved).
func instance(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	require.NoError(t, yaml.Unmarshal(data, &v))
	b, err := json.Marshal(v)
	require.NoError(t, err)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	return inst
}

func TestSchemaAcceptsTheLabs(t *testing.T) {
	s := compileSchema(t)
	// The shop, and the lab the scenario parser's tests run against.
	files := []string{shopLab, "../scenario/testdata/lab/lab.yaml"}
	good, err := filepath.Glob("testdata/good/*.yaml")
	require.NoError(t, err)
	files = append(files, good...)
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			assert.NoError(t, s.Validate(instance(t, data)))
		})
	}
}

// minimal is a valid lab that the broken ones change one thing in.
const minimal = `name: m
services:
  web:
    protocol: http
    ports: {public: 7000}
    local: {command: ./web}
    ready: {http: {port: public, path: /ready}}
    knobs:
      retries: {type: bool, default: true, help: retry}
edges:
  client->web: {proxy_port: 6000}
load:
  scripts: k6
`

func TestSchemaRejectsBrokenLabs(t *testing.T) {
	s := compileSchema(t)
	require.NoError(t, s.Validate(instance(t, []byte(minimal))))
	tests := []struct {
		name, old, new string
		// want is in the validation error (a JSON pointer of the instance).
		want string
	}{
		{"unknown top field", "name: m", "name: m\nversion: 2", "version"},
		{"unknown service field", "protocol: http", "protocol: http\n    protocl: http", "protocl"},
		{"protocol", "protocol: http", "protocol: tcp", "/services/web/protocol"},
		{"reserved service names", "  web:\n", "  toxiproxy:\n", "toxiproxy"},
		{"no way to run", "    local: {command: ./web}\n", "", "/services/web"},
		{"two readiness probes", "ready: {http: {port: public, path: /ready}}", "ready: {http: {port: public, path: /ready}, grpc: {port: public}}", "/services/web/ready"},
		{"port range", "public: 7000", "public: 70000", "/services/web/ports/public"},
		{"edge names", "client->web:", "client-web:", "client-web"},
		{"proxy port required", "{proxy_port: 6000}", "{}", "/edges/client->web"},
		{"knob type", "type: bool", "type: boolean", "/services/web/knobs/retries"},
		{"bool knob default", "default: true", "default: yes please", "/services/web/knobs/retries"},
		{"int knobs need bounds", "retries: {type: bool, default: true, help: retry}", "attempts: {type: int, default: 3, help: attempts}", "/services/web/knobs/attempts"},
		{"duration knobs take durations", "retries: {type: bool, default: true, help: retry}", "timeout: {type: duration, min: 1ms, max: 1h, default: 500, help: t}", "/services/web/knobs/timeout"},
		{"bools have no bounds", "type: bool, default: true", "type: bool, min: 1, default: true", "/services/web/knobs/retries/min"},
		{"scripts required", "scripts: k6", "acks: console", "/load"},
		{"auth settings by provider", "scripts: k6", "scripts: k6\n  auth: {provider: none, key_file: k}", "/load/auth/key_file"},
		{"one checker", "scripts: k6", "scripts: k6\ninvariants:\n  x: {builtin: a, http: 'http://h/x'}", "/invariants/x"},
		{"an http service has no descriptors", "protocol: http", "protocol: http\n    descriptors: {file: set.binpb}", "/services/web/descriptors"},
		{"a grpc service has no methods", "protocol: http", "protocol: grpc\n    methods: [GET /x]", "/services/web/methods"},
		{"routes", "protocol: http", "protocol: http\n    methods: [get /x]", "/services/web/methods/0"},
		{"descriptors need a file", "protocol: http", "protocol: grpc\n    descriptors: {services: [a.B]}", "/services/web/descriptors"},
		{"existing Jaeger needs its addresses", "scripts: k6", "scripts: k6\ntelemetry:\n  jaeger: {otlp_grpc: 'j:4317'}", "/telemetry/jaeger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Contains(t, minimal, tt.old)
			doc := strings.Replace(minimal, tt.old, tt.new, 1)
			err := s.Validate(instance(t, []byte(doc)))
			require.Error(t, err, "the schema accepts it")
			assert.Contains(t, err.Error(), tt.want)
			// The loader refuses it too.
			_, perr := lab.Parse("t.yaml", []byte(doc))
			assert.Error(t, perr, "the loader accepts what the schema refuses")
		})
	}
}

// TestSchemaFields checks that the schema names exactly the loader's
// fields, so that the two cannot drift.
func TestSchemaFields(t *testing.T) {
	data, err := os.ReadFile(schemaFile)
	require.NoError(t, err)
	var schema any
	require.NoError(t, json.Unmarshal(data, &schema))
	var names []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for k := range props {
					names = append(names, k)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(schema)
	slices.Sort(names)
	names = slices.Compact(names)
	want := lab.Fields()
	for _, p := range lab.JaegerPorts() {
		want = append(want, p.Name)
	}
	slices.Sort(want)
	want = slices.Compact(want)
	assert.Equal(t, want, names)
}
