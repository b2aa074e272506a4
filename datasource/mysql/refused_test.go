package mysql_test

import (
	"context"
	"errors"
	"testing"

	"github.com/txcio/txc"
)

// TestRefusedOrFailedAfterRunning: a statement refused before it ran
// matches txc.ErrRefused (and txc.ErrUnsupported), and its local
// transaction goes on; one that ran and then could not be imaged matches
// txc.ErrUnsupported but not txc.ErrRefused, and its local transaction
// can only roll back.
func TestRefusedOrFailedAfterRunning(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_refused", kv, kvSeed)
	nopk := e.table("at_refused_nopk", "CREATE TABLE {t} (a INT, b INT)", "INSERT INTO {t} VALUES (1, 1)")
	before := e.dump(tb)
	_, err := e.global(func(ctx context.Context) error {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		_, err = tx.ExecContext(ctx, "UPDATE "+nopk+" SET b = 2")
		if !errors.Is(err, txc.ErrRefused) || !errors.Is(err, txc.ErrUnsupported) {
			t.Errorf("a table without primary key: %v, want a refusal", err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 1 WHERE id = 2"); err != nil {
			t.Errorf("the local transaction did not go on after a refusal: %v", err)
		}
		// Two rows meeting one existing row through different unique keys:
		// the server's count cannot be checked against the images.
		_, err = tx.ExecContext(ctx, "INSERT INTO "+tb+" VALUES (1, 0, 'x'), (9, 0, 'a') ON DUPLICATE KEY UPDATE n = n + 1")
		if !errors.Is(err, txc.ErrUnsupported) || errors.Is(err, txc.ErrRefused) {
			t.Errorf("a statement that ran and failed: %v, want ErrUnsupported without ErrRefused", err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+tb+" SET n = 0 WHERE id = 3"); !errors.Is(err, txc.ErrRolledBack) {
			t.Errorf("a statement after a failed one: %v, want the local transaction refused", err)
		}
		if err := tx.Commit(); err == nil {
			t.Error("the commit of a local transaction that can only roll back succeeded")
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if got := e.dump(tb); got != before {
		t.Fatalf("after:\n%s\nwant:\n%s", got, before)
	}
}
