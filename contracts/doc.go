// Package contracts checks the shop's API contracts against what is
// committed:
//
//   - services/api/descriptor/chaoslab.binpb is the baseline of the gRPC
//     contract, a descriptor set of the three .proto files. The tests of this
//     package fail when the current protos break it (see protocompat), and
//     when they add to it without the baseline being regenerated.
//   - testdata/gateway-orders.pact.json is the consumer-driven contract of
//     the gateway on orders: the calls it makes and the response fields it
//     reads. services/contracttest records it and verifies it against the
//     real orders service; package pact holds its format and checks.
//
// Regenerate the baseline, after a deliberate change, with
// `go generate ./contracts` (protoc from Debian's protobuf-compiler).
package contracts

//go:generate protoc --proto_path=../services/api --include_imports --descriptor_set_out=../services/api/descriptor/chaoslab.binpb orders/v1/orders.proto inventory/v1/inventory.proto payments/v1/payments.proto
