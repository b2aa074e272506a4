package dialecttest

import (
	"context"
	"errors"
	"testing"

	"github.com/txcio/txc"
)

// triggerCreatedBeforeRollback: a trigger created between phase 1 and the
// rollback would fire on the rollback's own writes (here only writing an
// audit row, so the rows read back would match). The rollback writes
// nothing and parks the transaction; once the trigger is gone, a retry
// restores the rows exactly.
func triggerCreatedBeforeRollback(t *testing.T, e *Env) {
	tb := e.Table("dt_trgrb", kv, kvSeed)
	audit := e.Table("dt_audit", "CREATE TABLE {t} (what VARCHAR(10))")
	create, drop := e.AuditTrigger(tb, audit)
	before := e.Dump(tb)
	var changed string
	xid, err := e.Coordinator.Global(func(ctx context.Context) error {
		for _, q := range []string{"UPDATE " + tb + " SET n = n + 1 WHERE id = 1", "DELETE FROM " + tb + " WHERE id = 2", "INSERT INTO " + tb + " (id, n, s) VALUES (5, 50, 'e')"} {
			if _, err := e.Proxy.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		changed = e.Dump(tb)
		return plainExec(e, create)
	})
	if !errors.Is(err, ErrRollback) {
		t.Fatal(err)
	}
	e.Coordinator.Wait(t, xid, txc.GlobalRollbackFailed)
	if got := e.Dump(tb); got != changed {
		t.Fatalf("after the refused rollback:\n%s\nwant the rows as phase 1 left them:\n%s", got, changed)
	}
	if got := e.Dump(audit); got != "" {
		t.Fatalf("the rollback fired the triggers: audit rows\n%s", got)
	}
	if err := plainExec(e, drop); !errors.Is(err, ErrRollback) {
		t.Fatal(err)
	}
	e.Coordinator.Retry(t, xid)
	e.Coordinator.Wait(t, xid, txc.GlobalRollbacked)
	if got := e.Dump(tb); got != before {
		t.Fatalf("rolled back:\n%s\nwant:\n%s", got, before)
	}
}

// plainExec runs stmts without the proxy and returns the first error, or
// ErrRollback when all ran.
func plainExec(e *Env, stmts []string) error {
	for _, s := range stmts {
		if _, err := e.Plain.Exec(s); err != nil {
			return errors.Join(errors.New(s), err)
		}
	}
	return ErrRollback
}
