package payments

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(t.Context(), filepath.Join(t.TempDir(), "payments.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func requireRows(t *testing.T, s *Store, want int) []Charge {
	t.Helper()
	charges, err := s.ListCharges(t.Context(), "")
	require.NoError(t, err)
	require.Len(t, charges, want)
	return charges
}

func TestChargeIsIdempotent(t *testing.T) {
	s := newTestStore(t)
	first, err := s.Charge(t.Context(), "k1", "o1", 1500)
	require.NoError(t, err)
	assert.Regexp(t, `^ch_[0-9a-f]{16}$`, first.ID)
	assert.Equal(t, Captured, first.State)
	assert.Equal(t, "k1", first.IdempotencyKey)
	assert.Equal(t, "o1", first.OrderID)
	assert.Equal(t, int64(1500), first.AmountCents)
	assert.False(t, first.CreatedAt.IsZero())
	assert.Equal(t, first.CreatedAt, first.UpdatedAt)

	again, err := s.Charge(t.Context(), "k1", "o1", 1500)
	require.NoError(t, err)
	assert.Equal(t, first, again, "a retry returns the same charge")
	assert.Equal(t, []Charge{first}, requireRows(t, s, 1), "the stored charge equals the returned one")

	other, err := s.Charge(t.Context(), "k2", "o1", 1500)
	require.NoError(t, err)
	assert.NotEqual(t, first.ID, other.ID, "another key is another charge")
	requireRows(t, s, 2)
}

func TestChargeKeyReuse(t *testing.T) {
	tests := []struct {
		name    string
		order   string
		amount  int64
		wantErr error
	}{
		{"same order and amount", "o1", 500, nil},
		{"other amount", "o1", 501, ErrKeyConflict},
		{"other order", "o2", 500, ErrKeyConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			first, err := s.Charge(t.Context(), "k", "o1", 500)
			require.NoError(t, err)
			got, err := s.Charge(t.Context(), "k", tt.order, tt.amount)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Contains(t, err.Error(), `"k"`, "the error names the key")
			} else {
				require.NoError(t, err)
				assert.Equal(t, first, got)
			}
			assert.Equal(t, []Charge{first}, requireRows(t, s, 1), "the first charge is untouched")
		})
	}
}

func TestChargeRejectsInvalidArguments(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		order  string
		amount int64
	}{
		{"empty key", "", "o1", 100},
		{"empty order", "k", "", 100},
		{"zero amount", "k", "o1", 0},
		{"negative amount", "k", "o1", -5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			_, err := s.Charge(t.Context(), tt.key, tt.order, tt.amount)
			require.ErrorIs(t, err, ErrInvalidArgument)
			requireRows(t, s, 0)
		})
	}
}

func TestRefundIsIdempotent(t *testing.T) {
	s := newTestStore(t)
	charged, err := s.Charge(t.Context(), "k", "o1", 700)
	require.NoError(t, err)

	refunded, err := s.Refund(t.Context(), "k", "o1")
	require.NoError(t, err)
	assert.Equal(t, Refunded, refunded.State)
	assert.Equal(t, charged.ID, refunded.ID)
	assert.Equal(t, charged.AmountCents, refunded.AmountCents)
	assert.Equal(t, charged.CreatedAt, refunded.CreatedAt)
	assert.False(t, refunded.UpdatedAt.Before(charged.UpdatedAt))

	again, err := s.Refund(t.Context(), "k", "o1")
	require.NoError(t, err)
	assert.Equal(t, refunded, again, "a retried refund changes nothing")

	// A retried Charge after the refund returns the refunded charge, never charges anew.
	late, err := s.Charge(t.Context(), "k", "o1", 700)
	require.NoError(t, err)
	assert.Equal(t, refunded, late)
	assert.Equal(t, []Charge{refunded}, requireRows(t, s, 1))

	_, err = s.Refund(t.Context(), "k", "o2")
	require.ErrorIs(t, err, ErrKeyConflict, "a key refunds only its own order")
	_, err = s.Refund(t.Context(), "", "o1")
	require.ErrorIs(t, err, ErrInvalidArgument)
	_, err = s.Refund(t.Context(), "k", "")
	require.ErrorIs(t, err, ErrInvalidArgument)
}

func TestRefundUnknownKeyRecordsTombstone(t *testing.T) {
	s := newTestStore(t)
	voided, err := s.Refund(t.Context(), "k", "o1")
	require.NoError(t, err)
	assert.Equal(t, Voided, voided.State)
	assert.Equal(t, int64(0), voided.AmountCents)
	assert.Equal(t, "o1", voided.OrderID)
	assert.Regexp(t, `^ch_[0-9a-f]{16}$`, voided.ID)

	again, err := s.Refund(t.Context(), "k", "o1")
	require.NoError(t, err)
	assert.Equal(t, voided, again)

	// The Charge that the caller gave up on arrives after the Refund: it must not charge.
	_, err = s.Charge(t.Context(), "k", "o1", 900)
	require.ErrorIs(t, err, ErrVoided)
	assert.Equal(t, []Charge{voided}, requireRows(t, s, 1))
}

func TestListChargesFiltersByOrder(t *testing.T) {
	s := newTestStore(t)
	a, err := s.Charge(t.Context(), "a", "o1", 100)
	require.NoError(t, err)
	b, err := s.Charge(t.Context(), "b", "o2", 200)
	require.NoError(t, err)
	c, err := s.Refund(t.Context(), "c", "o1")
	require.NoError(t, err)

	tests := []struct {
		order string
		want  []Charge
	}{
		{"", []Charge{a, b, c}},
		{"o1", []Charge{a, c}},
		{"o2", []Charge{b}},
		{"o3", nil},
	}
	for _, tt := range tests {
		t.Run("order "+tt.order, func(t *testing.T) {
			got, err := s.ListCharges(t.Context(), tt.order)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestConcurrentChargesWithOneKeyMakeOneCharge(t *testing.T) {
	s := newTestStore(t)
	const workers = 20
	ids := make([]string, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			c, err := s.Charge(t.Context(), "k", "o1", 1234)
			ids[i], errs[i] = c.ID, err
		})
	}
	wg.Wait()

	for i := range workers {
		require.NoError(t, errs[i], "worker %d", i)
		assert.Equal(t, ids[0], ids[i], "worker %d got another charge", i)
	}
	charges := requireRows(t, s, 1)
	assert.Equal(t, ids[0], charges[0].ID)
}

func TestReopenKeepsCharges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "payments.db")
	s, err := OpenStore(t.Context(), path)
	require.NoError(t, err)
	for i := range 3 {
		_, err := s.Charge(t.Context(), fmt.Sprintf("k%d", i), "o1", int64(100*(i+1)))
		require.NoError(t, err)
	}
	_, err = s.Refund(t.Context(), "k1", "o1")
	require.NoError(t, err)
	_, err = s.Refund(t.Context(), "tombstone", "o2")
	require.NoError(t, err)
	want, err := s.ListCharges(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = OpenStore(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	got, err := s.ListCharges(t.Context(), "")
	require.NoError(t, err)
	assert.Equal(t, want, got)
	_, err = s.Charge(t.Context(), "tombstone", "o2", 100)
	require.ErrorIs(t, err, ErrVoided, "the tombstone survives a restart")
}
