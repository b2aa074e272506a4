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

// What the dialects' own tests check the same way.

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

// ChangesThenRollsBack runs stmt through the proxy in a global transaction
// that then rolls back: stmt must change table, and the rollback must end
// restoring it exactly.
func (e *Env) ChangesThenRollsBack(t *testing.T, table, stmt string) {
	t.Helper()
	before := e.Dump(table)
	var changed string
	xid, err := e.Coordinator.Global(func(ctx context.Context) error {
		if _, err := e.Proxy.ExecContext(ctx, stmt); err != nil {
			return err
		}
		changed = e.Dump(table)
		return ErrRollback
	})
	if !errors.Is(err, ErrRollback) {
		t.Fatal(err)
	}
	if changed == before {
		t.Fatalf("the statement changed nothing:\n%s", changed)
	}
	e.Coordinator.Wait(t, xid, txc.GlobalRollbacked)
	if got := e.Dump(table); got != before {
		t.Fatalf("rolled back:\n%s\nwant:\n%s", got, before)
	}
}

// Statements returns what runs stmts through the proxy in ctx, one after
// the other, each its own local transaction (for RollsBack).
func (e *Env) Statements(stmts ...string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		for _, q := range stmts {
			if _, err := e.Proxy.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}
}

// Fill returns stmts with the replacements of strings.NewReplacer(oldnew...)
// made ({t} for a table's name, …).
func Fill(stmts []string, oldnew ...string) []string {
	r := strings.NewReplacer(oldnew...)
	out := make([]string, len(stmts))
	for i, s := range stmts {
		out[i] = r.Replace(s)
	}
	return out
}

// RollsBackThenCommits runs fn in a global transaction that rolls back
// (RollsBack: table exactly as before), then in one that commits, and
// waits until it has.
func (e *Env) RollsBackThenCommits(t *testing.T, table string, fn func(ctx context.Context) error) {
	t.Helper()
	e.RollsBack(t, table, fn)
	xid, err := e.Coordinator.Global(fn)
	if err != nil {
		t.Fatal(err)
	}
	e.Coordinator.Wait(t, xid, txc.GlobalCommitted)
}
