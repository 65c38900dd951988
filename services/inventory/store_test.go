package inventory

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestStore opens a store in a fresh directory, seeded with DefaultCatalog.
func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(t.Context(), filepath.Join(t.TempDir(), "inventory.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Seed(t.Context(), DefaultCatalog()))
	return s
}

// stock returns available and reserved stock of sku.
func stock(t *testing.T, s *Store, sku string) (available, reserved int64) {
	t.Helper()
	products, err := s.ListProducts(t.Context())
	require.NoError(t, err)
	for _, p := range products {
		if p.SKU == sku {
			return p.Available, p.Reserved
		}
	}
	t.Fatalf("product %q not in catalog", sku)
	return 0, 0
}

// requireStockConserved checks, for every product of DefaultCatalog, that
// reserved stock equals the units of Reserved reservations and that
// available + reserved + committed units equals the seeded stock.
func requireStockConserved(t *testing.T, s *Store) {
	t.Helper()
	list, err := s.ListReservations(t.Context())
	require.NoError(t, err)
	held, shipped := map[string]int64{}, map[string]int64{}
	for _, r := range list {
		for _, it := range r.Items {
			switch r.State {
			case Reserved:
				held[it.SKU] += int64(it.Quantity)
			case Committed:
				shipped[it.SKU] += int64(it.Quantity)
			}
		}
	}
	products, err := s.ListProducts(t.Context())
	require.NoError(t, err)
	seeded := map[string]int64{}
	for _, p := range DefaultCatalog() {
		seeded[p.SKU] = p.Available
	}
	for _, p := range products {
		assert.Equal(t, held[p.SKU], p.Reserved, "reserved stock of %s", p.SKU)
		assert.Equal(t, seeded[p.SKU], p.Available+p.Reserved+shipped[p.SKU], "stock of %s is not conserved", p.SKU)
	}
}

func TestSeedInsertsOnlyNewProducts(t *testing.T) {
	s := newTestStore(t)
	_, err := s.Reserve(t.Context(), "r1", []Item{{SKU: LimitedSKU, Quantity: 2}})
	require.NoError(t, err)

	again := append(DefaultCatalog(), Product{SKU: "sku-0", Name: "New", PriceCents: 1, Available: 7})
	for i := range again {
		again[i].Available = 42 // must not overwrite existing stock
	}
	require.NoError(t, s.Seed(t.Context(), again))

	products, err := s.ListProducts(t.Context())
	require.NoError(t, err)
	require.Len(t, products, len(DefaultCatalog())+1)
	assert.Equal(t, Product{SKU: "sku-0", Name: "New", PriceCents: 1, Available: 42}, products[0], "new product first: ordered by sku")
	for i := 1; i < len(products); i++ {
		assert.Less(t, products[i-1].SKU, products[i].SKU, "products must be ordered by sku")
	}
	available, reserved := stock(t, s, LimitedSKU)
	assert.Equal(t, int64(3), available)
	assert.Equal(t, int64(2), reserved)

	err = s.Seed(t.Context(), []Product{{SKU: "bad", Available: -1}})
	require.ErrorIs(t, err, ErrInvalidArgument)
}

func TestReserve(t *testing.T) {
	tests := []struct {
		name      string
		id        string
		items     []Item
		wantErr   error
		wantItems []Item
		wantTotal int64
	}{
		{
			name:      "one item",
			id:        "r1",
			items:     []Item{{SKU: "sku-1", Quantity: 2}},
			wantItems: []Item{{SKU: "sku-1", Quantity: 2, PriceCents: 1999}},
			wantTotal: 2 * 1999,
		},
		{
			name:  "duplicate skus are merged and items sorted",
			id:    "r1",
			items: []Item{{SKU: "sku-2", Quantity: 1}, {SKU: "sku-1", Quantity: 1}, {SKU: "sku-2", Quantity: 2}},
			wantItems: []Item{
				{SKU: "sku-1", Quantity: 1, PriceCents: 1999},
				{SKU: "sku-2", Quantity: 3, PriceCents: 1299},
			},
			wantTotal: 1999 + 3*1299,
		},
		{
			name:      "all the limited stock",
			id:        "r1",
			items:     []Item{{SKU: LimitedSKU, Quantity: 5}},
			wantItems: []Item{{SKU: LimitedSKU, Quantity: 5, PriceCents: 9999}},
			wantTotal: 5 * 9999,
		},
		{
			name:    "insufficient stock takes nothing",
			id:      "r1",
			items:   []Item{{SKU: "sku-1", Quantity: 1}, {SKU: LimitedSKU, Quantity: 6}},
			wantErr: ErrInsufficientStock,
		},
		{
			name:    "merged duplicates exceed stock",
			id:      "r1",
			items:   []Item{{SKU: LimitedSKU, Quantity: 3}, {SKU: LimitedSKU, Quantity: 3}},
			wantErr: ErrInsufficientStock,
		},
		{
			name:    "unknown product takes nothing",
			id:      "r1",
			items:   []Item{{SKU: "sku-1", Quantity: 1}, {SKU: "nope", Quantity: 1}},
			wantErr: ErrUnknownProduct,
		},
		{name: "empty id", id: "", items: []Item{{SKU: "sku-1", Quantity: 1}}, wantErr: ErrInvalidArgument},
		{name: "no items", id: "r1", wantErr: ErrInvalidArgument},
		{name: "zero quantity", id: "r1", items: []Item{{SKU: "sku-1"}}, wantErr: ErrInvalidArgument},
		{name: "negative quantity", id: "r1", items: []Item{{SKU: "sku-1", Quantity: -1}}, wantErr: ErrInvalidArgument},
		{name: "empty sku", id: "r1", items: []Item{{Quantity: 1}}, wantErr: ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			r, err := s.Reserve(t.Context(), tt.id, tt.items)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				_, err := s.GetReservation(t.Context(), "r1")
				require.ErrorIs(t, err, ErrReservationNotFound, "a failed Reserve must record nothing")
			} else {
				require.NoError(t, err)
				assert.Equal(t, Reservation{ID: tt.id, Items: tt.wantItems, State: Reserved, TotalCents: tt.wantTotal}, r)
				got, err := s.GetReservation(t.Context(), tt.id)
				require.NoError(t, err)
				assert.Equal(t, r, got, "the stored reservation must equal the returned one")
			}
			requireStockConserved(t, s)
		})
	}
}

