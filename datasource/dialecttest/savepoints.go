package dialecttest

import (
	"context"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tm"
)

// SavepointTable is the table of the savepoint scripts (see
// dbtest.SavepointScript), seeded with kvSeed: portable SQL.
const SavepointTable = "CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, n INT NOT NULL, s VARCHAR(20) NOT NULL DEFAULT 'dflt' UNIQUE)"

// SavepointCase runs stmts through the proxy in one local transaction of
// a global transaction on a SavepointTable, twice: rolled back, which must
// restore the table exactly, and committed, which must leave it as the
// same statements run plainly (no proxy) on a copy of it. Both times the
// undo log written at the local commit must hold log (see UndoSummary):
// the images of exactly the changes that remain.
func (e *Env) SavepointCase(t *testing.T, log string, stmts ...string) {
	t.Helper()
	tb := e.Table("dt_sp", SavepointTable, kvSeed)
	ref := e.Table("dt_spref", SavepointTable, kvSeed)
	if err := dbtest.ScriptTx(context.Background(), e.Plain, ref, stmts); err != nil {
		t.Fatalf("plainly: %v", err)
	}
	body := func(ctx context.Context) error { return e.InLocalTx(ctx, t, e.Proxy, tb, log, stmts...) }
	e.RollsBack(t, tb, body)
	xid, err := e.Coordinator.Global(body)
	if err != nil {
		t.Fatal(err)
	}
	e.Coordinator.Wait(t, xid, txc.GlobalCommitted)
	if got, want := e.Dump(tb), e.Dump(ref); got != want {
		t.Fatalf("committed:\n%swant (run plainly):\n%s", got, want)
	}
}

// savepoints: SAVEPOINT, ROLLBACK TO SAVEPOINT and RELEASE SAVEPOINT in a
// global transaction, the scripts both dialects run alike
// (dbtest.SavepointScripts; each dialect's tests add those where the
// servers differ). After a ROLLBACK TO the undo log holds the images of
// exactly the changes that remain: a global rollback restores the table
// exactly (a record of an undone insert or delete would park it as a
// dirty write), a commit leaves what the statements leave run plainly.
func savepoints(t *testing.T, e *Env) {
	for _, c := range dbtest.SavepointScripts {
		t.Run(c.Name, func(t *testing.T) { e.SavepointCase(t, c.Log, c.Stmts...) })
	}
}

// savepointsUnderGlobalLock: under tm.WithGlobalLock (no undo records)
// savepoint statements run as the server has them.
func savepointsUnderGlobalLock(t *testing.T, e *Env) {
	for _, c := range dbtest.SavepointScripts {
		tb, ref := e.Table("dt_spl", SavepointTable, kvSeed), e.Table("dt_splref", SavepointTable, kvSeed)
		ctx := context.Background()
		if err := dbtest.ScriptTx(ctx, e.Plain, ref, c.Stmts); err != nil {
			t.Fatalf("%s plainly: %v", c.Name, err)
		}
		err := tm.WithGlobalLock(ctx, func(ctx context.Context) error { return dbtest.ScriptTx(ctx, e.Proxy, tb, c.Stmts) })
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if got, want := e.Dump(tb), e.Dump(ref); got != want {
			t.Errorf("%s:\n%swant (run plainly):\n%s", c.Name, got, want)
		}
	}
}
