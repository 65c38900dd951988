// Package api holds the versioned gRPC contracts of the shop's services.
// The generated Go code is committed next to each .proto; regenerate it with
// `make generate` (protoc from Debian's protobuf-compiler package and the
// plugins pinned in tools/go.mod).
package api

//go:generate sh -c "protoc --proto_path=. --plugin=protoc-gen-go=$(go -C ../../tools tool -n protoc-gen-go) --plugin=protoc-gen-go-grpc=$(go -C ../../tools tool -n protoc-gen-go-grpc) --go_out=paths=source_relative:. --go-grpc_out=paths=source_relative:. orders/v1/orders.proto inventory/v1/inventory.proto payments/v1/payments.proto"
