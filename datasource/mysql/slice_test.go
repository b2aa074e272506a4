package mysql_test

import (
	"context"
	"testing"

	"github.com/txcio/txc"
)

func TestSliceUpdateCommitAndRollback(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_slice", "CREATE TABLE {t} (id INT PRIMARY KEY, n INT NOT NULL)", "INSERT INTO {t} VALUES (1, 10), (2, 20)")
	seed := e.dump(tb)
	xid, err := e.global(func(ctx context.Context) error {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+tb+" SET n = n + ? WHERE id = ?", 5, 1); err != nil {
			tx.Rollback()
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+tb+" VALUES (3, 30)"); err != nil {
			tx.Rollback()
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+tb+" WHERE id = 2"); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		return errRollback
	})
	if err == nil {
		t.Fatal("want the rollback error")
	}
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(tb); got != seed {
		t.Fatalf("after rollback:\n%s\nwant:\n%s", got, seed)
	}
	if n := e.undoRows(xid); n != 0 {
		t.Fatalf("%d undo rows left", n)
	}
	xid, err = e.global(func(ctx context.Context) error {
		_, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = n + ? WHERE id = ?", 5, 1)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	var n int
	e.plain.QueryRow("SELECT n FROM " + tb + " WHERE id = 1").Scan(&n)
	if n != 15 {
		t.Fatalf("n = %d, want 15", n)
	}
}
