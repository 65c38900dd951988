package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/chaoslab/chaoslab/faults"
	"github.com/chaoslab/chaoslab/harness/diag"
)

// descriptorSet returns a serialized FileDescriptorSet of one file per
// package, each with the services and methods given ("pkg.v1" →
// "Service" → methods).
func descriptorSet(t *testing.T, files map[string]map[string][]string, order ...string) []byte {
	t.Helper()
	set := &descriptorpb.FileDescriptorSet{}
	for _, pkg := range order {
		f := &descriptorpb.FileDescriptorProto{
			Name: proto.String(strings.ReplaceAll(pkg, ".", "/") + ".proto"), Package: proto.String(pkg), Syntax: proto.String("proto3"),
			MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("M")}},
		}
		for _, svc := range []string{"StoreService", "AdminService", "LedgerService"} {
			methods, ok := files[pkg][svc]
			if !ok {
				continue
			}
			sd := &descriptorpb.ServiceDescriptorProto{Name: proto.String(svc)}
			for _, m := range methods {
				sd.Method = append(sd.Method, &descriptorpb.MethodDescriptorProto{
					Name: proto.String(m), InputType: proto.String("." + pkg + ".M"), OutputType: proto.String("." + pkg + ".M")})
			}
			f.Service = append(f.Service, sd)
		}
		set.File = append(set.File, f)
	}
	data, err := proto.Marshal(set)
	require.NoError(t, err)
	return data
}

// methodsLab is a lab of an HTTP api and a gRPC store; the tests replace
// its descriptors and methods lines.
const methodsLab = `name: methods
services:
  api:
    protocol: http
    ports: {public: 7080, admin: 7180}
    local: {command: ./api}
    ready: {http: {port: public, path: /healthz}}
    faults: {port: admin}
    methods: [POST /v1/items, "GET /v1/items/{id}"]
  store:
    protocol: grpc
    ports: {public: 7081, admin: 7181}
    local: {command: ./store}
    ready: {grpc: {port: public}}
    faults: {port: admin}
    descriptors: {file: api.binpb, services: [store.v1.StoreService]}
edges:
  client->api: {proxy_port: 7000}
  api->store: {proxy_port: 7001}
load:
  scripts: k6
`

// loadMethodsLab writes doc and the files to a temp dir and loads it.
func loadMethodsLab(t *testing.T, doc string, files map[string][]byte) (*Lab, error) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "k6"), 0o755))
	for name, data := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	path := filepath.Join(dir, "lab.yaml")
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o644))
	l, err := Load(path)
	if err != nil {
		// Problems name the file by its temp path: drop the directory.
		return nil, &diag.ValidationError{Problems: trimDir(err, dir)}
	}
	return l, nil
}

func trimDir(err error, dir string) []diag.Problem {
	verr, ok := err.(*diag.ValidationError)
	if !ok {
		return []diag.Problem{{Msg: err.Error()}}
	}
	out := make([]diag.Problem, len(verr.Problems))
	for i, p := range verr.Problems {
		p.File = filepath.Base(p.File)
		p.Msg = strings.ReplaceAll(p.Msg, dir+string(filepath.Separator), "")
		out[i] = p
	}
	return out
}

