package dialecttest

import (
	"context"
	"testing"
	"time"

	"github.com/txcio/txc/tm"
)

// latePhaseOneFails: a branch whose global transaction was rolled back
// before its local commit cannot commit (it registers at commit, and the
// registration is refused: the rollback found no undo log and left a
// finished marker), and its changes never land.
func latePhaseOneFails(t *testing.T, e *Env) {
	tb := e.Table("dt_late", kv, kvSeed)
	before := e.Dump(tb)
	g, ctx, err := e.Coordinator.TM.Begin(context.Background(), tm.Config{Name: "late", Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := e.Proxy.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE "+tb+" SET n = 0 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if err := g.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("phase 1 committed after the global rollback")
	}
	if got := e.Dump(tb); got != before {
		t.Fatalf("rows changed:\n%s", got)
	}
}
