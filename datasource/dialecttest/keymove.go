package dialecttest

import (
	"context"
	"errors"
	"testing"

	"github.com/txcio/txc"
)

// keyMoveReferencedByOtherKey: rolling back a change of the primary key
// of rows that rows of another table reference through a different
// unique column (which the change kept) moves the rows back to their old
// keys in place: the referencing rows still find the same values, and
// nothing is deleted, orphaned or left waiting (undone as a delete and a
// re-insert, the delete was refused as removing a referenced row at
// every retry, and on PostgreSQL would fire the key's ON DELETE action).
// A moved row changed outside the global transaction parks the rollback,
// nothing overwritten.
func keyMoveReferencedByOtherKey(t *testing.T, e *Env) {
	parent := e.Table("dt_mvp", "CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, code VARCHAR(10) NOT NULL UNIQUE, v INT)",
		"INSERT INTO {t} (id, code, v) VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)")
	child := e.Table("dt_mvc", "CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, code VARCHAR(10) NOT NULL, "+
		"FOREIGN KEY (code) REFERENCES "+parent+" (code) ON DELETE CASCADE ON UPDATE CASCADE)",
		"INSERT INTO {t} (id, code) VALUES (1, 'a'), (2, 'b')")
	both := func() string { return e.Dump(parent) + "--\n" + e.Dump(child) }
	// run runs stmts through the proxy, then outside (unless ""), in a
	// global transaction that rolls back.
	run := func(outside string, stmts ...string) txc.XID {
		xid, err := e.Coordinator.Global(func(ctx context.Context) error {
			for _, s := range stmts {
				if _, err := e.Proxy.ExecContext(ctx, s); err != nil {
					return err
				}
			}
			if outside != "" {
				if _, err := e.Plain.Exec(outside); err != nil {
					return err
				}
			}
			return ErrRollback
		})
		if !errors.Is(err, ErrRollback) {
			t.Fatal(err)
		}
		return xid
	}
	before := both()
	xid := run("", "UPDATE "+parent+" SET id = id + 100, v = v + 1 WHERE id <= 2", "UPDATE "+parent+" SET id = 7 WHERE id = 3")
	if st := e.Coordinator.Wait(t, xid, txc.GlobalRollbacked, txc.GlobalRollbackRetrying, txc.GlobalRollbackFailed); st != txc.GlobalRollbacked {
		t.Fatalf("rollback: %v", st)
	}
	if got := both(); got != before {
		t.Fatalf("after the rollback:\n%s\nwant:\n%s", got, before)
	}
	if n := e.undoRows(t, xid); n != 0 {
		t.Fatalf("%d undo rows left", n)
	}

	xid = run("UPDATE "+parent+" SET v = 99 WHERE id = 9", "UPDATE "+parent+" SET id = 9 WHERE id = 1")
	written := both()
	if st := e.Coordinator.Wait(t, xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed); st != txc.GlobalRollbackFailed {
		t.Fatalf("rollback over a dirty write: %v", st)
	}
	if got := both(); got != written {
		t.Fatalf("after the parked rollback:\n%s\nwant:\n%s", got, written)
	}
}
