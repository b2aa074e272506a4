package mysql_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/internal/faultlink"
	"github.com/txcio/txc/tm"
)

// TestXAPrepareUnknownKeepsBranch: the link to the server fails as the
// branch commits, so neither XA PREPARE nor the rollback after it gets an
// answer, and the server may hold the branch prepared. The branch is not
// reported PhaseOneFailed (the coordinator would skip it); the global
// rollback finishes it once the link is back.
func TestXAPrepareUnknownKeepsBranch(t *testing.T) {
	dbtest.MySQL(t)
	link := faultlink.Start(t, "127.0.0.1:3306")
	e := newEnvAt(t, "root@tcp("+link.Addr()+")/test")
	db := e.openXA()
	tbl := e.table("xaunk", "CREATE TABLE {t} (id INT PRIMARY KEY, v INT)", "INSERT INTO {t} VALUES (1, 10)")
	errCommit := errors.New("the local commit failed")
	xid, err := e.global(func(ctx context.Context) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = 11 WHERE id = 1"); err != nil {
			return err
		}
		link.SetCut(true)
		cerr := tx.Commit()
		link.SetCut(false)
		if cerr == nil {
			t.Error("Commit over a cut link succeeded")
		}
		xid, _ := tm.XIDFromContext(ctx)
		if got := e.branchStatuses(xid); strings.Contains(got, "PhaseOneFailed") {
			t.Errorf("branches %q: a branch whose prepare may have run was reported failed", got)
		}
		return errCommit
	})
	if !errors.Is(err, errCommit) {
		t.Fatalf("global: %v", err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	e.waitNoPrepared(xid)
	if v := e.value(tbl, 1); v != 10 {
		t.Fatalf("v = %d, want 10", v)
	}
}
