package mysql_test

import (
	"context"
	"errors"
	"testing"

	"github.com/txcio/txc"
)

// TestTriggerCreatedBeforeRollback: a trigger created between phase 1
// and the rollback would fire on the rollback's own writes (here only
// writing an audit row, so the rows read back would match). The rollback
// writes nothing and parks the transaction; once the trigger is gone, a
// retry restores the rows exactly.
func TestTriggerCreatedBeforeRollback(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_trgrb", kv, kvSeed)
	audit := e.table("at_audit", "CREATE TABLE {t} (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(10))")
	before := e.dump(tb)
	var changed string
	xid, err := e.global(func(ctx context.Context) error {
		for _, q := range []string{"UPDATE " + tb + " SET n = n + 1 WHERE id = 1", "DELETE FROM " + tb + " WHERE id = 2", "INSERT INTO " + tb + " VALUES (5, 50, 'e')"} {
			if _, err := e.db.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		changed = e.dump(tb)
		for _, ev := range []string{"UPDATE", "INSERT", "DELETE"} {
			body := "INSERT INTO " + audit + " (what) VALUES ('" + ev + "')"
			if _, err := e.plain.Exec("CREATE TRIGGER " + tb + "_" + ev + " AFTER " + ev + " ON " + tb + " FOR EACH ROW " + body); err != nil {
				return err
			}
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbackFailed)
	if got := e.dump(tb); got != changed {
		t.Fatalf("after the refused rollback:\n%s\nwant the rows as phase 1 left them:\n%s", got, changed)
	}
	if got := e.dump(audit); got != "" {
		t.Fatalf("the rollback fired the triggers: audit rows\n%s", got)
	}
	for _, ev := range []string{"UPDATE", "INSERT", "DELETE"} {
		if _, err := e.plain.Exec("DROP TRIGGER " + tb + "_" + ev); err != nil {
			t.Fatal(err)
		}
	}
	e.retry(xid)
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(tb); got != before {
		t.Fatalf("rolled back:\n%s\nwant:\n%s", got, before)
	}
}
