package dialecttest

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/tc/server/servertest"
	"github.com/txcio/txc/tm"
)

// waiterBudget is the budget of the transactions that wait for a lock:
// far longer than the lock wait that ends their wait, and than the
// holder's rollback wait (tm's default, 10 s), so that only the lock
// wait lets the holder's rollback finish in time.
const waiterBudget = time.Minute

// holder runs, in a global transaction of its own, an increment of row
// 1 of tb through db, and returns its XID once its local transaction has
// committed and it holds the row's global lock; release then rolls it
// back and returns what its WithGlobalTx returned (again on later calls).
func (e *Env) holder(t *testing.T, tb string) (xid txc.XID, release func() error) {
	t.Helper()
	holding, end, done := make(chan txc.XID, 1), make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := e.Coordinator.Global(func(ctx context.Context) error {
			if _, err := e.Proxy.ExecContext(ctx, updateIncrement(tb, "1")); err != nil {
				return err
			}
			x, _ := tm.XIDFromContext(ctx)
			holding <- x
			<-end
			return ErrRollback
		})
		done <- err
	}()
	select {
	case xid = <-holding:
	case err := <-done:
		t.Fatalf("the holder ended before holding its lock: %v", err)
	}
	return xid, sync.OnceValue(func() error { close(end); return <-done })
}

// refusedByLockWait checks that err is a lock conflict naming holder that
// ended a wait before the waiter's budget did.
func refusedByLockWait(t *testing.T, err error, holder txc.XID) {
	t.Helper()
	var te *txc.Error
	if !errors.Is(err, txc.ErrLockConflict) || !errors.As(err, &te) || te.Holder != holder || errors.Is(err, txc.ErrTimedOut) {
		t.Fatalf("err = %v, want a lock conflict naming %s", err, holder)
	}
}

// rolledBackExactly checks that release (the holder's) returns the
// holder's own error, which WithGlobalTx returns only once every branch
// is rolled back, and that tb is as before.
func (e *Env) rolledBackExactly(t *testing.T, release func() error, tb, before string) {
	t.Helper()
	if err := release(); err != ErrRollback {
		t.Fatalf("the holder's rollback: %v", err)
	}
	if got := e.Dump(tb); got != before {
		t.Fatalf("rows after the holder's rollback:\n%s\nwant:\n%s", got, before)
	}
}

// lockWaitBounded: while a global transaction holds a row's global lock
// (registered, not decided), another's write of the row, through the
// database opened with a lock wait of 300 ms, with a minute of budget and
// no deadline on its ctx, fails at its local commit with a lock conflict
// naming the holder, leaving no branch and no undo log; the holder's
// rollback then restores the row exactly.
func lockWaitBounded(t *testing.T, e *Env) {
	tb := e.Table("dt_lockwait", kv, kvSeed)
	before := e.Dump(tb)
	short := e.Open(datasource.WithLockWait(300 * time.Millisecond))
	holder, release := e.holder(t, tb)
	defer release()
	var xid txc.XID
	err := e.Coordinator.TM.WithGlobalTx(context.Background(), tm.Config{Name: "waiter", Timeout: waiterBudget}, func(ctx context.Context) error {
		xid, _ = tm.XIDFromContext(ctx)
		_, err := short.ExecContext(ctx, "UPDATE "+tb+" SET n = 0 WHERE id = 1")
		if v := servertest.Transaction(t, e.Coordinator.Admin, xid); len(v.Branches) != 0 {
			t.Errorf("the waiter registered %+v", v.Branches)
		}
		return err
	})
	refusedByLockWait(t, err, holder)
	if n := e.undoRows(t, xid); n != 0 {
		t.Fatalf("the waiter left %d undo rows", n)
	}
	e.rolledBackExactly(t, release, tb, before)
}

// rollbackNotStalledByWaiter: a global transaction rolls back while
// another, whose local transaction wrote the same row, waits at its local
// commit for the row's global lock, keeping the row's local lock that the
// rollback needs. With the waiter's lock wait of 300 ms
// (tm.Config.LockWait), the rollback finishes within tm's rollback wait,
// though the waiter's budget is a minute; the waiter's commit fails with
// a lock conflict, and the row is as before both.
func rollbackNotStalledByWaiter(t *testing.T, e *Env) {
	tb := e.Table("dt_stall", kv, kvSeed)
	before := e.Dump(tb)
	holder, release := e.holder(t, tb)
	defer release()
	written, waited := make(chan struct{}), make(chan error, 1)
	cfg := tm.Config{Name: "waiter", Timeout: waiterBudget, LockWait: 300 * time.Millisecond}
	go func() {
		waited <- e.Coordinator.TM.WithGlobalTx(context.Background(), cfg, func(ctx context.Context) error {
			return writeThenCommit(ctx, e.Proxy, "UPDATE "+tb+" SET n = 0 WHERE id = 1", written)
		})
	}()
	select {
	case <-written: // the waiter holds the row's local lock
	case err := <-waited:
		t.Fatalf("the waiter ended before writing: %v", err)
	}
	e.rolledBackExactly(t, release, tb, before)
	refusedByLockWait(t, <-waited, holder)
}

// writeThenCommit runs q in a local transaction of db, closes written,
// and commits.
func writeThenCommit(ctx context.Context, db *sql.DB, q string, written chan<- struct{}) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, q); err != nil {
		return err
	}
	close(written)
	return tx.Commit()
}

// lockingWaitsBounded: while a global transaction holds a row's global
// lock, a locking read of the row in another global transaction with a
// lock wait of 300 ms (tm.Config.LockWait), and a write of it under
// tm.WithGlobalLock through the database opened with a lock wait of 300
// ms, both with a minute on their ctx, fail with a lock conflict naming
// the holder while the holder is still open (its budget, 30 s, did not
// end the wait); the holder's rollback then restores the row exactly.
func lockingWaitsBounded(t *testing.T, e *Env) {
	tb := e.Table("dt_lockread", kv, kvSeed)
	before := e.Dump(tb)
	holder, release := e.holder(t, tb)
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), waiterBudget)
	defer cancel()
	cfg := tm.Config{Name: "reader", Timeout: waiterBudget, LockWait: 300 * time.Millisecond}
	err := e.Coordinator.TM.WithGlobalTx(ctx, cfg, func(ctx context.Context) error {
		var n int
		return e.Proxy.QueryRowContext(ctx, "SELECT n FROM "+tb+" WHERE id = 1 FOR UPDATE").Scan(&n)
	})
	e.refusedWhileHeld(t, err, holder)
	short := e.Open(datasource.WithLockWait(300 * time.Millisecond))
	err = tm.WithGlobalLock(ctx, func(ctx context.Context) error {
		_, err := short.ExecContext(ctx, "UPDATE "+tb+" SET n = 0 WHERE id = 1")
		return err
	})
	e.refusedWhileHeld(t, err, holder)
	e.rolledBackExactly(t, release, tb, before)
}

// refusedWhileHeld is refusedByLockWait, and checks that holder is still
// open: the lock wait, not the end of the holder, ended the wait.
func (e *Env) refusedWhileHeld(t *testing.T, err error, holder txc.XID) {
	t.Helper()
	refusedByLockWait(t, err, holder)
	if st, serr := e.Coordinator.Conn.Status(context.Background(), holder); st != txc.GlobalBegin {
		t.Fatalf("the holder is %v (%v) when the wait ended, want Begin", st, serr)
	}
}
