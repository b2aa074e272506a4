package mysql_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc"
)

// A deadlock makes InnoDB roll back the victim's whole transaction, not
// just the statement: the server then runs the session's next statements
// outside any transaction, committing each at once. The proxy fails the
// local transaction instead: its next statements are refused and Commit
// rolls back, so no write of a global transaction commits without its
// undo log, and none that the deadlock undid is reported committed. A
// ROLLBACK TO a savepoint set before the deadlock is refused too: the
// savepoint went with the transaction.
func TestDeadlockFailsLocalTransaction(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_dl", kv, kvSeed)
	heavy := e.table("at_dlh", "CREATE TABLE {t} (id INT PRIMARY KEY, n INT)")
	for i := 0; i < 200; i++ {
		if _, err := e.plain.Exec("INSERT INTO "+heavy+" VALUES (?, 0)", i); err != nil {
			t.Fatal(err)
		}
	}
	seed := e.dump(tb)
	ctx := context.Background()
	other, err := e.plain.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	// The other transaction writes many rows (InnoDB picks the lighter
	// one as the victim) and row 2.
	if _, err := other.Exec("UPDATE " + heavy + " SET n = n + 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec("UPDATE " + tb + " SET n = n + 100 WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	var deadlock, after, rollbackTo, commit error
	xid, gerr := e.global(func(ctx context.Context) error {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 1 WHERE id = 1"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT s"); err != nil {
			return err
		}
		blocked := make(chan error, 1)
		go func() {
			_, err := tx.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 1 WHERE id = 2")
			blocked <- err
		}()
		// Wait until the statement is on the server (its image waits for
		// row 2, which the other holds), then close the cycle: whichever
		// lock is asked for last, InnoDB finds the deadlock.
		deadline := time.Now().Add(30 * time.Second)
		for {
			var n int
			if err := e.plain.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE ?", "SELECT%"+tb+"%FOR UPDATE").Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				return errors.New("the statement on row 2 never reached the server")
			}
			time.Sleep(time.Millisecond)
		}
		if _, err := other.Exec("UPDATE " + tb + " SET n = n + 100 WHERE id = 1"); err != nil {
			return err
		}
		deadlock = <-blocked
		// Code that carries on after the error, as an upsert that
		// catches one error and tries something else would.
		_, after = tx.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 1 WHERE id = 3")
		// The deadlock took the savepoints with the transaction: no
		// ROLLBACK TO clears the failure.
		_, rollbackTo = tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT s")
		commit = tx.Commit()
		return nil
	})
	if gerr != nil && deadlock == nil {
		t.Fatal(gerr)
	}
	var me *gomysql.MySQLError
	if !errors.As(deadlock, &me) || me.Number != 1213 {
		t.Fatalf("the blocked statement: %v, want the deadlock (1213)", deadlock)
	}
	if !errors.Is(after, txc.ErrRolledBack) || !strings.Contains(after.Error(), "rolled back") {
		t.Errorf("a statement after the deadlock: %v, want a refusal saying the local transaction was rolled back", after)
	}
	if !errors.Is(rollbackTo, txc.ErrRolledBack) {
		t.Errorf("ROLLBACK TO SAVEPOINT after the deadlock: %v, want a refusal saying the local transaction was rolled back", rollbackTo)
	}
	if commit == nil {
		t.Errorf("Commit after the deadlock succeeded")
	}
	if gerr == nil {
		if st := e.wait(xid, txc.GlobalCommitted, txc.GlobalRollbacked); st != txc.GlobalCommitted {
			t.Fatalf("transaction ended %v", st)
		}
	}
	other.Rollback()
	if got := e.dump(tb); got != seed {
		t.Fatalf("after the deadlocked global transaction:\n%s\nseed:\n%s", got, seed)
	}
}
