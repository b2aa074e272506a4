package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tm"
)

// TestPartitionSharesLockKeys: a row of a partitioned table is reachable
// through the partitioned table and through its partition (and through
// each level between). Its global lock must be one whatever the name: a
// write or locking read through the partition conflicts with a global
// transaction holding the row through the partitioned table, and the
// other way round.
func TestPartitionSharesLockKeys(t *testing.T) {
	e := newEnv(t)
	root := e.table("at_part", "CREATE TABLE {t} (id int PRIMARY KEY, n int) PARTITION BY RANGE (id)")
	mid, leaf := root+"_m", root+"_l"
	t.Cleanup(func() { e.plain.Exec("DROP TABLE IF EXISTS " + leaf + ", " + mid) })
	e.exec("CREATE TABLE "+mid+" PARTITION OF "+root+" FOR VALUES FROM (0) TO (100) PARTITION BY RANGE (id)",
		"CREATE TABLE "+leaf+" PARTITION OF "+mid+" FOR VALUES FROM (0) TO (50)",
		"INSERT INTO "+root+" VALUES (1, 10)")
	for _, c := range []struct{ holder, other string }{{root, leaf}, {leaf, root}, {mid, leaf}, {leaf, mid}} {
		before := e.dump(root)
		holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		var xid txc.XID
		go func() {
			var err error
			xid, err = e.global(func(ctx context.Context) error {
				if _, err := e.db.ExecContext(ctx, "UPDATE "+c.holder+" SET n = n + 1 WHERE id = 1"); err != nil {
					return err
				}
				close(holding)
				<-release
				return errRollback
			})
			done <- err
		}()
		select {
		case <-holding:
		case err := <-done:
			t.Fatalf("holder through %s: %v", c.holder, err)
		}
		for _, q := range []string{"UPDATE " + c.other + " SET n = n + 10 WHERE id = 1", "SELECT * FROM " + c.other + " WHERE id = 1 FOR UPDATE"} {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			err := e.tm.WithGlobalTx(ctx, tm.Config{Name: "other", Timeout: 10 * time.Second}, func(ctx context.Context) error {
				rows, err := e.db.QueryContext(ctx, q)
				if err == nil {
					rows.Close()
				}
				return err
			})
			cancel()
			if !errors.Is(err, txc.ErrLockConflict) {
				t.Errorf("holder through %s; %s: %v, want a lock conflict", c.holder, q, err)
			}
		}
		close(release)
		if err := <-done; !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		e.wait(xid, txc.GlobalRollbacked)
		if got := e.dump(root); got != before {
			t.Fatalf("holder through %s: after rollback\n%s\nwant\n%s", c.holder, got, before)
		}
	}
}
