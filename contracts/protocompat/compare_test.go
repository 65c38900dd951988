package protocompat

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// baseSet is a small hand-made API: package shop.v1 with an enum, two
// messages (one nested) and a service.
func baseSet() *descriptorpb.FileDescriptorSet {
	return &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
		Name:    proto.String("shop/v1/shop.proto"),
		Package: proto.String("shop.v1"),
		Syntax:  proto.String("proto3"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name:  proto.String("Status"),
			Value: []*descriptorpb.EnumValueDescriptorProto{enumValue("STATUS_UNSPECIFIED", 0), enumValue("STATUS_OK", 1), enumValue("STATUS_FAILED", 2)},
		}},
		MessageType: []*descriptorpb.DescriptorProto{
			{
				Name: proto.String("Order"),
				Field: []*descriptorpb.FieldDescriptorProto{
					scalar("id", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING),
					typed("status", 2, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".shop.v1.Status"),
					repeated(typed("items", 3, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".shop.v1.Order.Item")),
					scalar("total_cents", 4, descriptorpb.FieldDescriptorProto_TYPE_INT64),
				},
				NestedType: []*descriptorpb.DescriptorProto{{
					Name: proto.String("Item"),
					Field: []*descriptorpb.FieldDescriptorProto{
						scalar("sku", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING),
						scalar("quantity", 2, descriptorpb.FieldDescriptorProto_TYPE_INT32),
					},
				}},
			},
			{
				Name:  proto.String("GetRequest"),
				Field: []*descriptorpb.FieldDescriptorProto{scalar("id", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING)},
			},
		},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("Shop"),
			Method: []*descriptorpb.MethodDescriptorProto{
				method("Place", ".shop.v1.Order", ".shop.v1.Order"),
				method("Get", ".shop.v1.GetRequest", ".shop.v1.Order"),
			},
		}},
	}}}
}

func enumValue(name string, n int32) *descriptorpb.EnumValueDescriptorProto {
	return &descriptorpb.EnumValueDescriptorProto{Name: proto.String(name), Number: proto.Int32(n)}
}

func scalar(name string, n int32, t descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto {
	return &descriptorpb.FieldDescriptorProto{
		Name: proto.String(name), Number: proto.Int32(n), Type: t.Enum(),
		Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
	}
}

func typed(name string, n int32, t descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
	f := scalar(name, n, t)
	f.TypeName = proto.String(typeName)
	return f
}

func repeated(f *descriptorpb.FieldDescriptorProto) *descriptorpb.FieldDescriptorProto {
	f.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	return f
}

func method(name, in, out string) *descriptorpb.MethodDescriptorProto {
	return &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: proto.String(in), OutputType: proto.String(out)}
}

