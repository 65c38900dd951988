package faults

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// LedgerFile is the name of the fault ledger in a lab's run directory.
const LedgerFile = "faults.ledger.jsonl"

// LedgerPath returns the path of the fault ledger of the lab whose run
// directory is runDir.
func LedgerPath(runDir string) string { return filepath.Join(runDir, LedgerFile) }

// The events of the ledger, in the order a fault goes through them.
const (
	// EventIntent is written before a fault is applied: from then on, the
	// fault counts as possibly in place.
	EventIntent = "intent"
	// EventApplied is written once the fault is in place.
	EventApplied = "applied"
	// EventRemoved is written once the fault is gone (removed, or undone
	// after applying it failed): it is no longer pending.
	EventRemoved = "removed"
	// EventError records a failed attempt to apply or remove a fault; the
	// fault stays pending.
	EventError = "error"
)

// Applied is one fault the injector applied (or was about to apply): what
// the ledger records and what Remove takes back.
type Applied struct {
	// ID is unique across runs: "f-<unix nanos>-<n>".
	ID string `json:"id"`
	// RunID, Scenario and Phase say where the fault came from.
	RunID    string `json:"run_id"`
	Scenario string `json:"scenario"`
	Phase    string `json:"phase"`
	// Spec is the fault.
	Spec Spec `json:"spec"`
	// Handle is what removing the fault needs (see the Handle* keys).
	Handle map[string]string `json:"handle"`
	// AppliedAt is when the fault was in place; zero while it is only
	// intended.
	AppliedAt time.Time `json:"applied_at,omitzero"`
}

// The keys of Applied.Handle.
const (
	HandleProxy   = "proxy"    // network: the Toxiproxy proxy
	HandleToxic   = "toxic"    // network: the toxic's name ("" for down)
	HandleService = "service"  // process, request, container: the service
	HandleFaultID = "fault_id" // request: the id of the in-service fault
	HandleAction  = "action"   // process, container: the action
)

// Summary describes the fault for a person in a few words: "network latency
// on api->store", "process kill on store", "request fault
// /ledger.v1.LedgerService/Debit on ledger", "container disconnect on
// ledger".
func (a Applied) Summary() string {
	if f := a.Spec.Fault(); f != nil {
		return f.summary()
	}
	return a.Spec.String()
}

// Record is one line of the ledger.
type Record struct {
	// Event is one of the Event* constants.
	Event string `json:"event"`
	// At is when the record was written.
	At time.Time `json:"at"`
	// ID is the fault's Applied.ID, or the knobs' Knobs.ID.
	ID string `json:"id"`
	// Fault is the whole fault, on a fault's intent and applied records.
	Fault *Applied `json:"fault,omitempty"`
	// Knobs are the whole knobs, on the intent and applied records of a
	// service restarted with knobs (see Injector.ApplyKnobs).
	Knobs *Knobs `json:"knobs,omitempty"`
	// Error is why an attempt failed, on error records.
	Error string `json:"error,omitempty"`
}

// Ledger is the append-only record of the faults applied to a lab: one JSON
// Record per line, each written with a single write and fsynced before the
// call returns, so that a runner killed at any point leaves enough behind
// for the next run (or `chaoslab clean`) to remove what it applied. Several
// processes may append to the same file.
type Ledger struct {
	path string
	mu   sync.Mutex
	f    *os.File
	now  func() time.Time
}

// OpenLedger opens (creating it if needed) the ledger at path, usually
// LedgerPath(runDir).
func OpenLedger(path string) (*Ledger, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("opening the fault ledger: %w", err)
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the fault ledger: %w", err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		syncDir(filepath.Dir(path)) // make the new file's name durable
	}
	l := &Ledger{path: path, f: f, now: time.Now}
	if err := l.terminateTornLine(); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// terminateTornLine ends the file with a newline when a crash cut its last
// record short, so that the next record starts on a line of its own.
func (l *Ledger) terminateTornLine() error {
	info, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("opening the fault ledger: %w", err)
	}
	if info.Size() == 0 {
		return nil
	}
	last := make([]byte, 1)
	if _, err := l.f.ReadAt(last, info.Size()-1); err != nil {
		return fmt.Errorf("reading the fault ledger %s: %w", l.path, err)
	}
	if last[0] == '\n' {
		return nil
	}
	if _, err := l.f.Write([]byte("\n")); err != nil {
		return fmt.Errorf("writing the fault ledger %s: %w", l.path, err)
	}
	return l.f.Sync()
}

// syncDir fsyncs a directory, best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Path is the ledger's file.
func (l *Ledger) Path() string { return l.path }

// Close closes the ledger's file.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// append writes r as one line and fsyncs it.
func (l *Ledger) append(r Record) error {
	if r.At.IsZero() {
		r.At = l.now().UTC()
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding a ledger record: %w", err)
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("writing the fault ledger %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("syncing the fault ledger %s: %w", l.path, err)
	}
	return nil
}

// Records returns every record of the ledger, in order. Lines that are not
// a whole record (the last write of a crashed process) are skipped: a
// record is written before its fault is acted on, so a torn one was never
// acted on.
func (l *Ledger) Records() ([]Record, error) {
	b, err := os.ReadFile(l.path)
	if err != nil {
		return nil, fmt.Errorf("reading the fault ledger: %w", err)
	}
	var out []Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r Record
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.ID == "" || r.Event == "" {
			continue
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the fault ledger %s: %w", l.path, err)
	}
	return out, nil
}

// Pending returns the faults that were intended or applied and not yet
// removed, in the order they were first recorded, each as last recorded.
func (l *Ledger) Pending() ([]Applied, error) {
	faults, _, err := l.pending()
	return faults, err
}

// PendingKnobs returns the knobs that were intended or applied and not yet
// removed (their service may still run with them), in the order they were
// first recorded, each as last recorded.
func (l *Ledger) PendingKnobs() ([]Knobs, error) {
	_, knobs, err := l.pending()
	return knobs, err
}

// pending returns the pending faults and knobs.
func (l *Ledger) pending() ([]Applied, []Knobs, error) {
	recs, err := l.Records()
	if err != nil {
		return nil, nil, err
	}
	faults := make(map[string]Applied)
	knobs := make(map[string]Knobs)
	var order []string
	seen := make(map[string]bool)
	for _, r := range recs {
		switch r.Event {
		case EventIntent, EventApplied:
			switch {
			case r.Fault != nil:
				faults[r.ID] = *r.Fault
			case r.Knobs != nil:
				knobs[r.ID] = *r.Knobs
			default:
				continue
			}
			if !seen[r.ID] {
				seen[r.ID] = true
				order = append(order, r.ID)
			}
		case EventRemoved:
			delete(faults, r.ID)
			delete(knobs, r.ID)
		}
	}
	var outFaults []Applied
	var outKnobs []Knobs
	for _, id := range order {
		if a, ok := faults[id]; ok {
			outFaults = append(outFaults, a)
		}
		if k, ok := knobs[id]; ok {
			outKnobs = append(outKnobs, k)
		}
	}
	if outFaults == nil {
		outFaults = []Applied{}
	}
	return outFaults, outKnobs, nil
}
