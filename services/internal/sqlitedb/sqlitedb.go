// Package sqlitedb opens the SQLite database a service owns: pure Go
// (modernc.org/sqlite, no cgo), WAL journal, synchronous=FULL so that a
// committed transaction survives kill -9 and power loss, and a busy timeout
// so that concurrent writers queue instead of failing.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Open opens (creating if needed) the database file at path and applies
// schema, a sequence of idempotent DDL statements (CREATE TABLE IF NOT EXISTS …).
// The pool holds one connection: SQLite serialises writers anyway, and one
// connection makes BEGIN IMMEDIATE transactions never see SQLITE_BUSY.
func Open(ctx context.Context, path string, schema ...string) (*sql.DB, error) {
	if path == "" {
		return nil, fmt.Errorf("opening database: empty path")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("opening database %s: %w", path, err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	for _, stmt := range schema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("applying schema to %s: %w", path, err)
		}
	}
	return db, nil
}

// InTx runs fn in one transaction and commits it when fn succeeds; errors
// are wrapped with what. Databases from Open begin transactions with BEGIN
// IMMEDIATE, so fn holds the write lock from its first statement and
// concurrent calls are serialised.
func InTx(ctx context.Context, db *sql.DB, what string, fn func(*sql.Tx) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer conn.Close()
	tx, err := beginImmediate(ctx, conn)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := fn(tx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// busyWait bounds how long beginImmediate waits for another process's
// writer, as busy_timeout does for everything else.
const busyWait = 5 * time.Second

// beginImmediate begins a BEGIN IMMEDIATE transaction on conn, waiting for
// a writer of another process (the replicas of a service share its
// database) in steps of at most a millisecond. SQLite's own busy handler
// sleeps 1, 2, 5, 10, … up to 100 ms between its tries, so that two
// processes writing the same file at 100 transactions per second wait tens
// of milliseconds for locks held for one: measured with two replicas of
// inventory under `RATE=100 make load`, its Reserve p99 was 180 ms. The
// busy timeout is off while the transaction begins and back on once it has.
func beginImmediate(ctx context.Context, conn *sql.Conn) (*sql.Tx, error) {
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		return nil, err
	}
	restore := func() error {
		_, err := conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA busy_timeout = %d", busyWait.Milliseconds()))
		return err
	}
	deadline := time.Now().Add(busyWait)
	for {
		tx, err := conn.BeginTx(ctx, nil)
		if err == nil {
			if rerr := restore(); rerr != nil {
				tx.Rollback() //nolint:errcheck // the restore's error is the one to report
				return nil, rerr
			}
			return tx, nil
		}
		if !isBusy(err) || time.Now().After(deadline) {
			return nil, errors.Join(err, restore())
		}
		t := time.NewTimer(time.Duration(200+rand.IntN(800)) * time.Microsecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, errors.Join(ctx.Err(), restore())
		case <-t.C:
		}
	}
}

// isBusy reports whether err is SQLITE_BUSY (the database is locked by
// another connection).
func isBusy(err error) bool {
	var coded interface{ Code() int }
	return errors.As(err, &coded) && coded.Code()&0xff == 5 // SQLITE_BUSY and its extended codes
}
