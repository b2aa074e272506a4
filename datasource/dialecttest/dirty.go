package dialecttest

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tm"
)

// dirtyWriteNotOverwritten: a row changed outside the global transaction
// between phase 1 and rollback is left as it is and the transaction needs
// manual action.
func dirtyWriteNotOverwritten(t *testing.T, e *Env) {
	e.DirtyWriteParked(t, e.Table("dt_dirty", kv, kvSeed))
}

// DirtyWriteParked updates rows 2 and 1 of table (seeded with kvSeed) in a
// global transaction, lets a writer that bypasses the proxy change row 1,
// and rolls back: the rollback must leave the dirty row and restore
// nothing, park (RollbackFailed) keeping the undo log, and keep its global
// locks: a write of row 2 under tm.WithGlobalLock is refused with a lock
// conflict and changes nothing. It returns the parked transaction.
func (e *Env) DirtyWriteParked(t *testing.T, table string) txc.XID {
	t.Helper()
	xid, err := e.Coordinator.Global(func(ctx context.Context) error {
		if err := runLocal(ctx, e.Proxy, table, []string{"UPDATE {t} SET n = 22 WHERE id = 2", "UPDATE {t} SET n = 11 WHERE id = 1"}); err != nil {
			return err
		}
		if _, err := e.Plain.ExecContext(ctx, "UPDATE "+table+" SET n = 999 WHERE id = 1"); err != nil {
			return err
		}
		return ErrRollback
	})
	if !errors.Is(err, ErrRollback) {
		t.Fatal(err)
	}
	e.Coordinator.Wait(t, xid, txc.GlobalRollbackFailed)
	if n1, n2 := e.n(t, table, 1), e.n(t, table, 2); n1 != 999 || n2 != 22 {
		t.Fatalf("rows n = %d, %d; want the dirty 999 kept and nothing of the branch restored (22)", n1, n2)
	}
	if e.undoRows(t, xid) != 1 {
		t.Fatal("the undo log of the parked branch is gone")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = tm.WithGlobalLock(ctx, func(ctx context.Context) error {
		_, err := e.Proxy.ExecContext(ctx, "UPDATE "+table+" SET n = 0 WHERE id = 2")
		return err
	})
	if !errors.Is(err, txc.ErrLockConflict) {
		t.Fatalf("global-lock write: %v, want a lock conflict", err)
	}
	if n2 := e.n(t, table, 2); n2 != 22 {
		t.Fatalf("n = %d after the refused global-lock write", n2)
	}
	return xid
}

// n reads column n of row id of table.
func (e *Env) n(t *testing.T, table string, id int) int {
	t.Helper()
	var n int
	if err := e.Plain.QueryRow("SELECT n FROM " + table + " WHERE id = " + strconv.Itoa(id)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
