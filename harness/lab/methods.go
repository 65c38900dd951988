package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/chaoslab/chaoslab/faults"
)

// Descriptors names the protobuf descriptors of a gRPC service: a
// FileDescriptorSet (protoc --descriptor_set_out) and which of its gRPC
// services the lab's service serves. Load reads it into Service.Methods.
type Descriptors struct {
	Pos
	// File is the descriptor set, relative to Root.
	File string
	// Services are the full names of the gRPC services in the set that
	// the lab's service serves ("store.v1.StoreService"); empty: all of
	// them.
	Services []string
}

func descriptorsFields() []string { return []string{"file", "services"} }

// descriptorsUse is a service's descriptors, read from disk once the file
// is checked (Load only).
type descriptorsUse struct {
	service *Service
	node    *yaml.Node // the descriptors mapping
	file    *yaml.Node // its file
	names   []*yaml.Node
	path    string
}

// descriptors reads a gRPC service's descriptors.
func (r *reader) descriptors(n *yaml.Node, path string, s *Service) {
	o, ok := r.object(n, path, descriptorsFields())
	if !ok {
		return
	}
	d := &Descriptors{Pos: pos(o.node)}
	use := descriptorsUse{service: s, node: o.node, path: path}
	if v, ok := r.need(o, "file", "the service's FileDescriptorSet (protoc --descriptor_set_out), relative to the lab's root"); ok {
		if f, ok := r.str(v, o.field("file")); ok {
			d.File = f
			use.file = resolve(v)
			r.files = append(r.files, fileUse{node: resolve(v), path: o.field("file"), rel: f, what: "the descriptor set"})
		}
	}
	if v := o.get("services"); !isNull(v) {
		items, _ := r.list(v, o.field("services"))
		for i, it := range items {
			p := index(o.field("services"), i)
			if name, ok := r.str(it, p); ok {
				if slices.Contains(d.Services, name) {
					r.errorf(resolve(it), p, nil, "%s is listed twice", name)
					continue
				}
				d.Services = append(d.Services, name)
				use.names = append(use.names, resolve(it))
			}
		}
	}
	s.Descriptors = d
	if use.file != nil {
		r.descriptorUses = append(r.descriptorUses, use)
	}
}

// routes reads an HTTP service's methods: its routes, "VERB /path".
func (r *reader) routes(n *yaml.Node, path string, s *Service) {
	items, ok := r.list(n, path)
	if !ok {
		return
	}
	for i, it := range items {
		p := index(path, i)
		route, ok := r.str(it, p)
		if !ok {
			continue
		}
		switch {
		case !isRoute(route):
			r.errorf(resolve(it), p, nil, `%q is not an HTTP route: write "<VERB> <path pattern>", like "GET /v1/items/{id}"`, route)
		case slices.Contains(s.Methods, route):
			r.errorf(resolve(it), p, nil, "%s is listed twice", route)
		default:
			s.Methods = append(s.Methods, route)
		}
	}
}

// isRoute reports whether m is a route as services/faultinject matches
// them: an upper-case verb, a space, a path from "/" without blanks.
func isRoute(m string) bool {
	verb, path, ok := strings.Cut(m, " ")
	if !ok || verb == "" || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n") {
		return false
	}
	return strings.Trim(verb, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
}

// loadDescriptors reads, for Load, every service's descriptor set into its
// Methods: every method of every gRPC service it names (or of the whole
// set), "/pkg.Service/Method", in the set's order.
func (r *reader) loadDescriptors() {
	if r.cfg.dir == "" {
		return
	}
	rootDir := filepath.Join(r.cfg.dir, r.lab.Root)
	for _, u := range r.descriptorUses {
		rel := u.service.Descriptors.File
		p := rel
		if !filepath.IsAbs(p) {
			p = filepath.Join(rootDir, rel)
		}
		fpath := field(u.path, "file")
		data, err := os.ReadFile(p)
		if err != nil {
			continue // checkFiles reports it
		}
		services, err := grpcServices(data)
		if err != nil {
			r.errorf(u.file, fpath, nil, "%s is not a FileDescriptorSet (protoc --include_imports --descriptor_set_out): %v", p, err)
			continue
		}
		names := make([]string, len(services))
		for i, s := range services {
			names[i] = s.name
		}
		if len(services) == 0 {
			r.errorf(u.file, fpath, nil, "the descriptor set %s has no gRPC service", p)
			continue
		}
		want := u.service.Descriptors.Services
		for i, name := range want {
			if !slices.Contains(names, name) {
				r.errorf(u.names[i], index(field(u.path, "services"), i), names, "the descriptor set %s has no gRPC service %q", rel, name)
			}
		}
		for _, s := range services {
			if len(want) == 0 || slices.Contains(want, s.name) {
				u.service.Methods = append(u.service.Methods, s.methods...)
			}
		}
	}
}

// grpcService is one gRPC service of a descriptor set and its full
// methods.
type grpcService struct {
	name    string
	methods []string
}

// grpcServices returns the gRPC services of a serialized FileDescriptorSet,
// in file order, each with its methods ("/pkg.Service/Method").
func grpcServices(data []byte) ([]grpcService, error) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(data, &set); err != nil {
		return nil, err
	}
	if len(set.GetFile()) == 0 {
		return nil, fmt.Errorf("it holds no file")
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, err
	}
	var out []grpcService
	for _, fd := range set.GetFile() {
		f, err := files.FindFileByPath(fd.GetName())
		if err != nil {
			return nil, err
		}
		for i := range f.Services().Len() {
			sd := f.Services().Get(i)
			s := grpcService{name: string(sd.FullName())}
			for j := range sd.Methods().Len() {
				s.methods = append(s.methods, "/"+s.name+"/"+string(sd.Methods().Get(j).Name()))
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// FaultTopology returns the lab as the fault model sees it: every service
// with its protocol, whether it takes request faults (it has Faults) and
// their methods, in file order, and the edges. Validate a scenario's faults
// against it (faults.Spec.Validate).
func (l *Lab) FaultTopology() faults.Topology {
	t := faults.Topology{Edges: l.EdgeNames()}
	for _, s := range l.Services {
		protocol := faults.ProtocolGRPC
		if s.Protocol == HTTP {
			protocol = faults.ProtocolHTTP
		}
		t.Services = append(t.Services, faults.Service{Name: s.Name, Protocol: protocol,
			RequestFaults: s.Faults != nil, Methods: slices.Clone(s.Methods), Replicas: s.Replicas})
	}
	return t
}
