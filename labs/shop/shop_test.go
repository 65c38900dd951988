package shop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
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
	assert.Equal(t, lab.Builtins{Invariants: invariants.Names(), Settle: []string{NoPendingOrders, NoPendingWork}}, names)
	assert.Equal(t, invariants.Names(), invariants.Names())
	assert.Equal(t, invariants.Names(), l.InvariantNames())
	require.NotNil(t, l.Settle)
	assert.Equal(t, NoPendingWork, l.Settle.Builtin)
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
	got := shopChecks(t, invariants.Shop{Orders: o, Outbox: eventPath{}, Consumer: eventPath{}}).Settle(t.Context())
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
	assert.NotNil(t, c.Shop.Outbox)
	assert.Nil(t, c.Shop.Shipments, "no shipping address: no event path")
	assert.NoError(t, c.Close())

	c, err = Dial(map[string]string{Orders: "127.0.0.1:5051", Inventory: "127.0.0.1:5052", Payments: "127.0.0.1:5053", Shipping: "127.0.0.1:8092"})
	require.NoError(t, err)
	assert.NotNil(t, c.Shop.Shipments)
	assert.NotNil(t, c.Shop.Consumer)
	assert.NoError(t, c.Close())
}

// eventPath is a canned outbox backlog and consumer lag.
type eventPath struct {
	backlog, pending, ackPending int64
	err                          error
}

func (e eventPath) OutboxBacklog(context.Context) (int64, error) { return e.backlog, e.err }
func (e eventPath) ConsumerLag(context.Context) (int64, int64, error) {
	return e.pending, e.ackPending, e.err
}

// no_pending_work adds up PENDING orders, the outbox and the consumer's
// undelivered and unacked messages: settled only when all are zero.
func TestNoPendingWork(t *testing.T) {
	const (
		pending   = ordersv1.OrderStatus_ORDER_STATUS_PENDING
		confirmed = ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED
	)
	done := []*ordersv1.Order{order("o1", confirmed)}
	tests := []struct {
		name        string
		orders      []*ordersv1.Order
		events      eventPath
		noEvents    bool
		wantPending int
		wantDetail  string
		wantErr     string
	}{
		{name: "all done", orders: done, wantDetail: "0 orders PENDING; 0 events in the outbox; shipping: 0 undelivered, 0 unacked"},
		{name: "a saga running", orders: append(done, order("o2", pending)), wantPending: 1,
			wantDetail: "1 order PENDING; 0 events in the outbox; shipping: 0 undelivered, 0 unacked"},
		{name: "the outbox holds", orders: done, events: eventPath{backlog: 3}, wantPending: 3,
			wantDetail: "0 orders PENDING; 3 events in the outbox; shipping: 0 undelivered, 0 unacked"},
		{name: "the consumer lags", orders: done, events: eventPath{pending: 2, ackPending: 4}, wantPending: 6,
			wantDetail: "0 orders PENDING; 0 events in the outbox; shipping: 2 undelivered, 4 unacked"},
		{name: "shipping unreachable", orders: done, events: eventPath{err: errors.New("refused")}, wantErr: "reading the outbox: refused"},
		{name: "no event path clients", orders: done, noEvents: true, wantErr: "reading the outbox: no client for orders' outbox"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := invariants.Shop{Orders: &orders{all: tt.orders}}
			if !tt.noEvents {
				s.Outbox, s.Consumer = tt.events, tt.events
			}
			status, err := Builtins(s).Settle[NoPendingWork](t.Context())
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantPending, status.Pending)
			assert.Equal(t, tt.wantDetail, status.Detail)
		})
	}
}

// The shipping client reads shipping's HTTP API.
func TestShippingClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/shipments":
			fmt.Fprint(w, `{"shipments":[{"shipment_id":"s1","order_id":"o1","event_id":"e1","recorded_at":"2026-01-01T00:00:00Z"}]}`)
		case "/v1/consumer":
			fmt.Fprint(w, `{"pending":3,"ack_pending":1,"redelivered":0}`)
		default:
			http.Error(w, "no", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	c := shippingClient{base: srv.URL, hc: srv.Client()}
	got, err := c.ListShipments(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []invariants.Shipment{{ID: "s1", OrderID: "o1", EventID: "e1"}}, got)
	p, a, err := c.ConsumerLag(t.Context())
	require.NoError(t, err)
	assert.Equal(t, [2]int64{3, 1}, [2]int64{p, a})
	_, _, err = shippingClient{base: srv.URL + "/down", hc: srv.Client()}.ConsumerLag(t.Context())
	assert.ErrorContains(t, err, "503")
}
