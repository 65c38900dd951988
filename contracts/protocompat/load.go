package protocompat

import (
	"context"
	"fmt"
	"os"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Compile parses and links the .proto files (paths relative to importPath)
// and returns them with everything they import, dependencies first, as
// `protoc --include_imports --descriptor_set_out` would. The well-known
// types (google/protobuf/*.proto) resolve without being on importPath.
func Compile(ctx context.Context, importPath string, files ...string) (*descriptorpb.FileDescriptorSet, error) {
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{importPath}}),
	}
	linked, err := c.Compile(ctx, files...)
	if err != nil {
		return nil, fmt.Errorf("compiling %v under %s: %w", files, importPath, err)
	}
	fds := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
		fds.File = append(fds.File, protodesc.ToFileDescriptorProto(fd))
	}
	for _, f := range linked {
		add(f)
	}
	return fds, nil
}

// ReadFile reads a binary descriptor set, such as the output of
// `protoc --descriptor_set_out`.
func ReadFile(path string) (*descriptorpb.FileDescriptorSet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading descriptor set: %w", err)
	}
	if len(b) > 0 {
		// An empty file unmarshals into an empty set: refuse it, and text
		// that is not a descriptor set, up front.
		if _, _, n := protowire.ConsumeField(b); n < 0 {
			return nil, fmt.Errorf("reading descriptor set %s: not a binary FileDescriptorSet", path)
		}
	}
	fds := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(b, fds); err != nil {
		return nil, fmt.Errorf("decoding descriptor set %s: %w", path, err)
	}
	if len(fds.GetFile()) == 0 {
		return nil, fmt.Errorf("descriptor set %s holds no files", path)
	}
	return fds, nil
}
