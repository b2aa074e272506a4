package tcc_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/rm/tcc"
)

type testDB struct {
	name    string
	dialect tcc.Dialect
	db      *sql.DB
}

// databases opens both real databases (see internal/dbtest).
func databases(t *testing.T) []testDB {
	t.Helper()
	return []testDB{{"mysql", tcc.MySQL, dbtest.MySQL(t)}, {"postgres", tcc.Postgres, dbtest.Postgres(t)}}
}

// uniqueName returns a table name no concurrent test uses; the table is
// dropped at the end of the test.
func uniqueName(t *testing.T, db *sql.DB, prefix string) string { return dbtest.Table(t, db, prefix) }

// bizTable makes a business table in which tests record every business
// call: (xid, branch_id, phase). A call that ran twice leaves two rows.
func bizTable(t *testing.T, d testDB) string {
	t.Helper()
	name := uniqueName(t, d.db, "tcc_biz")
	if _, err := d.db.Exec("CREATE TABLE " + name + " (xid VARCHAR(128) NOT NULL, branch_id BIGINT NOT NULL, phase VARCHAR(16) NOT NULL, amount BIGINT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return name
}

func record(ctx context.Context, d tcc.Dialect, tx *sql.Tx, table string, b tcc.Branch, phase string, amount int64) error {
	q := "INSERT INTO " + table + " (xid, branch_id, phase, amount) VALUES (?, ?, ?, ?)"
	if d == tcc.Postgres {
		q = "INSERT INTO " + table + " (xid, branch_id, phase, amount) VALUES ($1, $2, $3, $4)"
	}
	_, err := tx.ExecContext(ctx, q, string(b.XID), int64(b.ID), phase, amount)
	return err
}

// calls counts the recorded business calls of one branch and phase.
func calls(t *testing.T, d testDB, table string, b tcc.Branch, phase string) int {
	t.Helper()
	q := "SELECT COUNT(*) FROM " + table + " WHERE xid = ? AND branch_id = ? AND phase = ?"
	if d.dialect == tcc.Postgres {
		q = "SELECT COUNT(*) FROM " + table + " WHERE xid = $1 AND branch_id = $2 AND phase = $3"
	}
	var n int
	if err := d.db.QueryRow(q, string(b.XID), int64(b.ID), phase).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitForLockWait returns once a statement on table, from another session,
// is running on the server (MySQL) or waits for a lock (PostgreSQL): a
// concurrent call has reached the row another transaction holds.
func waitForLockWait(t *testing.T, d testDB, table string) {
	t.Helper()
	q := "SELECT COUNT(*) FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND info LIKE CONCAT('%', ?, '%')"
	if d.dialect == tcc.Postgres {
		q = "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%'"
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var n int
		if err := d.db.QueryRowContext(t.Context(), q, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no statement on %s waits", table)
		}
	}
}
