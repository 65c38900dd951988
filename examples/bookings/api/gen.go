// Package api holds the versioned gRPC contracts of the bookings services.
// The generated Go code is committed next to each .proto; regenerate it with
// `make generate` (protoc from Debian's protobuf-compiler package and the
// plugins pinned in chaoslab's tools/go.mod). bookings.binpb is their
// descriptor set: the lab file takes the services' gRPC methods from it.
package api

//go:generate sh -c "protoc --proto_path=. --plugin=protoc-gen-go=$(go -C ../../../tools tool -n protoc-gen-go) --plugin=protoc-gen-go-grpc=$(go -C ../../../tools tool -n protoc-gen-go-grpc) --go_out=paths=source_relative:. --go-grpc_out=paths=source_relative:. pricing/v1/pricing.proto calendar/v1/calendar.proto"
//go:generate protoc --proto_path=. --include_imports --descriptor_set_out=bookings.binpb pricing/v1/pricing.proto calendar/v1/calendar.proto
