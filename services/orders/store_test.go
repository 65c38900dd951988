package orders

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newOrder(id, key string, created time.Time) *Order {
	return &Order{
		ID: id, IdempotencyKey: key, RequestHash: "h-" + key, CustomerID: "cust_1",
		Items:         []Item{{SKU: "apple", Quantity: 2}},
		PaymentMethod: "card_ok", Status: StatusPending, CreatedAt: created, UpdatedAt: created,
	}
}

func TestStoreRoundTripAndDurability(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orders.db")
	s, err := OpenStore(t.Context(), path)
	require.NoError(t, err)

	created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	o := newOrder("ord_1", "k1", created)
	require.NoError(t, s.Insert(t.Context(), o))

	o.Items[0].UnitPriceCents = 150
	o.TotalCents = 300
	o.Status = StatusConfirmed
	o.ChargeID = "ch_1"
	o.UpdatedAt = created.Add(time.Second)
	require.NoError(t, s.Update(t.Context(), o))
	require.NoError(t, s.Close())

	s, err = OpenStore(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	got, err := s.Get(t.Context(), "ord_1")
	require.NoError(t, err)
	assert.Equal(t, o, got)
	byKey, err := s.GetByKey(t.Context(), "k1")
	require.NoError(t, err)
	assert.Equal(t, o, byKey)
}

func TestStoreErrors(t *testing.T) {
	s, err := OpenStore(t.Context(), filepath.Join(t.TempDir(), "orders.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	now := time.Now()
	require.NoError(t, s.Insert(t.Context(), newOrder("ord_1", "k1", now)))

	err = s.Insert(t.Context(), newOrder("ord_2", "k1", now))
	require.ErrorIs(t, err, ErrDuplicateKey, "the idempotency key is unique")
	_, err = s.Get(t.Context(), "ord_2")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.GetByKey(t.Context(), "nope")
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorIs(t, s.Update(t.Context(), newOrder("ord_9", "k9", now)), ErrNotFound)

	final := newOrder("ord_1", "k1", now)
	final.Status = StatusFailed
	final.FailureReason = ReasonOutOfStock
	require.NoError(t, s.Update(t.Context(), final))
	again := newOrder("ord_1", "k1", now)
	again.Status = StatusConfirmed
	require.ErrorIs(t, s.Update(t.Context(), again), ErrNotPending, "a final order never changes")
	got, err := s.Get(t.Context(), "ord_1")
	require.NoError(t, err)
	assert.Equal(t, StatusFailed, got.Status)
}

func TestStoreListsOldestFirst(t *testing.T) {
	s, err := OpenStore(t.Context(), filepath.Join(t.TempDir(), "orders.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Inserted out of order; 9ns and 10ns check that timestamps sort as numbers.
	for _, o := range []*Order{
		newOrder("ord_c", "kc", t0.Add(10)),
		newOrder("ord_a", "ka", t0),
		newOrder("ord_b", "kb", t0.Add(9)),
	} {
		require.NoError(t, s.Insert(t.Context(), o))
	}
	done := newOrder("ord_b", "kb", t0.Add(9))
	done.Status = StatusConfirmed
	require.NoError(t, s.Update(t.Context(), done))

	for _, tt := range []struct {
		status Status
		want   []string
	}{
		{"", []string{"ord_a", "ord_b", "ord_c"}},
		{StatusPending, []string{"ord_a", "ord_c"}},
		{StatusConfirmed, []string{"ord_b"}},
		{StatusFailed, nil},
	} {
		got, err := s.List(t.Context(), tt.status)
		require.NoError(t, err)
		assert.Equal(t, tt.want, ids(got), "status %q", tt.status)
	}
}

func ids(orders []*Order) []string {
	var out []string
	for _, o := range orders {
		out = append(out, o.ID)
	}
	return out
}
