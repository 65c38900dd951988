package sqlitedb

import (
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

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

// Two handles on one file are two writers, as two replicas sharing their
// service's database are: every transaction of both commits (each waits
// for the other's lock, none fails with SQLITE_BUSY), and the busy timeout
// is back on the connection afterwards.
func TestInTxWaitsForAnotherWritersLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	const schema = `CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`
	a, err := Open(t.Context(), path, schema)
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	b, err := Open(t.Context(), path, schema)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	_, err = a.ExecContext(t.Context(), `INSERT INTO counter VALUES (1, 0)`)
	require.NoError(t, err)

	const each = 60
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for _, db := range []*sql.DB{a, b} {
		for range each {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- InTx(t.Context(), db, "incrementing", func(tx *sql.Tx) error {
					var n int
					if err := tx.QueryRow(`SELECT n FROM counter WHERE id = 1`).Scan(&n); err != nil {
						return err
					}
					time.Sleep(200 * time.Microsecond) // hold the lock a moment
					_, err := tx.Exec(`UPDATE counter SET n = ? WHERE id = 1`, n+1)
					return err
				})
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var n int
	require.NoError(t, a.QueryRow(`SELECT n FROM counter WHERE id = 1`).Scan(&n))
	require.Equal(t, 2*each, n, "no increment lost: the transactions were serialised across both handles")
	var timeout int
	require.NoError(t, b.QueryRow(`PRAGMA busy_timeout`).Scan(&timeout))
	require.Equal(t, int(busyWait.Milliseconds()), timeout, "the busy timeout is back on")
}