func TestMethods(t *testing.T) {
	set := descriptorSet(t, map[string]map[string][]string{
		"store.v1":  {"StoreService": {"Put", "Get"}, "AdminService": {"Compact"}},
		"ledger.v1": {"LedgerService": {"Debit"}},
	}, "store.v1", "ledger.v1")
	good := map[string][]byte{"api.binpb": set}
	tests := []struct {
		name     string
		old, new string
		files    map[string][]byte
		want     map[string][]string // the services' methods, when valid
		problems []string
		// prefix: the one problem starts with problems[0].
		prefix bool
	}{
		{name: "the named services' methods, the routes", files: good, want: map[string][]string{
			"api":   {"POST /v1/items", "GET /v1/items/{id}"},
			"store": {"/store.v1.StoreService/Put", "/store.v1.StoreService/Get"},
		}},
		{name: "every service of the set by default", files: good,
			old: "services: [store.v1.StoreService]}", new: "}",
			want: map[string][]string{
				"api":   {"POST /v1/items", "GET /v1/items/{id}"},
				"store": {"/store.v1.StoreService/Put", "/store.v1.StoreService/Get", "/store.v1.AdminService/Compact", "/ledger.v1.LedgerService/Debit"},
			}},
		{name: "no methods: request faults on * only", files: good,
			old: "    methods: [POST /v1/items, \"GET /v1/items/{id}\"]\n", new: "",
			want: map[string][]string{"api": nil, "store": {"/store.v1.StoreService/Put", "/store.v1.StoreService/Get"}}},
		{name: "a missing descriptor set",
			problems: []string{"lab.yaml:16:25: services.store.descriptors.file: the descriptor set api.binpb does not exist"}},
		{name: "not a descriptor set", files: map[string][]byte{"api.binpb": []byte("not protobuf at all")},
			problems: []string{"lab.yaml:16:25: services.store.descriptors.file: api.binpb is not a FileDescriptorSet (protoc --include_imports --descriptor_set_out): proto:"},
			prefix:   true}, // protobuf's messages vary their spaces on purpose
		{name: "an empty descriptor set", files: map[string][]byte{"api.binpb": {}},
			problems: []string{"lab.yaml:16:25: services.store.descriptors.file: api.binpb is not a FileDescriptorSet (protoc --include_imports --descriptor_set_out): it holds no file"}},
		{name: "a set without services", files: map[string][]byte{"api.binpb": descriptorSet(t, nil, "plain.v1")},
			problems: []string{"lab.yaml:16:25: services.store.descriptors.file: the descriptor set api.binpb has no gRPC service"}},
		{name: "a service the set does not have", files: good,
			old: "services: [store.v1.StoreService]", new: "services: [store.v1.StoreService, store.v1.Stores]",
			problems: []string{"lab.yaml:16:70: services.store.descriptors.services[1]: the descriptor set api.binpb has no gRPC service \"store.v1.Stores\"; " +
				"allowed: store.v1.StoreService, store.v1.AdminService, ledger.v1.LedgerService"}},
		{name: "a service twice", files: good,
			old: "services: [store.v1.StoreService]", new: "services: [store.v1.StoreService, store.v1.StoreService]",
			problems: []string{"lab.yaml:16:70: services.store.descriptors.services[1]: store.v1.StoreService is listed twice"}},
		{name: "descriptors need a file", files: good,
			old: "descriptors: {file: api.binpb, services: [store.v1.StoreService]}", new: "descriptors: {services: [store.v1.StoreService]}",
			problems: []string{"lab.yaml:16:18: services.store.descriptors.file: missing: the service's FileDescriptorSet (protoc --descriptor_set_out), relative to the lab's root"}},
		{name: "descriptors are for gRPC services, methods for HTTP ones", files: good,
			old: "    methods: [POST /v1/items, \"GET /v1/items/{id}\"]", new: "    descriptors: {file: api.binpb}",
			problems: []string{"lab.yaml:9:5: services.api.descriptors: applies to grpc services: an http service lists its routes in methods"}},
		{name: "methods are for HTTP services", files: good,
			old: "    descriptors: {file: api.binpb, services: [store.v1.StoreService]}", new: "    methods: [GET /v1/items]",
			problems: []string{"lab.yaml:16:5: services.store.methods: applies to http services: a grpc service's methods come from its descriptors"}},
		{name: "routes", files: good,
			old: `methods: [POST /v1/items, "GET /v1/items/{id}"]`, new: `methods: [post /v1/items, "GET v1/items", POST /v1/items, "GET /v1/items/{id}", POST /v1/items]`,
			problems: []string{
				`lab.yaml:9:15: services.api.methods[0]: "post /v1/items" is not an HTTP route: write "<VERB> <path pattern>", like "GET /v1/items/{id}"`,
				`lab.yaml:9:31: services.api.methods[1]: "GET v1/items" is not an HTTP route: write "<VERB> <path pattern>", like "GET /v1/items/{id}"`,
				"lab.yaml:9:85: services.api.methods[4]: POST /v1/items is listed twice",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := methodsLab
			if tt.old != "" {
				require.Contains(t, doc, tt.old)
				doc = strings.Replace(doc, tt.old, tt.new, 1)
			}
			l, err := loadMethodsLab(t, doc, tt.files)
			if tt.problems != nil {
				require.Error(t, err)
				if tt.prefix {
					assert.True(t, strings.HasPrefix(err.Error(), tt.problems[0]), err.Error())
					assert.NotContains(t, err.Error(), "\n")
					return
				}
				assert.Equal(t, strings.Join(tt.problems, "\n"), err.Error())
				return
			}
			require.NoError(t, err)
			for name, want := range tt.want {
				s, ok := l.Service(name)
				require.True(t, ok, name)
				assert.Equal(t, want, s.Methods, name)
			}
		})
	}
}

// TestParseReadsNoDescriptors checks that Parse, which reads no file,
// keeps the descriptors but has no gRPC methods.
func TestParseReadsNoDescriptors(t *testing.T) {
	l, err := Parse("lab.yaml", []byte(methodsLab))
	require.NoError(t, err)
	s, _ := l.Service("store")
	assert.Equal(t, &Descriptors{Pos: Pos{Line: 16, Column: 18}, File: "api.binpb", Services: []string{"store.v1.StoreService"}}, s.Descriptors)
	assert.Empty(t, s.Methods)
	api, _ := l.Service("api")
	assert.Equal(t, []string{"POST /v1/items", "GET /v1/items/{id}"}, api.Methods)
}

func TestFaultTopology(t *testing.T) {
	doc := strings.Replace(methodsLab, "    faults: {port: admin}\n    methods", "    methods", 1)
	l, err := loadMethodsLab(t, doc, map[string][]byte{"api.binpb": descriptorSet(t, map[string]map[string][]string{
		"store.v1": {"StoreService": {"Put"}}}, "store.v1")})
	require.NoError(t, err)
	assert.Equal(t, faults.Topology{
		Services: []faults.Service{
			{Name: "api", Protocol: faults.ProtocolHTTP, Methods: []string{"POST /v1/items", "GET /v1/items/{id}"}, Replicas: 1},
			{Name: "store", Protocol: faults.ProtocolGRPC, RequestFaults: true, Methods: []string{"/store.v1.StoreService/Put"}, Replicas: 1},
		},
		Edges: []string{"client->api", "api->store"},
	}, l.FaultTopology())
}
