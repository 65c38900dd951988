package calendar

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStoreBookIsIdempotentByKey(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "b.jsonl"), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.UnixMilli(1_000)
	tests := []struct {
		name         string
		key          string
		wantID       string
		wantReplayed bool
	}{
		{"first key", "k1", "b-1", false},
		{"second key", "k2", "b-2", false},
		{"first key again", "k1", "b-1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, replayed, err := s.Book(Booking{IdempotencyKey: tt.key, Guest: "g", Room: "single", Nights: 1}, now)
			if err != nil {
				t.Fatal(err)
			}
			if b.ID != tt.wantID || replayed != tt.wantReplayed {
				t.Errorf("Book(%s) = %s, replayed %v; want %s, %v", tt.key, b.ID, replayed, tt.wantID, tt.wantReplayed)
			}
		})
	}
	if n := s.Len(); n != 2 {
		t.Errorf("Len = %d, want 2", n)
	}
}

func TestStoreReplaysItsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.jsonl")
	s, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, key := range []string{"a", "b", "c"} {
		if _, _, err := s.Book(Booking{IdempotencyKey: key, Guest: "g", Room: "suite", Nights: 2}, time.UnixMilli(int64(1000*(i+1)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of a write leaves a torn last line.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"id":"b-4","idempo`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s, err = Open(path, false)
	if err != nil {
		t.Fatalf("reopening after a torn write: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if n := s.Len(); n != 3 {
		t.Fatalf("Len after replay = %d, want 3", n)
	}
	if b, ok := s.Get("b-2"); !ok || b.IdempotencyKey != "b" || b.Nights != 2 {
		t.Errorf("Get(b-2) = %+v, %v; want key b, 2 nights", b, ok)
	}
	// The torn line is gone: the next booking gets the next id and the
	// file replays again.
	if b, _, err := s.Book(Booking{IdempotencyKey: "d", Guest: "g", Room: "single", Nights: 1}, time.UnixMilli(5000)); err != nil || b.ID != "b-4" {
		t.Fatalf("Book after replay = %+v, %v; want b-4", b, err)
	}
	s.Close()
	s, err = Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 4 {
		t.Errorf("Len after the second replay = %d, want 4", n)
	}
}

func TestStoreOpenRefusesACorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.jsonl")
	if err := os.WriteFile(path, []byte("not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, false); err == nil {
		t.Fatal("Open of a corrupt file: no error")
	}
}

func TestStoreList(t *testing.T) {
	s, _ := Open("", false)
	for i, key := range []string{"a", "b", "c", "d"} {
		if _, _, err := s.Book(Booking{IdempotencyKey: key}, time.UnixMilli(int64(1000*(i+1)))); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name         string
		since, until time.Time
		want         []string
	}{
		{"unbounded", time.Time{}, time.Time{}, []string{"a", "b", "c", "d"}},
		{"since", time.UnixMilli(2000), time.Time{}, []string{"b", "c", "d"}},
		{"until is exclusive", time.Time{}, time.UnixMilli(3000), []string{"a", "b"}},
		{"both", time.UnixMilli(2000), time.UnixMilli(4000), []string{"b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, b := range s.List(tt.since, tt.until) {
				got = append(got, b.IdempotencyKey)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("List = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("List = %v, want %v", got, tt.want)
				}
			}
		})
	}
}
