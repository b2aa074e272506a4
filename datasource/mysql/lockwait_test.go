package mysql_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tm"
)

// TestLockWaitOutlivesTransaction: a global transaction whose write waits
// for a row another global transaction holds, with no deadline on its
// ctx, waits until the coordinator rolls it back at its own deadline. The
// error says both: it matches txc.ErrLockConflict and names the holder,
// and matches txc.ErrTimedOut; the row is as the holder left it.
func TestLockWaitOutlivesTransaction(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_lockwait", kv, kvSeed)
	holding, end, done := make(chan txc.XID, 1), make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := e.global(func(ctx context.Context) error {
			if _, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 1 WHERE id = 1"); err != nil {
				return err
			}
			xid, _ := tm.XIDFromContext(ctx)
			holding <- xid
			<-end
			return nil
		})
		done <- err
	}()
	var holder txc.XID
	select {
	case holder = <-holding:
	case err := <-done:
		t.Fatal(err)
	}
	release := sync.OnceValue(func() error { close(end); return <-done })
	defer release()
	err := e.tm.WithGlobalTx(context.Background(), tm.Config{Name: "waiter", Timeout: 500 * time.Millisecond}, func(ctx context.Context) error {
		_, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = 0 WHERE id = 1")
		return err
	})
	if !errors.Is(err, txc.ErrLockConflict) || !errors.Is(err, txc.ErrTimedOut) {
		t.Fatalf("err = %v, want a lock conflict that timed out", err)
	}
	var te *txc.Error
	if !errors.As(err, &te) || te.Code != txc.CodeLockConflict || te.Holder != holder || !strings.Contains(err.Error(), string(holder)) {
		t.Fatalf("err = %v, does not name the holder %s", err, holder)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
}