func TestReserveIsIdempotent(t *testing.T) {
	s := newTestStore(t)
	first, err := s.Reserve(t.Context(), "r1", []Item{{SKU: LimitedSKU, Quantity: 2}})
	require.NoError(t, err)

	// A retry, even with other items, returns the existing reservation and takes nothing.
	again, err := s.Reserve(t.Context(), "r1", []Item{{SKU: LimitedSKU, Quantity: 3}})
	require.NoError(t, err)
	assert.Equal(t, first, again)
	available, reserved := stock(t, s, LimitedSKU)
	assert.Equal(t, []int64{3, 2}, []int64{available, reserved})

	// A committed reservation is returned as is too.
	_, err = s.Commit(t.Context(), "r1")
	require.NoError(t, err)
	again, err = s.Reserve(t.Context(), "r1", []Item{{SKU: LimitedSKU, Quantity: 2}})
	require.NoError(t, err)
	assert.Equal(t, Committed, again.State)
	assert.Equal(t, first.Items, again.Items)
	available, reserved = stock(t, s, LimitedSKU)
	assert.Equal(t, []int64{3, 0}, []int64{available, reserved})
	requireStockConserved(t, s)
}

func TestReleaseReturnsStockOnce(t *testing.T) {
	s := newTestStore(t)
	reserved, err := s.Reserve(t.Context(), "r1", []Item{{SKU: LimitedSKU, Quantity: 4}})
	require.NoError(t, err)

	for range 2 { // the second Release is a retry: same answer, stock returned once
		r, err := s.Release(t.Context(), "r1")
		require.NoError(t, err)
		assert.Equal(t, Released, r.State)
		assert.Equal(t, reserved.Items, r.Items)
		assert.Equal(t, reserved.TotalCents, r.TotalCents)
		available, held := stock(t, s, LimitedSKU)
		assert.Equal(t, []int64{5, 0}, []int64{available, held})
	}

	_, err = s.Reserve(t.Context(), "r1", []Item{{SKU: LimitedSKU, Quantity: 1}})
	require.ErrorIs(t, err, ErrReservationReleased)
	_, err = s.Commit(t.Context(), "r1")
	require.ErrorIs(t, err, ErrReservationReleased)
	requireStockConserved(t, s)
}

func TestReleaseUnknownRecordsTombstone(t *testing.T) {
	s := newTestStore(t)
	r, err := s.Release(t.Context(), "late")
	require.NoError(t, err)
	assert.Equal(t, Reservation{ID: "late", State: Released}, r)

	got, err := s.GetReservation(t.Context(), "late")
	require.NoError(t, err)
	assert.Equal(t, r, got)

	// The Reserve that the caller gave up on arrives after the Release: it must fail.
	_, err = s.Reserve(t.Context(), "late", []Item{{SKU: LimitedSKU, Quantity: 1}})
	require.ErrorIs(t, err, ErrReservationReleased)
	assert.Contains(t, err.Error(), `"late"`)
	available, held := stock(t, s, LimitedSKU)
	assert.Equal(t, []int64{5, 0}, []int64{available, held})
	requireStockConserved(t, s)
}

