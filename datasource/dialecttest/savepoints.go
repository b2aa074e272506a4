package dialecttest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tm"
)

// SavepointTable is the table of the savepoint scripts (see
// dbtest.SavepointScript), seeded with kvSeed: portable SQL.
const SavepointTable = "CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, n INT NOT NULL, s VARCHAR(20) NOT NULL DEFAULT 'dflt' UNIQUE)"

// UndoLog returns xid's undo log in the default undo table (nil when it
// has none).
func (e *Env) UndoLog(t testing.TB, xid txc.XID) *undo.Log {
	t.Helper()
	var b []byte
	err := e.Plain.QueryRow("SELECT log FROM txc_undo_log WHERE xid = '" + strings.ReplaceAll(string(xid), "'", "''") + "' AND state = 0").Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		t.Fatalf("undo log of %s: %v", xid, err)
	}
	l, err := undo.Codec{}.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// UndoSummary returns the records of xid's undo log, one line each:
// kind, then the before and after rows, every column as its lock-key text
// ("" when xid has no undo log).
func (e *Env) UndoSummary(t testing.TB, xid txc.XID) string {
	t.Helper()
	l := e.UndoLog(t, xid)
	if l == nil {
		return ""
	}
	rows := func(rs []undo.Row) string {
		var out []string
		for _, r := range rs {
			vals := make([]string, len(r))
			for i, c := range r {
				vals[i] = datasource.KeyString(c.Value)
			}
			out = append(out, "("+strings.Join(vals, ",")+")")
		}
		return strings.Join(out, "")
	}
	var sb strings.Builder
	for _, r := range l.Records {
		fmt.Fprintf(&sb, "%v %s>%s\n", r.Kind, rows(r.Before), rows(r.After))
	}
	return sb.String()
}

// RollsBack runs fn in a global transaction that then rolls back, and
// checks that the rollback ends restoring table exactly.
func (e *Env) RollsBack(t *testing.T, table string, fn func(ctx context.Context) error) {
	t.Helper()
	seed := e.Dump(table)
	xid, err := e.Coordinator.Global(func(ctx context.Context) error {
		if err := fn(ctx); err != nil {
			return err
		}
		return ErrRollback
	})
	if !errors.Is(err, ErrRollback) {
		t.Fatal(err)
	}
	if st := e.Coordinator.Wait(t, xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed); st != txc.GlobalRollbacked {
		t.Fatalf("rollback ended %v", st)
	}
	if got := e.Dump(table); got != seed {
		t.Fatalf("rolled back:\n%sseed:\n%s", got, seed)
	}
}

// InLocalTx runs stmts (see dbtest.Script) in one local transaction of db
// on table and commits it, then checks that the undo log of ctx's global
// transaction holds log (see UndoSummary).
func (e *Env) InLocalTx(ctx context.Context, t *testing.T, db *sql.DB, table, log string, stmts ...string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := dbtest.Script(ctx, tx, table, stmts); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	xid, _ := tm.XIDFromContext(ctx)
	if got := e.UndoSummary(t, xid); got != log {
		t.Errorf("undo log:\n%swant:\n%s", got, log)
	}
	return nil
}

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
