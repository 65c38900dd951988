package calendar

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// Booking is one booking as the store keeps it.
type Booking struct {
	ID             string `json:"id"`
	IdempotencyKey string `json:"idempotency_key"`
	Guest          string `json:"guest"`
	Room           string `json:"room"`
	Nights         int32  `json:"nights"`
	TotalCents     int64  `json:"total_cents"`
	QuoteID        string `json:"quote_id"`
	CreatedUnixMS  int64  `json:"created_unix_ms"`
}

// Store holds the bookings in memory and, with a path, appends each one as
// a JSON line to a file it replays when it opens: a booking Book returned
// is in the file (and with fsync on, on disk) before Book returns.
type Store struct {
	mu    sync.Mutex
	f     *os.File // nil: memory only
	fsync bool
	byID  map[string]*Booking
	byKey map[string]*Booking
	all   []*Booking // in creation order
}

// Open opens the store at path, creating the file if needed and replaying
// it; an empty path keeps the bookings in memory only. A last line cut
// short by a crash is dropped.
func Open(path string, fsync bool) (*Store, error) {
	s := &Store{fsync: fsync, byID: map[string]*Booking{}, byKey: map[string]*Booking{}}
	if path == "" {
		return s, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the bookings file: %w", err)
	}
	good, err := s.replay(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("replaying %s: %w", path, err)
	}
	// Drop a torn last line, then append after the good ones.
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("truncating the torn end of %s: %w", path, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seeking in %s: %w", path, err)
	}
	s.f = f
	return s, nil
}

// replay reads the bookings of r and returns the length of its complete,
// decodable lines.
func (s *Store) replay(r io.Reader) (int64, error) {
	br := bufio.NewReader(r)
	var good int64
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return good, nil // b, if any, is a torn line
		}
		if err != nil {
			return good, err
		}
		var bk Booking
		if err := json.Unmarshal(bytes.TrimSpace(b), &bk); err != nil || bk.ID == "" {
			return good, fmt.Errorf("line %d is not a booking: %v", line, err)
		}
		s.add(&bk)
		good += int64(len(b))
	}
}

func (s *Store) add(b *Booking) {
	s.byID[b.ID] = b
	s.byKey[b.IdempotencyKey] = b
	s.all = append(s.all, b)
}

// Book records b under its idempotency key and returns it with its id and
// creation time, or the booking already made with that key and true.
func (s *Store) Book(b Booking, now time.Time) (Booking, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.byKey[b.IdempotencyKey]; ok {
		return *old, true, nil
	}
	b.ID = "b-" + strconv.Itoa(len(s.all)+1)
	b.CreatedUnixMS = now.UnixMilli()
	if s.f != nil {
		line, err := json.Marshal(b)
		if err != nil {
			return Booking{}, false, fmt.Errorf("encoding booking: %w", err)
		}
		if _, err := s.f.Write(append(line, '\n')); err != nil {
			return Booking{}, false, fmt.Errorf("writing booking: %w", err)
		}
		if s.fsync {
			if err := s.f.Sync(); err != nil {
				return Booking{}, false, fmt.Errorf("syncing booking: %w", err)
			}
		}
	}
	s.add(&b)
	return b, false, nil
}

// Get returns the booking with id.
func (s *Store) Get(id string) (Booking, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.byID[id]
	if !ok {
		return Booking{}, false
	}
	return *b, true
}

// List returns the bookings created in [since, until), oldest first; a zero
// bound is unbounded.
func (s *Store) List(since, until time.Time) []Booking {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Booking
	for _, b := range s.all {
		if !since.IsZero() && b.CreatedUnixMS < since.UnixMilli() {
			continue
		}
		if !until.IsZero() && b.CreatedUnixMS >= until.UnixMilli() {
			continue
		}
		out = append(out, *b)
	}
	return out
}

// Len is the number of bookings.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.all)
}

// Close closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
