package mysql_test

import (
	"context"
	"testing"
)

// TestRestoredWhenWithGlobalTxReturns: a failed global transaction's rows
// are restored by the time tm.WithGlobalTx returns (it waits for the
// branches' rollback), so the next query sees them as before, every time.
func TestRestoredWhenWithGlobalTxReturns(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_rbwait", kv, kvSeed)
	before := e.dump(tb)
	for i := range 20 {
		_, err := e.global(func(ctx context.Context) error {
			if _, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 1 WHERE id IN (1, 3)"); err != nil {
				return err
			}
			if _, err := e.db.ExecContext(ctx, "DELETE FROM "+tb+" WHERE id = 2"); err != nil {
				return err
			}
			return errRollback
		})
		if err != errRollback {
			t.Fatalf("run %d: err = %v, want the fn's error unchanged", i, err)
		}
		if got := e.dump(tb); got != before {
			t.Fatalf("run %d: right after WithGlobalTx returned:\n%s\nwant:\n%s", i, got, before)
		}
	}
}
