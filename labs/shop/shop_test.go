package shop

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/chaoslab/chaoslab/harness/checks"
	"github.com/chaoslab/chaoslab/harness/journal"
	"github.com/chaoslab/chaoslab/harness/lab"
	"github.com/chaoslab/chaoslab/labs/shop/invariants"
	ordersv1 "github.com/chaoslab/chaoslab/services/api/orders/v1"
)

// orders answers ListOrders with canned orders, PENDING ones when asked
// for them, and records what it was asked.
type orders struct {
	all        []*ordersv1.Order
	err        error
	asked      []ordersv1.OrderStatus
	noDeadline bool
}

func (o *orders) ListOrders(ctx context.Context, in *ordersv1.ListOrdersRequest, _ ...grpc.CallOption) (*ordersv1.ListOrdersResponse, error) {
	o.asked = append(o.asked, in.GetStatus())
	if _, ok := ctx.Deadline(); !ok {
		o.noDeadline = true
	}
	if o.err != nil {
		return nil, o.err
	}
	resp := &ordersv1.ListOrdersResponse{}
	for _, ord := range o.all {
		if in.GetStatus() == ordersv1.OrderStatus_ORDER_STATUS_UNSPECIFIED || ord.GetStatus() == in.GetStatus() {
			resp.Orders = append(resp.Orders, ord)
		}
	}
	return resp, nil
}

func order(id string, st ordersv1.OrderStatus) *ordersv1.Order {
	return &ordersv1.Order{OrderId: id, Status: st}
}

// loadShopLab loads the shop's lab file with the shop's builtins.
func loadShopLab(t *testing.T) *lab.Lab {
	t.Helper()
	l, err := lab.Load("lab.yaml", lab.WithBuiltins(Builtins(invariants.Shop{}).Names()))
	require.NoError(t, err)
	return l
}

func shopChecks(t *testing.T, s invariants.Shop) *checks.Set {
	t.Helper()
	l := loadShopLab(t)
	set, err := checks.New(l, l.HarnessVarsFor(l.LocalPlacement(0, t.TempDir(), "bin", nil), "http://127.0.0.1:9090"), Builtins(s))
	require.NoError(t, err)
	return set
}

// The shop registers what its lab file names, and the scenario parser
// knows the same invariants.
func TestBuiltinsAreWhatTheLabFileNames(t *testing.T) {
	l := loadShopLab(t)
	names := Builtins(invariants.Shop{}).Names()
	assert.Equal(t, lab.Builtins{Invariants: invariants.Names(), Settle: []string{NoPendingOrders}}, names)
	assert.Equal(t, invariants.Names(), invariants.Names())
	assert.Equal(t, invariants.Names(), l.InvariantNames())
	require.NotNil(t, l.Settle)
	assert.Equal(t, NoPendingOrders, l.Settle.Builtin)
}

func TestNoPendingOrders(t *testing.T) {
	const (
		pending   = ordersv1.OrderStatus_ORDER_STATUS_PENDING
		confirmed = ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED
	)
	tests := []struct {
		name       string
		orders     orders
		wantDone   bool
		wantDetail string
		wantErr    string
	}{
		{name: "none pending", orders: orders{all: []*ordersv1.Order{order("o1", confirmed)}}, wantDone: true, wantDetail: "0 orders PENDING"},
		{name: "one pending", orders: orders{all: []*ordersv1.Order{order("o1", confirmed), order("o2", pending)}}, wantDetail: "1 order PENDING"},
		{name: "orders unreachable", orders: orders{err: errors.New("connection refused")}, wantErr: "listing PENDING orders: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &tt.orders
			status, err := Builtins(invariants.Shop{Orders: o}).Settle[NoPendingOrders](t.Context())
			assert.Equal(t, []ordersv1.OrderStatus{pending}, o.asked, "asks for the PENDING orders alone, not every order of the lab")
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantDone, status.Pending == 0)
			assert.Equal(t, tt.wantDetail, status.Detail)
		})
	}
	_, err := Builtins(invariants.Shop{}).Settle[NoPendingOrders](t.Context())
	assert.EqualError(t, err, "listing PENDING orders: no client for orders")
}

// The lab's settle step, through checks: the shop's timeout bounds it, and
// the probe is bounded per call.
func TestSettleThroughTheLabFile(t *testing.T) {
	o := &orders{all: []*ordersv1.Order{order("o1", ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED)}}
	got := shopChecks(t, invariants.Shop{Orders: o}).Settle(t.Context())
	assert.True(t, got.Probed)
	assert.True(t, got.Done(), got.String())
	assert.Equal(t, 15*time.Second, got.Timeout)
	assert.False(t, o.noDeadline, "each probe has a deadline")
}

// The invariants the lab file names reach the shop's Go checks with the
// run's acknowledged orders and start, with their details intact.
func TestInvariantsThroughTheLabFile(t *testing.T) {
	o := &orders{all: []*ordersv1.Order{order("o1", ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED)}}
	in := lab.RunInput{RunID: "r1", Scenario: "unit", Since: time.Now().Add(-time.Minute), Until: time.Now(),
		Acked: []lab.Write{{ID: "o1", Key: "k1"}, {ID: "o2", Key: "k2"}}}
	got := shopChecks(t, invariants.Shop{Orders: o}).Invariants(t.Context(), []string{invariants.NoLostOrders}, in)
	require.Len(t, got, 1)
	c := got[0]
	assert.Equal(t, invariants.NoLostOrders, c.Name)
	assert.Equal(t, journal.KindInvariant, c.Kind)
	assert.Equal(t, journal.Fail, c.Outcome)
	assert.True(t, c.OnData)
	assert.Equal(t, "1 of 2 acknowledged orders lost or not CONFIRMED: 1 missing (o2) → fail", c.Detail)
}

func TestDial(t *testing.T) {
	_, err := Dial(map[string]string{Orders: "127.0.0.1:5051"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the shop's checkers read service inventory: the lab has no address for it")
	assert.Contains(t, err.Error(), "service payments")

	c, err := Dial(map[string]string{Orders: "127.0.0.1:5051", Inventory: "127.0.0.1:5052", Payments: "127.0.0.1:5053"})
	require.NoError(t, err)
	assert.NotNil(t, c.Shop.Orders)
	assert.NotNil(t, c.Shop.Inventory)
	assert.NotNil(t, c.Shop.Payments)
	assert.NoError(t, c.Close())
}
