// Package boundary holds no code: its test keeps the harness generic. The
// harness, the fault model, the CLI and the commands run any lab a lab file
// describes; only the shop's own folders (labs/shop, services) may name the
// shop's services, edges, gRPC methods and routes.
package boundary