func TestCommit(t *testing.T) {
	s := newTestStore(t)
	_, err := s.Reserve(t.Context(), "r1", []Item{{SKU: LimitedSKU, Quantity: 2}, {SKU: "sku-1", Quantity: 1}})
	require.NoError(t, err)

	for range 2 { // the second Commit is a retry
		r, err := s.Commit(t.Context(), "r1")
		require.NoError(t, err)
		assert.Equal(t, Committed, r.State)
		assert.Len(t, r.Items, 2)
		available, held := stock(t, s, LimitedSKU)
		assert.Equal(t, []int64{3, 0}, []int64{available, held}, "committed stock stays gone")
	}

	_, err = s.Release(t.Context(), "r1")
	require.ErrorIs(t, err, ErrReservationCommitted)
	_, err = s.Commit(t.Context(), "unknown")
	require.ErrorIs(t, err, ErrReservationNotFound)
	_, err = s.Commit(t.Context(), "")
	require.ErrorIs(t, err, ErrInvalidArgument)
	requireStockConserved(t, s)
}

func TestListReservations(t *testing.T) {
	s := newTestStore(t)
	_, err := s.Reserve(t.Context(), "a", []Item{{SKU: "sku-1", Quantity: 1}, {SKU: "sku-2", Quantity: 2}})
	require.NoError(t, err)
	_, err = s.Reserve(t.Context(), "b", []Item{{SKU: "sku-3", Quantity: 3}})
	require.NoError(t, err)
	_, err = s.Release(t.Context(), "c")
	require.NoError(t, err)

	list, err := s.ListReservations(t.Context())
	require.NoError(t, err)
	require.Len(t, list, 3)
	for i, want := range []string{"a", "b", "c"} {
		got, err := s.GetReservation(t.Context(), want)
		require.NoError(t, err)
		assert.Equal(t, got, list[i], "reservation %d", i)
	}
}

func TestConcurrentReservesNeverOversell(t *testing.T) {
	s := newTestStore(t)
	const workers = 20
	var succeeded atomic.Int64
	var wg sync.WaitGroup
	done := make(chan struct{})

	// Watch the stock while the reserves race: it must stay whole and non-negative.
	watched := make(chan error, 1)
	go func() {
		defer close(watched)
		for range 10_000 {
			select {
			case <-done:
				return
			default:
			}
			products, err := s.ListProducts(t.Context())
			if err != nil {
				watched <- err
				return
			}
			for _, p := range products {
				if p.SKU == LimitedSKU && (p.Available < 0 || p.Reserved < 0 || p.Available+p.Reserved != 5) {
					watched <- fmt.Errorf("observed available=%d reserved=%d", p.Available, p.Reserved)
					return
				}
			}
		}
	}()

	for i := range workers {
		wg.Go(func() {
			_, err := s.Reserve(t.Context(), fmt.Sprintf("r%d", i), []Item{{SKU: LimitedSKU, Quantity: 1}})
			switch {
			case err == nil:
				succeeded.Add(1)
			case !errors.Is(err, ErrInsufficientStock):
				t.Errorf("reserve r%d: unexpected error %v", i, err)
			}
		})
	}
	wg.Wait()
	close(done)
	require.NoError(t, <-watched)

	assert.Equal(t, int64(5), succeeded.Load(), "exactly the 5 units in stock can be reserved")
	available, held := stock(t, s, LimitedSKU)
	assert.Equal(t, []int64{0, 5}, []int64{available, held})
	requireStockConserved(t, s)
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.db")
	s, err := OpenStore(t.Context(), path)
	require.NoError(t, err)
	require.NoError(t, s.Seed(t.Context(), DefaultCatalog()))
	_, err = s.Reserve(t.Context(), "kept", []Item{{SKU: LimitedSKU, Quantity: 1}})
	require.NoError(t, err)
	_, err = s.Reserve(t.Context(), "shipped", []Item{{SKU: LimitedSKU, Quantity: 2}})
	require.NoError(t, err)
	_, err = s.Commit(t.Context(), "shipped")
	require.NoError(t, err)
	_, err = s.Release(t.Context(), "tombstone")
	require.NoError(t, err)
	wantProducts, err := s.ListProducts(t.Context())
	require.NoError(t, err)
	wantReservations, err := s.ListReservations(t.Context())
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = OpenStore(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Seed(t.Context(), DefaultCatalog()), "seeding on restart is safe")
	gotProducts, err := s.ListProducts(t.Context())
	require.NoError(t, err)
	assert.Equal(t, wantProducts, gotProducts)
	gotReservations, err := s.ListReservations(t.Context())
	require.NoError(t, err)
	assert.Equal(t, wantReservations, gotReservations)
	available, held := stock(t, s, LimitedSKU)
	assert.Equal(t, []int64{2, 1}, []int64{available, held})
}
