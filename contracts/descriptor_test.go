package contracts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/chaoslab/chaoslab/contracts/protocompat"
)

// Where the protos and their committed baseline live, relative to this
// package.
const (
	apiDir   = "../services/api"
	baseline = "../services/api/descriptor/chaoslab.binpb"
)

// protoFiles are the shop's contracts, relative to apiDir.
func protoFiles() []string {
	return []string{"orders/v1/orders.proto", "inventory/v1/inventory.proto", "payments/v1/payments.proto"}
}

func compileDir(t *testing.T, dir string) *descriptorpb.FileDescriptorSet {
	t.Helper()
	fds, err := protocompat.Compile(t.Context(), dir, protoFiles()...)
	require.NoError(t, err)
	return fds
}

func readBaseline(t *testing.T) *descriptorpb.FileDescriptorSet {
	t.Helper()
	fds, err := protocompat.ReadFile(baseline)
	require.NoError(t, err)
	return fds
}

func TestProtosKeepTheBaselineContract(t *testing.T) {
	breaking := protocompat.Breaking(protocompat.Compare(readBaseline(t), compileDir(t, apiDir)))
	var lines []string
	for _, c := range breaking {
		lines = append(lines, "  "+c.String())
	}
	assert.Empty(t, breaking,
		"the protos under services/api break the committed contract %s:\n%s\n"+
			"Clients and servers built from the baseline would misread each other. Make the change additive "+
			"(new field number, new method, new value; reserve what you remove) or, for a deliberate "+
			"break with a new API version, regenerate the baseline with `go generate ./contracts`.",
		baseline, strings.Join(lines, "\n"))
}

func TestBaselineRecordsEveryAddition(t *testing.T) {
	changes := protocompat.Compare(readBaseline(t), compileDir(t, apiDir))
	var lines []string
	for _, c := range changes {
		lines = append(lines, "  "+c.String())
	}
	assert.Empty(t, changes,
		"the protos under services/api differ from the committed contract %s:\n%s\n"+
			"Regenerate it with `go generate ./contracts` and commit it with the .proto change.",
		baseline, strings.Join(lines, "\n"))
}

func TestBaselineHoldsTheShopServices(t *testing.T) {
	var services []string
	for _, f := range readBaseline(t).GetFile() {
		for _, s := range f.GetService() {
			services = append(services, f.GetPackage()+"."+s.GetName())
		}
	}
	assert.ElementsMatch(t, []string{"orders.v1.OrdersService", "inventory.v1.InventoryService", "payments.v1.PaymentsService"}, services)
}

// TestBaselineCatchesBreaksOfTheRealProtos edits copies of the real protos
// the way a careless change would and checks the baseline test would fail.
func TestBaselineCatchesBreaksOfTheRealProtos(t *testing.T) {
	tests := []struct {
		name       string
		file       string
		old, new   string
		wantPrefix string
	}{
		{"renumbered field", "orders/v1/orders.proto", "OrderStatus status = 6;", "OrderStatus status = 11;",
			"BREAKING orders.v1.Order.status: field renumbered from 6 to 11"},
		{"removed field", "orders/v1/orders.proto", "  string failure_reason = 7;\n", "",
			"BREAKING orders.v1.Order.failure_reason: field removed (number 7)"},
		{"changed field type", "inventory/v1/inventory.proto", "int32 quantity = 2;", "int64 quantity = 2;",
			"BREAKING inventory.v1.Item.quantity: field type changed from int32 to int64"},
		{"repeated became singular", "payments/v1/payments.proto", "repeated Charge charges = 1;", "Charge charges = 1;",
			"BREAKING payments.v1.ListChargesResponse.charges: field cardinality changed from repeated to singular"},
		{"removed enum value", "orders/v1/orders.proto", "  ORDER_STATUS_FAILED = 3;\n", "",
			"BREAKING orders.v1.OrderStatus.ORDER_STATUS_FAILED: enum value removed (number 3)"},
		{"removed method", "orders/v1/orders.proto", "  rpc GetOrder(GetOrderRequest) returns (Order);\n", "",
			"BREAKING orders.v1.OrdersService.GetOrder: method removed"},
		{"streaming response", "inventory/v1/inventory.proto", "returns (ListReservationsResponse)", "returns (stream ListReservationsResponse)",
			"BREAKING inventory.v1.InventoryService.ListReservations: server streaming changed from false to true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyProtos(t)
			path := filepath.Join(dir, tt.file)
			src, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, 1, strings.Count(string(src), tt.old), "the edit must match once in %s", tt.file)
			require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(src), tt.old, tt.new, 1)), 0o644))

			breaking := protocompat.Breaking(protocompat.Compare(readBaseline(t), compileDir(t, dir)))
			require.Len(t, breaking, 1, "%v", breaking)
			assert.True(t, strings.HasPrefix(breaking[0].String(), tt.wantPrefix), "got %q", breaking[0].String())
		})
	}
}

// copyProtos copies the shop's .proto files into a temporary directory.
func copyProtos(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range protoFiles() {
		b, err := os.ReadFile(filepath.Join(apiDir, f))
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	return dir
}
