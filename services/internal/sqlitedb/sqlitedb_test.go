package sqlitedb

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOpenAppliesWALAndDurablePragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "db.sqlite")
	db, err := Open(t.Context(), path, `CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT)`)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })

	var mode string
	require.NoError(t, db.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode))
	require.Equal(t, "wal", mode)
	var sync int
	require.NoError(t, db.QueryRowContext(t.Context(), `PRAGMA synchronous`).Scan(&sync))
	require.Equal(t, 2, sync, "synchronous must be FULL (2)")

	_, err = db.ExecContext(t.Context(), `INSERT INTO kv VALUES ('a', 'b')`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	// Reopening sees the committed row: the schema statement is idempotent.
	db2, err := Open(t.Context(), path, `CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT)`)
	require.NoError(t, err)
	t.Cleanup(func() { db2.Close() })
	var v string
	require.NoError(t, db2.QueryRowContext(t.Context(), `SELECT v FROM kv WHERE k = 'a'`).Scan(&v))
	require.Equal(t, "b", v)
}

func TestOpenRejectsBadInput(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		schema string
	}{
		{"empty path", "", ""},
		{"bad schema", filepath.Join(t.TempDir(), "x.db"), "CREATE NONSENSE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(t.Context(), tt.path, tt.schema)
			require.Error(t, err)
		})
	}
}

func TestInTxCommitsOrRollsBack(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "tx.db"), `CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT)`)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })

	require.NoError(t, InTx(t.Context(), db, "writing a", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(t.Context(), `INSERT INTO kv VALUES ('a', '1')`)
		return err
	}))
	err = InTx(t.Context(), db, "writing b", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(t.Context(), `INSERT INTO kv VALUES ('b', '2')`); err != nil {
			return err
		}
		return errors.New("boom")
	})
	require.ErrorContains(t, err, "writing b: boom")

	var n int
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT count(*) FROM kv`).Scan(&n))
	require.Equal(t, 1, n, "the failed transaction left nothing")
}
