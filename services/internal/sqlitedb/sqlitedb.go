// Package sqlitedb opens the SQLite database a service owns: pure Go
// (modernc.org/sqlite, no cgo), WAL journal, synchronous=FULL so that a
// committed transaction survives kill -9 and power loss, and a busy timeout
// so that concurrent writers queue instead of failing.
package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

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
	tx, err := db.BeginTx(ctx, nil)
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
