package dialecttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tm"
)

// leftoverSweep: the coordinator counts an AT branch committed at the
// decision and only notifies its RM. With no database serving the
// resource when the notice came, the branch's undo row stays; the
// leftover sweep of the next database opened on the resource deletes
// it once the coordinator reports the commit, and keeps the rows of a
// transaction still open and of one another coordinator node began.
func leftoverSweep(t *testing.T, e *Env) {
	ctx := context.Background()
	id, undoTable := dbtest.Name("lo_res"), dbtest.Name("lo_undo")
	t.Cleanup(func() { e.Plain.Exec("DROP TABLE IF EXISTS " + undoTable) })
	opts := []datasource.Option{datasource.WithResourceID(id), datasource.WithUndoTable(undoTable)}
	table := e.Table("lo", kv, kvSeed)
	first := e.Open(append(opts, datasource.WithLeftoverSweep(0))...)
	write := func(gctx context.Context, row int) {
		t.Helper()
		if _, err := first.ExecContext(gctx, fmt.Sprintf("UPDATE %s SET n = n + 1 WHERE id = %d", table, row)); err != nil {
			t.Fatal(err)
		}
	}
	committed, cctx, err := e.Coordinator.TM.Begin(ctx, tm.Config{Name: "leftover", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	write(cctx, 1)
	open, octx, err := e.Coordinator.TM.Begin(ctx, tm.Config{Name: "open", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	write(octx, 2)
	other := txc.XID("lo-other-node:7")
	if _, err := e.Plain.Exec("INSERT INTO " + undoTable + " (xid, branch_id, state, log) VALUES ('" + string(other) + "', 1, 0, '')"); err != nil {
		t.Fatal(err)
	}
	first.Close() // the RM's database is gone when the commit's notice comes
	if err := committed.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	rows := func(xid txc.XID) int {
		t.Helper()
		var n int
		if err := e.Plain.QueryRow("SELECT COUNT(*) FROM " + undoTable + " WHERE xid = '" + string(xid) + "'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if s := e.Coordinator.Wait(t, committed.XID(), txc.GlobalCommitted); s != txc.GlobalCommitted || rows(committed.XID()) != 1 {
		t.Fatalf("after the commit: %v, %d undo rows; want Committed and the row left", s, rows(committed.XID()))
	}
	e.Open(append(opts, datasource.WithLeftoverSweep(time.Hour))...) // its first sweep takes rows of any age
	deadline := time.Now().Add(20 * time.Second)
	for rows(committed.XID()) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the committed branch's undo row was not swept")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rows(open.XID()) != 1 || rows(other) != 1 {
		t.Fatalf("swept rows it must keep: open transaction %d, other node's %d (want 1 and 1)", rows(open.XID()), rows(other))
	}
	if err := open.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	e.Coordinator.Wait(t, open.XID(), txc.GlobalRollbacked)
	var n int
	if err := e.Plain.QueryRow("SELECT n FROM " + table + " WHERE id = 2").Scan(&n); err != nil || n != 20 {
		t.Fatalf("open transaction's row after its rollback: %d %v", n, err)
	}
}
