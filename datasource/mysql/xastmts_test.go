package mysql_test

import (
	"context"
	"testing"

	"github.com/txcio/txc"
)

// TestXASessionKeepsStatements: the session that held a prepared branch
// goes, after phase 2, to the next connection with the statements the
// proxy prepared on it, so a branch running the same statement as the
// one before on that session prepares nothing again (a round trip to
// prepare and one to close per statement and branch, before).
func TestXASessionKeepsStatements(t *testing.T) {
	e := newEnv(t, "")
	db := e.openXA()
	db.SetMaxOpenConns(1)
	tbl := e.table("xa", "CREATE TABLE {t} (id INT, v INT)", "INSERT INTO {t} VALUES (1, 10)")
	type seen struct {
		session  int64
		prepared int64
	}
	branch := func() seen {
		var s seen
		xid, err := e.global(func(ctx context.Context) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = v + ? WHERE id = ?", 1, 1); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&s.session); err != nil {
				return err
			}
			var name string
			if err := tx.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Com_stmt_prepare'").Scan(&name, &s.prepared); err != nil {
				return err
			}
			return tx.Commit()
		})
		if err != nil {
			t.Fatal(err)
		}
		// Committed once phase 2 finished the branch on its session and
		// handed the session on.
		e.wait(xid, txc.GlobalCommitted)
		return s
	}
	first := branch()
	for i := range 3 {
		next := branch()
		if next.session != first.session {
			t.Fatalf("branch %d ran on session %d, not on %d, the one phase 2 handed on", i+2, next.session, first.session)
		}
		if next.prepared != first.prepared {
			t.Fatalf("branch %d: the session has prepared %d statements, %d after the first branch", i+2, next.prepared, first.prepared)
		}
	}
	if v := e.value(tbl, 1); v != 14 {
		t.Fatalf("v = %d, want 14", v)
	}
}
