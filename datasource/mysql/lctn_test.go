package mysql_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tm"
)

// Under lower_case_table_names=1 ACCT, Acct and test.acct are one table:
// one lock key, one undo record per row, and a rollback that restores it
// whichever spelling each statement used.
func TestLowerCaseTableNames(t *testing.T) {
	e := newEnvAt(t, dbtest.PrivateMariaDB(t, "--lower-case-table-names=1"))
	tb := e.table("Acct", kv, kvSeed)
	up, low := strings.ToUpper(tb), strings.ToLower(tb)

	holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := e.global(func(ctx context.Context) error {
			if _, err := e.db.ExecContext(ctx, "UPDATE "+up+" SET n = n + 1 WHERE id = 1"); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
		done <- err
	}()
	<-holding
	for _, q := range []string{
		"UPDATE " + low + " SET n = n + 10 WHERE id = 1",
		"DELETE FROM TEST." + tb + " WHERE id = 1",
		"SELECT n FROM " + tb + " WHERE id = 1 FOR UPDATE",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := e.tm.WithGlobalTx(ctx, tm.Config{Name: "other", Timeout: 10 * time.Second}, func(ctx context.Context) error {
			tx, err := e.db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
			return tx.Commit()
		})
		cancel()
		if !errors.Is(err, txc.ErrLockConflict) {
			t.Errorf("%s: %v, want a lock conflict with the transaction holding %s", q, err, up)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	e.expect(t, undone, "", []string{tb},
		"UPDATE "+up+" SET n = n + 5 WHERE id = 2",
		"UPDATE "+low+" SET s = 'q' WHERE id = 2",
		"DELETE FROM TEST."+tb+" WHERE id = 3",
		"INSERT INTO "+up+" (id, n, s) VALUES (9, 9, 'z')",
		"REPLACE INTO "+low+" (id, n, s) VALUES (9, 10, 'y')",
		"UPDATE "+tb+" a JOIN "+up+" b ON b.id = a.id + 1 SET a.n = b.n WHERE a.id = 1")
	e.expect(t, refused, "two names", []string{tb}, "UPDATE "+up+" a JOIN "+low+" b ON b.id = a.id SET a.n = 77, b.s = 'q' WHERE a.id = 1")
}
