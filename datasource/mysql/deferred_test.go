package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/txcio/txc"
	txcmysql "github.com/txcio/txc/datasource/mysql"
)

// localTx runs stmts in one local transaction through the proxy and
// commits it; the after images are read when it commits (checked by
// counting the after-image queries: one per table whose rows no later
// statement found).
func localTx(ctx context.Context, db *sql.DB, stmts ...string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	before := txcmysql.AfterQueries()
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			tx.Rollback()
			return err
		}
	}
	if n := txcmysql.AfterQueries() - before; n != 0 {
		tx.Rollback()
		return fmt.Errorf("%d after-image queries before the commit, want none", n)
	}
	return tx.Commit()
}

// TestDeferredAfterImages: single-table UPDATEs that keep their keys take
// their after images at local commit, all rows of a table in one query;
// a row written again later in the same local transaction gets, as the
// after image of the earlier statement, what the later one found. The
// rollback (which checks every record's after image against the rows,
// newest first) restores the table byte for byte, and commit keeps the
// final rows.
func TestDeferredAfterImages(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_defer", kv, kvSeed)
	other := e.table("at_defer2", kv, kvSeed)
	stmts := []string{
		"UPDATE " + tb + " SET n = n + 1 WHERE id = 1",
		"UPDATE " + tb + " SET n = n * 10, s = 'a2' WHERE id = 1", // row 1 again
		"UPDATE " + tb + " SET n = n - 1 WHERE id IN (2, 3)",
		"UPDATE " + other + " SET n = 0 WHERE id = 4",
		"DELETE FROM " + tb + " WHERE id = 3",          // row 3's last state is its delete's before image
		"UPDATE " + tb + " SET n = n WHERE id = 4",     // matched, not changed
		"UPDATE " + tb + " SET n = n + 5 WHERE id = 1", // row 1 a third time
	}
	orig, origOther := e.dump(tb), e.dump(other)

	before := txcmysql.AfterQueries()
	xid, err := e.global(func(ctx context.Context) error {
		err := localTx(ctx, e.db, stmts...)
		// One read per table at the commit: tb (rows 1, 2 and 4; row 3's
		// last state is its DELETE's before image) and other (row 4).
		if n := txcmysql.AfterQueries() - before; n != 2 {
			t.Errorf("%d after-image queries, want 2, at the commit", n)
		}
		if err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(tb); got != orig {
		t.Fatalf("rollback left\n%s\nwant\n%s", got, orig)
	}
	if got := e.dump(other); got != origOther {
		t.Fatalf("rollback left\n%s\nwant\n%s", got, origOther)
	}

	// The same statements committed: the rows are the statements' result.
	xid, err = e.global(func(ctx context.Context) error { return localTx(ctx, e.db, stmts...) })
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	// The coordinator counts the branch committed at the decision and
	// notifies the RM, which deletes the undo row a moment later.
	for deadline := time.Now().Add(10 * time.Second); e.undoRows(xid) != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d undo rows left after the commit finished", e.undoRows(xid))
		}
	}
	var n1, n2, n4 int
	var s1 string
	var n3 sql.NullInt64
	e.plain.QueryRow("SELECT n, s FROM "+tb+" WHERE id = 1").Scan(&n1, &s1)
	e.plain.QueryRow("SELECT n FROM " + tb + " WHERE id = 2").Scan(&n2)
	e.plain.QueryRow("SELECT n FROM " + tb + " WHERE id = 3").Scan(&n3)
	e.plain.QueryRow("SELECT n FROM " + tb + " WHERE id = 4").Scan(&n4)
	if n1 != 115 || s1 != "a2" || n2 != 19 || n3.Valid || n4 != 40 {
		t.Fatalf("committed rows: 1 = (%d, %q), 2 = %d, 3 = %v, 4 = %d", n1, s1, n2, n3, n4)
	}
}

// TestDeferredAfterImageDirtyWrite: a row a local transaction wrote twice
// and that a writer outside the global transaction changes afterwards is
// not overwritten by the rollback, and nothing of the branch is restored.
func TestDeferredAfterImageDirtyWrite(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_defer_dirty", kv, kvSeed)
	xid, err := e.global(func(ctx context.Context) error {
		if err := localTx(ctx, e.db,
			"UPDATE "+tb+" SET n = 11 WHERE id = 1",
			"UPDATE "+tb+" SET n = 12 WHERE id = 1",
			"UPDATE "+tb+" SET n = 22 WHERE id = 2"); err != nil {
			return err
		}
		if _, err := e.plain.ExecContext(ctx, "UPDATE "+tb+" SET n = 999 WHERE id = 1"); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbackFailed)
	var n1, n2 int
	e.plain.QueryRow("SELECT n FROM " + tb + " WHERE id = 1").Scan(&n1)
	e.plain.QueryRow("SELECT n FROM " + tb + " WHERE id = 2").Scan(&n2)
	if n1 != 999 || n2 != 22 {
		t.Fatalf("rows n = %d, %d; want the dirty 999 kept and nothing of the branch restored (22)", n1, n2)
	}
}
