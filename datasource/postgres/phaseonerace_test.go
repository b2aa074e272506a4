package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tm"
)

// TestRollbackMeetsLatePhaseOne: a rollback whose branch's phase 1 commits
// its undo log while the rollback looks for it. PostgreSQL's locking read
// neither sees nor waits for a row inserted by an open transaction, so
// the rollback finds no undo log and inserts its finished marker, which
// waits for that transaction and then finds the undo row in its place.
// The rollback must not count that as done (it would leave the rows
// changed and the undo log behind): it is retried and restores them.
//
// The phase-1 side is played on a plain connection: the branch's undo
// row is taken out after its commit and inserted again in a transaction
// held open until the rollback waits on it.
func TestRollbackMeetsLatePhaseOne(t *testing.T) {
	e := newEnv(t)
	c := e.coordinator()
	tb := e.table("race", "CREATE TABLE {t} (id INT PRIMARY KEY, n INT NOT NULL)", "INSERT INTO {t} VALUES (1, 10)")
	before := e.dump(tb)
	g, ctx, err := c.TM.Begin(context.Background(), tm.Config{Name: "race", Timeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = 11 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	var branch int64
	var log []byte
	if err := e.plain.QueryRow("DELETE FROM txc_undo_log WHERE xid = $1 AND state = 0 RETURNING branch_id, log", string(g.XID())).Scan(&branch, &log); err != nil {
		t.Fatal(err)
	}
	phase1, err := e.plain.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer phase1.Rollback()
	if _, err := phase1.Exec("INSERT INTO txc_undo_log (xid, branch_id, state, log) VALUES ($1, $2, 0, $3)", string(g.XID()), branch, log); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Rollback(context.Background()) }()
	waitForLockWait(t, e, "txc_undo_log")
	if err := phase1.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the rollback did not end")
	}
	if st := c.Wait(t, g.XID(), txc.GlobalRollbacked, txc.GlobalRollbackFailed); st != txc.GlobalRollbacked {
		t.Fatalf("status %v", st)
	}
	if got := e.dump(tb); got != before {
		t.Fatalf("rows after the rollback:\n%s\nwant\n%s", got, before)
	}
	var left int
	if err := e.plain.QueryRow("SELECT COUNT(*) FROM txc_undo_log WHERE xid = $1 AND state = 0", string(g.XID())).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d undo logs left (%v)", left, err)
	}
}
