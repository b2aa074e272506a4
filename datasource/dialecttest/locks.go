package dialecttest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tm"
)

// Increment is a statement that adds add to column n of the row with id
// 1 of table (the suite's kv table).
type Increment func(table, add string) string

// updateIncrement is Increment as an UPDATE.
func updateIncrement(table, add string) string {
	return "UPDATE " + table + " SET n = n + " + add + " WHERE id = 1"
}

// TwoGlobalTransactionsOneRow: while one global transaction holds a row's
// global lock (written by inc), another's write of the row fails within
// its budget with a lock conflict naming the holder, and changes nothing;
// one with budget enough waits for the lock, and both increments land.
func TwoGlobalTransactionsOneRow(t *testing.T, e *Env, inc Increment) {
	tb := e.Table("dt_race", kv, kvSeed)
	co := e.Coordinator
	holding, release, first := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var err1, err2 error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(first)
		_, err1 = co.Global(func(ctx context.Context) error {
			if _, err := e.Proxy.ExecContext(ctx, inc(tb, "1")); err != nil {
				return err
			}
			close(holding) // locally committed, global lock held
			<-release
			return nil
		})
	}()
	select {
	case <-holding:
	case <-first:
		t.Fatalf("the first transaction ended before holding its lock: %v", err1)
	}
	held := e.Dump(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	err := co.TM.WithGlobalTx(ctx, tm.Config{Name: "short", Timeout: 10 * time.Second}, func(ctx context.Context) error {
		_, err := e.Proxy.ExecContext(ctx, inc(tb, "10"))
		return err
	})
	cancel()
	var te *txc.Error
	if !errors.Is(err, txc.ErrLockConflict) || !errors.As(err, &te) || te.Holder == "" {
		t.Fatalf("err = %v, want a lock conflict naming the holder", err)
	}
	if got := e.Dump(tb); got != held {
		t.Fatalf("the write that met the lock changed the table:\n%s\nwas:\n%s", got, held)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err2 = co.Global(func(ctx context.Context) error {
			_, err := e.Proxy.ExecContext(ctx, inc(tb, "100"))
			return err
		})
	}()
	close(release)
	wg.Wait()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	var n int
	if err := e.Plain.QueryRow("SELECT n FROM " + tb + " WHERE id = 1").Scan(&n); err != nil || n != 111 {
		t.Fatalf("n = %d (%v), want 111", n, err)
	}
}
