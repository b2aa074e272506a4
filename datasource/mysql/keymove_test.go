package mysql_test

import (
	"context"
	"errors"
	"testing"

	"github.com/txcio/txc"
)

// TestRollbackKeyChangeOfRowReferencedByOtherKey: rolling back a change
// of the primary key of a row that rows of another table reference
// through a different unique column (which the change kept) moves the
// row back to its old key in place: the referencing row still finds the
// same value, nothing is deleted, orphaned or left waiting (the delete
// of the new key was refused as removing a referenced row, and the
// rollback retried forever).
func TestRollbackKeyChangeOfRowReferencedByOtherKey(t *testing.T) {
	e := newEnv(t, "")
	parent := e.table("at_mvp", "CREATE TABLE {t} (id INT PRIMARY KEY, code VARCHAR(10) NOT NULL UNIQUE, v INT) ENGINE=InnoDB",
		"INSERT INTO {t} VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)")
	child := e.table("at_mvc", "CREATE TABLE {t} (id INT PRIMARY KEY, code VARCHAR(10) NOT NULL, FOREIGN KEY (code) REFERENCES "+parent+"(code) ON DELETE CASCADE ON UPDATE CASCADE) ENGINE=InnoDB",
		"INSERT INTO {t} VALUES (1, 'a'), (2, 'b')")
	before := e.dump(parent) + e.dump(child)
	xid, err := e.global(func(ctx context.Context) error {
		if _, err := e.db.ExecContext(ctx, "UPDATE "+parent+" SET id = id + 100, v = v + 1 WHERE id <= 2"); err != nil {
			return err
		}
		if _, err := e.db.ExecContext(ctx, "UPDATE "+parent+" SET id = 7 WHERE id = 3"); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if st := e.wait(xid, txc.GlobalRollbacked, txc.GlobalRollbackRetrying, txc.GlobalRollbackFailed); st != txc.GlobalRollbacked {
		t.Fatalf("rollback: %v", st)
	}
	if got := e.dump(parent) + e.dump(child); got != before {
		t.Fatalf("after the rollback:\n%s\nwant:\n%s", got, before)
	}
	if n := e.undoRows(xid); n != 0 {
		t.Fatalf("%d undo rows left", n)
	}

	// The moved row changed outside the global transaction: parked,
	// nothing overwritten.
	xid, err = e.global(func(ctx context.Context) error {
		if _, err := e.db.ExecContext(ctx, "UPDATE "+parent+" SET id = 9 WHERE id = 1"); err != nil {
			return err
		}
		if _, err := e.plain.Exec("UPDATE " + parent + " SET v = 99 WHERE id = 9"); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	written := e.dump(parent) + e.dump(child)
	if st := e.wait(xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed); st != txc.GlobalRollbackFailed {
		t.Fatalf("rollback over a dirty write: %v", st)
	}
	if got := e.dump(parent) + e.dump(child); got != written {
		t.Fatalf("after the parked rollback:\n%s\nwant:\n%s", got, written)
	}
}