// file, order, item, status and svc reach into a set made by baseSet.
func file(s *descriptorpb.FileDescriptorSet) *descriptorpb.FileDescriptorProto { return s.File[0] }
func order(s *descriptorpb.FileDescriptorSet) *descriptorpb.DescriptorProto {
	return file(s).MessageType[0]
}
func item(s *descriptorpb.FileDescriptorSet) *descriptorpb.DescriptorProto {
	return order(s).NestedType[0]
}
func status(s *descriptorpb.FileDescriptorSet) *descriptorpb.EnumDescriptorProto {
	return file(s).EnumType[0]
}
func svc(s *descriptorpb.FileDescriptorSet) *descriptorpb.ServiceDescriptorProto {
	return file(s).Service[0]
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *descriptorpb.FileDescriptorSet)
		want   []string // Change.String() of every change, sorted by element
	}{
		{
			name:   "identical sets",
			change: func(*descriptorpb.FileDescriptorSet) {},
			want:   nil,
		},
		{
			name: "removed field",
			change: func(s *descriptorpb.FileDescriptorSet) {
				order(s).Field = order(s).Field[:3] // drop total_cents
			},
			want: []string{"BREAKING shop.v1.Order.total_cents: field removed (number 4); mark the number and name reserved and keep it in the baseline only when no client uses it"},
		},
		{
			name:   "renumbered field",
			change: func(s *descriptorpb.FileDescriptorSet) { order(s).Field[3].Number = proto.Int32(5) },
			want:   []string{"BREAKING shop.v1.Order.total_cents: field renumbered from 4 to 5"},
		},
		{
			name:   "renamed field",
			change: func(s *descriptorpb.FileDescriptorSet) { order(s).Field[0].Name = proto.String("order_id") },
			want:   []string{`BREAKING shop.v1.Order.id: field number 1 renamed to "order_id" (breaks JSON and text clients)`},
		},
		{
			name: "changed scalar type",
			change: func(s *descriptorpb.FileDescriptorSet) {
				order(s).Field[3].Type = descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
			},
			want: []string{"BREAKING shop.v1.Order.total_cents: field type changed from int64 to string"},
		},
		{
			name: "changed nested field type, int32 to int64",
			change: func(s *descriptorpb.FileDescriptorSet) {
				item(s).Field[1].Type = descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum()
			},
			want: []string{"BREAKING shop.v1.Order.Item.quantity: field type changed from int32 to int64"},
		},
		{
			name: "changed message type of a field",
			change: func(s *descriptorpb.FileDescriptorSet) {
				order(s).Field[2].TypeName = proto.String(".shop.v1.GetRequest")
			},
			want: []string{"BREAKING shop.v1.Order.items: field type changed from message shop.v1.Order.Item to message shop.v1.GetRequest"},
		},
		{
			name: "repeated became singular",
			change: func(s *descriptorpb.FileDescriptorSet) {
				order(s).Field[2].Label = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
			},
			want: []string{"BREAKING shop.v1.Order.items: field cardinality changed from repeated to singular"},
		},
		{
			name: "field moved into a oneof",
			change: func(s *descriptorpb.FileDescriptorSet) {
				order(s).OneofDecl = []*descriptorpb.OneofDescriptorProto{{Name: proto.String("key")}}
				order(s).Field[0].OneofIndex = proto.Int32(0)
			},
			want: []string{`BREAKING shop.v1.Order.id: field moved from oneof "" to oneof "key"`},
		},
		{
			name:   "removed enum value",
			change: func(s *descriptorpb.FileDescriptorSet) { status(s).Value = status(s).Value[:2] },
			want:   []string{"BREAKING shop.v1.Status.STATUS_FAILED: enum value removed (number 2)"},
		},
		{
			name:   "renamed enum value",
			change: func(s *descriptorpb.FileDescriptorSet) { status(s).Value[1].Name = proto.String("STATUS_DONE") },
			want:   []string{`BREAKING shop.v1.Status.STATUS_OK: enum value number 1 renamed to "STATUS_DONE" (breaks JSON and text clients)`},
		},
		{
			name:   "removed method",
			change: func(s *descriptorpb.FileDescriptorSet) { svc(s).Method = svc(s).Method[:1] },
			want:   []string{"BREAKING shop.v1.Shop.Get: method removed"},
		},
		{
			name:   "changed method request",
			change: func(s *descriptorpb.FileDescriptorSet) { svc(s).Method[1].InputType = proto.String(".shop.v1.Order") },
			want:   []string{"BREAKING shop.v1.Shop.Get: request type changed from shop.v1.GetRequest to shop.v1.Order"},
		},
		{
			name: "changed method response",
			change: func(s *descriptorpb.FileDescriptorSet) {
				svc(s).Method[1].OutputType = proto.String(".shop.v1.GetRequest")
			},
			want: []string{"BREAKING shop.v1.Shop.Get: response type changed from shop.v1.Order to shop.v1.GetRequest"},
		},
		{
			name:   "method became server streaming",
			change: func(s *descriptorpb.FileDescriptorSet) { svc(s).Method[1].ServerStreaming = proto.Bool(true) },
			want:   []string{"BREAKING shop.v1.Shop.Get: server streaming changed from false to true"},
		},
		{
			name:   "method became client streaming",
			change: func(s *descriptorpb.FileDescriptorSet) { svc(s).Method[0].ClientStreaming = proto.Bool(true) },
			want:   []string{"BREAKING shop.v1.Shop.Place: client streaming changed from false to true"},
		},
		{
			name:   "removed service",
			change: func(s *descriptorpb.FileDescriptorSet) { file(s).Service = nil },
			want:   []string{"BREAKING shop.v1.Shop: service removed"},
		},
		{
			name: "removed message",
			change: func(s *descriptorpb.FileDescriptorSet) {
				file(s).MessageType = file(s).MessageType[:1]
				svc(s).Method = svc(s).Method[:1]
			},
			want: []string{"BREAKING shop.v1.GetRequest: message removed", "BREAKING shop.v1.Shop.Get: method removed"},
		},
		{
			name:   "removed enum",
			change: func(s *descriptorpb.FileDescriptorSet) { file(s).EnumType = nil },
			want:   []string{"BREAKING shop.v1.Status: enum removed"},
		},
		{
			name: "added field",
			change: func(s *descriptorpb.FileDescriptorSet) {
				order(s).Field = append(order(s).Field, scalar("note", 5, descriptorpb.FieldDescriptorProto_TYPE_STRING))
			},
			want: []string{"compatible shop.v1.Order.note: field added (number 5)"},
		},
		{
			name: "added enum value, method, message and service",
			change: func(s *descriptorpb.FileDescriptorSet) {
				status(s).Value = append(status(s).Value, enumValue("STATUS_PENDING", 3))
				file(s).MessageType = append(file(s).MessageType, &descriptorpb.DescriptorProto{Name: proto.String("ListRequest")})
				svc(s).Method = append(svc(s).Method, method("List", ".shop.v1.ListRequest", ".shop.v1.Order"))
				file(s).Service = append(file(s).Service, &descriptorpb.ServiceDescriptorProto{Name: proto.String("Admin")})
			},
			want: []string{
				"compatible shop.v1.Admin: service added",
				"compatible shop.v1.ListRequest: message added",
				"compatible shop.v1.Shop.List: method added",
				"compatible shop.v1.Status.STATUS_PENDING: enum value added (number 3)",
			},
		},
		{
			name: "message moved to another file of the package",
			change: func(s *descriptorpb.FileDescriptorSet) {
				get := file(s).MessageType[1]
				file(s).MessageType = file(s).MessageType[:1]
				s.File = append(s.File, &descriptorpb.FileDescriptorProto{
					Name: proto.String("shop/v1/get.proto"), Package: proto.String("shop.v1"),
					MessageType: []*descriptorpb.DescriptorProto{get},
				})
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := baseSet()
			tt.change(cur)
			var got []string
			for _, c := range Compare(baseSet(), cur) {
				got = append(got, c.String())
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestBreakingKeepsOnlyBreakingChanges(t *testing.T) {
	changes := []Change{
		{Breaking: true, Element: "a", Detail: "x"},
		{Element: "b", Detail: "y"},
		{Breaking: true, Element: "c", Detail: "z"},
	}
	assert.Equal(t, []Change{changes[0], changes[2]}, Breaking(changes))
	assert.Empty(t, Breaking(changes[1:2]))
}

func TestCompileIncludesImportsDependenciesFirst(t *testing.T) {
	dir := t.TempDir()
	src := `syntax = "proto3";
package demo.v1;
import "google/protobuf/timestamp.proto";
message Event { string id = 1; google.protobuf.Timestamp at = 2; }
service Events { rpc Get(Event) returns (Event); }
`
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "demo/v1"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "demo/v1/demo.proto"), []byte(src), 0o644))

	fds, err := Compile(t.Context(), dir, "demo/v1/demo.proto")
	require.NoError(t, err)
	var names []string
	for _, f := range fds.GetFile() {
		names = append(names, f.GetName())
	}
	assert.Equal(t, []string{"google/protobuf/timestamp.proto", "demo/v1/demo.proto"}, names)
	assert.Empty(t, Compare(fds, fds))

	_, err = Compile(t.Context(), dir, "demo/v1/missing.proto")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.proto")
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.binpb")
	b, err := proto.Marshal(baseSet())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(good, b, 0o644))
	empty := filepath.Join(dir, "empty.binpb")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	text := filepath.Join(dir, "text.binpb")
	require.NoError(t, os.WriteFile(text, []byte("file { name: \"x\" }\n"), 0o644))

	got, err := ReadFile(good)
	require.NoError(t, err)
	assert.True(t, proto.Equal(baseSet(), got))

	for _, path := range []string{empty, text, filepath.Join(dir, "absent.binpb")} {
		_, err := ReadFile(path)
		assert.Error(t, err, path)
	}
}
