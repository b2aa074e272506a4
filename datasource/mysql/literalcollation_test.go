package mysql_test

import (
	"context"
	"errors"
	"testing"

	"github.com/txcio/txc"
)

// TestLiteralsInConnectionCollation: on a connection whose collation is
// not its character set's default, a statement comparing literals
// ('a' = 'A' is false under utf8mb4_bin) chooses the same rows in the
// proxy's image query as on the server. Restored with an introducer
// (_utf8mb4'a' = _utf8mb4'A', true under the default utf8mb4_general_ci)
// the image took every row for deleted where the server deleted one, and
// the rollback, finding the others present, could not restore.
func TestLiteralsInConnectionCollation(t *testing.T) {
	e := newEnv(t, "collation=utf8mb4_bin")
	tb := e.table("at_litcoll", kv, kvSeed)
	before := e.dump(tb)
	xid, err := e.global(func(ctx context.Context) error {
		res, err := e.db.ExecContext(ctx, "DELETE FROM "+tb+" WHERE id = 1 OR 'a' = 'A'")
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Errorf("%d rows deleted, want 1", n)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(tb); got != before {
		t.Fatalf("rolled back:\n%s\nwant:\n%s", got, before)
	}
}
