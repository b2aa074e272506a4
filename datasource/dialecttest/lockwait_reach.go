package dialecttest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/txcio/txc/tm"
)

// lockingReadStatementCtx: the global transaction's lock wait
// (tm.Config.LockWait: "wins over" datasource.WithLockWait, which bounds
// "a locking read (SELECT … FOR UPDATE) in a global transaction") should
// bound a locking read of its local transaction also when the statement's
// own ctx does not carry the transaction (database/sql lets a statement
// of a Tx take any ctx; the proxy runs it in the Tx's global transaction).
// The statement ctx has no deadline: only the lock wait can end the wait.
// A guard cancels it after a minute so that the test ends either way.
func lockingReadStatementCtx(t *testing.T, e *Env) {
	tb := e.Table("dt_lockreadctx", kv, kvSeed)
	before := e.Dump(tb)
	holder, release := e.holder(t, tb)
	defer release()
	stmtCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	guard := time.AfterFunc(time.Minute, cancel)
	defer guard.Stop()
	cfg := tm.Config{Name: "reader", Timeout: 2 * waiterBudget, LockWait: 300 * time.Millisecond}
	err := e.Coordinator.TM.WithGlobalTx(context.Background(), cfg, func(ctx context.Context) error {
		tx, err := e.Proxy.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var n int
		return tx.QueryRowContext(stmtCtx, "SELECT n FROM "+tb+" WHERE id = 1 FOR UPDATE").Scan(&n)
	})
	if errors.Is(err, context.Canceled) {
		t.Fatalf("the locking read waited until its ctx was cancelled, not for the transaction's lock wait: %v", err)
	}
	e.refusedWhileHeld(t, err, holder)
	e.rolledBackExactly(t, release, tb, before)
}

// lockWaitFromCaller: the lock wait of a global transaction travels with
// its XID to a participant reached over HTTP (tm.RoundTripper,
// tm.HTTPMiddleware): the participant's write of a row another
// transaction holds, in a request context with no deadline, fails at its
// local commit with a lock conflict naming the holder after the caller's
// lock wait, not at the end of the transaction's minute of budget.
func lockWaitFromCaller(t *testing.T, e *Env) {
	tb := e.Table("dt_lockcaller", kv, kvSeed)
	before := e.Dump(tb)
	holder, release := e.holder(t, tb)
	defer release()
	wrote := make(chan error, 1)
	srv := httptest.NewServer(tm.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := e.Proxy.ExecContext(r.Context(), "UPDATE "+tb+" SET n = 0 WHERE id = 1")
		wrote <- err
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	})))
	defer srv.Close()
	client := &http.Client{Transport: tm.RoundTripper(srv.Client().Transport)}
	defer client.CloseIdleConnections()
	cfg := tm.Config{Name: "caller", Timeout: waiterBudget, LockWait: 300 * time.Millisecond}
	err := e.Coordinator.TM.WithGlobalTx(context.Background(), cfg, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("participant answered %s", resp.Status)
		}
		return nil
	})
	if err == nil {
		t.Fatal("the caller committed")
	}
	refusedByLockWait(t, <-wrote, holder)
	e.rolledBackExactly(t, release, tb, before)
}
