package dialecttest

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
)

// Env is one dialect's test environment for one test, as the suite uses
// it. Its statements are the suite's portable SQL: literals only, no
// placeholders.
type Env struct {
	Coordinator *Coordinator // the coordinator Proxy's resource serves
	Plain       *sql.DB      // the database without the proxy
	Proxy       *sql.DB      // the database through the proxy
	// Open opens the database through the proxy again, with opts added
	// to the ones Proxy was opened with; closed when the test ends.
	Open func(opts ...datasource.Option) *sql.DB
	// Table creates a table from def (with {t} for its name), seeded by
	// the statements seed ({t} likewise), dropped when the test ends, and
	// returns its name.
	Table func(prefix, def string, seed ...string) string
	// Dump returns every row of table, exactly, in a fixed order.
	Dump func(table string) string
	// Trigger returns the statements that create a trigger on table
	// that inserts a row into audit (a table with one column id, its
	// primary key) on every insert.
	Trigger func(table, audit string) []string
	// AuditTrigger returns the statements that create triggers on table
	// that, on every UPDATE, INSERT and DELETE of a row, insert a row
	// (what) into audit, a table with one column what VARCHAR(10); and
	// those that drop them.
	AuditTrigger func(table, audit string) (create, drop []string)
	// Deferrable is what a foreign key's definition ends with to be as
	// deferrable as the dialect's rollback needs it to restore an ON
	// UPDATE CASCADE ("" when any key will do).
	Deferrable string
}

// undoRows counts the undo rows of xid (in the default undo table).
func (e *Env) undoRows(t *testing.T, xid txc.XID) int {
	t.Helper()
	var n int
	if err := e.Plain.QueryRow("SELECT COUNT(*) FROM txc_undo_log WHERE xid = '" + strings.ReplaceAll(string(xid), "'", "''") + "'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// kv is the suite's table: portable SQL.
const (
	kv     = "CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, n INT NOT NULL, s VARCHAR(20) NOT NULL)"
	kvSeed = "INSERT INTO {t} (id, n, s) VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, 'c'), (4, 40, 'd')"
)

// Write is a sequence of statements on the suite's table ({t}, made by
// kv and seeded by kvSeed), run as one local transaction, that AT mode
// must undo exactly.
type Write struct {
	Name  string
	Stmts []string
}

// RunWrites runs the suite's tests of writes (rolled back, the table is
// as before; committed, as the statements left it without the proxy) on
// writes: the suite's own, or statements of one dialect only.
func RunWrites(t *testing.T, newEnv func(t *testing.T) *Env, writes []Write) {
	t.Run("RolledBackAsBefore", func(t *testing.T) { rolledBackAsBefore(t, newEnv, writes) })
	t.Run("CommittedAsPlain", func(t *testing.T) { committedAsPlain(t, newEnv, writes) })
}

// writes are the suite's writes, in portable SQL.
var writes = []Write{
	{"insert", []string{"INSERT INTO {t} (id, n, s) VALUES (5, 50, 'e'), (6, 60, 'f')"}},
	{"update", []string{"UPDATE {t} SET n = n + 1, s = 'x' WHERE id <= 2"}},
	{"update-key", []string{"UPDATE {t} SET id = id + 100 WHERE id IN (1, 3)"}},
	{"delete", []string{"DELETE FROM {t} WHERE n >= 30"}},
	{"row-twice", []string{"UPDATE {t} SET n = n + 1 WHERE id = 1", "UPDATE {t} SET n = n * 2 WHERE id = 1"}},
	{"insert-then-delete", []string{"INSERT INTO {t} (id, n, s) VALUES (7, 70, 'g')", "DELETE FROM {t} WHERE id = 7"}},
	{"mixed", []string{
		"INSERT INTO {t} (id, n, s) VALUES (5, 50, 'e')",
		"UPDATE {t} SET n = 55 WHERE id = 5",
		"DELETE FROM {t} WHERE id = 1",
		"UPDATE {t} SET id = 200 WHERE id = 2",
		"INSERT INTO {t} (id, n, s) VALUES (1, 11, 'z')",
	}},
}

// Run runs the suite, each test on an environment newEnv makes for it.
func Run(t *testing.T, newEnv func(t *testing.T) *Env) {
	RunWrites(t, newEnv, writes)
	t.Run("RefusedLeavesNoTrace", func(t *testing.T) { refusedLeavesNoTrace(t, newEnv) })
	t.Run("TwoGlobalTransactionsOneRow", func(t *testing.T) { TwoGlobalTransactionsOneRow(t, newEnv(t), updateIncrement) })
	t.Run("LockWaitBounded", func(t *testing.T) { lockWaitBounded(t, newEnv(t)) })
	t.Run("RollbackNotStalledByWaiter", func(t *testing.T) { rollbackNotStalledByWaiter(t, newEnv(t)) })
	t.Run("LockingWaitsBounded", func(t *testing.T) { lockingWaitsBounded(t, newEnv(t)) })
	t.Run("LockingReadStatementCtx", func(t *testing.T) { lockingReadStatementCtx(t, newEnv(t)) })
	t.Run("LockWaitFromCaller", func(t *testing.T) { lockWaitFromCaller(t, newEnv(t)) })
	t.Run("CascadesRolledBack", func(t *testing.T) { cascadesRolledBack(t, newEnv) })
	t.Run("CascadesCommitted", func(t *testing.T) { cascadesCommitted(t, newEnv) })
	t.Run("CascadeDirtyWrites", func(t *testing.T) { cascadeDirtyWrites(t, newEnv) })
	t.Run("CascadeLocks", func(t *testing.T) { cascadeLocks(t, newEnv(t)) })
	t.Run("KeyMoveReferencedByOtherKey", func(t *testing.T) { keyMoveReferencedByOtherKey(t, newEnv(t)) })
	t.Run("ReferencedRowsKept", func(t *testing.T) { referencedRowsKept(t, newEnv(t)) })
	t.Run("Savepoints", func(t *testing.T) { savepoints(t, newEnv(t)) })
	t.Run("SavepointsUnderGlobalLock", func(t *testing.T) { savepointsUnderGlobalLock(t, newEnv(t)) })
	t.Run("RawRefusedInGlobal", func(t *testing.T) { rawRefusedInGlobal(t, newEnv(t)) })
	t.Run("TriggerCreatedBeforeRollback", func(t *testing.T) { triggerCreatedBeforeRollback(t, newEnv(t)) })
	t.Run("DirtyWriteNotOverwritten", func(t *testing.T) { dirtyWriteNotOverwritten(t, newEnv(t)) })
	t.Run("LatePhaseOneFails", func(t *testing.T) { latePhaseOneFails(t, newEnv(t)) })
	t.Run("LeftoverSweep", func(t *testing.T) { leftoverSweep(t, newEnv(t)) })
}

// rolledBackAsBefore: each write in a global transaction that rolls back
// leaves the table byte for byte as it was, and no undo log.
func rolledBackAsBefore(t *testing.T, newEnv func(t *testing.T) *Env, writes []Write) {
	for _, w := range writes {
		t.Run(w.Name, func(t *testing.T) {
			e := newEnv(t)
			tb := e.Table("dt_rb", kv, kvSeed)
			before := e.Dump(tb)
			xid, err := e.Coordinator.Global(func(ctx context.Context) error {
				if err := runLocal(ctx, e.Proxy, tb, w.Stmts); err != nil {
					return err
				}
				return ErrRollback
			})
			if !errors.Is(err, ErrRollback) {
				t.Fatalf("global run: %v", err)
			}
			e.Coordinator.Wait(t, xid, txc.GlobalRollbacked)
			if got := e.Dump(tb); got != before {
				t.Fatalf("rolled back:\n%s\nbefore:\n%s", got, before)
			}
			if n := e.undoRows(t, xid); n != 0 {
				t.Fatalf("%d undo rows left after the rollback", n)
			}
		})
	}
}

// committedAsPlain: each write committed in a global transaction leaves
// the table as the same statements run without the proxy do.
func committedAsPlain(t *testing.T, newEnv func(t *testing.T) *Env, writes []Write) {
	for _, w := range writes {
		t.Run(w.Name, func(t *testing.T) {
			e := newEnv(t)
			plain, proxied := e.Table("dt_pl", kv, kvSeed), e.Table("dt_cm", kv, kvSeed)
			if err := runLocal(context.Background(), e.Plain, plain, w.Stmts); err != nil {
				t.Fatalf("plain run: %v", err)
			}
			xid, err := e.Coordinator.Global(func(ctx context.Context) error {
				return runLocal(ctx, e.Proxy, proxied, w.Stmts)
			})
			if err != nil {
				t.Fatalf("global run: %v", err)
			}
			e.Coordinator.Wait(t, xid, txc.GlobalCommitted)
			if got, want := e.Dump(proxied), e.Dump(plain); got != want {
				t.Fatalf("committed:\n%s\nplain run:\n%s", got, want)
			}
		})
	}
}

// refusal is a statement AT mode refuses before it runs: setup makes the
// tables it names, and returns it and those tables.
type refusal struct {
	name  string
	setup func(t *testing.T, e *Env) (stmt string, tables []string)
}

var refusals = []refusal{
	{"no-primary-key", func(_ *testing.T, e *Env) (string, []string) {
		u := e.Table("dt_nopk", "CREATE TABLE {t} (a INT, b INT)", "INSERT INTO {t} (a, b) VALUES (1, 1)")
		return "UPDATE " + u + " SET b = 2", []string{u}
	}},
	{"two-statements", func(_ *testing.T, e *Env) (string, []string) {
		u := e.Table("dt_two", kv, kvSeed)
		return "UPDATE " + u + " SET n = 0; DELETE FROM " + u, []string{u}
	}},
	{"ddl", func(_ *testing.T, e *Env) (string, []string) {
		u := e.Table("dt_ddl", kv, kvSeed)
		return "DROP TABLE " + u, []string{u}
	}},
	{"transaction-control", func(*testing.T, *Env) (string, []string) { return "COMMIT", nil }},
	{"trigger", func(t *testing.T, e *Env) (string, []string) {
		u := e.Table("dt_trg", kv, kvSeed)
		audit := e.Table("dt_audit", "CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY)")
		for _, s := range e.Trigger(u, audit) {
			if _, err := e.Plain.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		return "INSERT INTO " + u + " (id, n, s) VALUES (9, 90, 'i')", []string{u, audit}
	}},
}

// around are the statements of the local transaction, on a table of its
// own, before and after the refused one.
var around = [2]string{"UPDATE {t} SET n = n + 1 WHERE id = 1", "UPDATE {t} SET n = n + 1 WHERE id = 2"}

// refusedLeavesNoTrace: a refused statement fails with a refusal
// (txc.ErrRefused, txc.ErrUnsupported) and changes nothing, and its local
// transaction goes on: the statements around it commit as they do
// plainly, and roll back to the seed.
func refusedLeavesNoTrace(t *testing.T, newEnv func(t *testing.T) *Env) {
	for _, r := range append(refusals[:len(refusals):len(refusals)], cascadeRefusals...) {
		t.Run(r.name, func(t *testing.T) {
			e := newEnv(t)
			plain := e.Table("dt_rp", kv, kvSeed)
			if err := runLocal(context.Background(), e.Plain, plain, around[:]); err != nil {
				t.Fatalf("plain run: %v", err)
			}
			for _, end := range []txc.GlobalStatus{txc.GlobalCommitted, txc.GlobalRollbacked} {
				tb := e.Table("dt_rf", kv, kvSeed)
				stmt, tables := r.setup(t, e)
				seed, untouched := e.Dump(tb), dumps(e, tables)
				xid, err := e.Coordinator.Global(func(ctx context.Context) error {
					if err := aroundRefused(ctx, e.Proxy, tb, stmt); err != nil {
						return err
					}
					if end == txc.GlobalRollbacked {
						return ErrRollback
					}
					return nil
				})
				if err != nil && !errors.Is(err, ErrRollback) {
					t.Fatalf("%s: %v", stmt, err)
				}
				e.Coordinator.Wait(t, xid, end)
				if got := dumps(e, tables); got != untouched {
					t.Fatalf("%s, then %v: its tables changed:\n%s\nwere:\n%s", stmt, end, got, untouched)
				}
				want := seed
				if end == txc.GlobalCommitted {
					want = e.Dump(plain)
				}
				if got := e.Dump(tb); got != want {
					t.Fatalf("%s, then %v: the statements around it left\n%s\nwant:\n%s", stmt, end, got, want)
				}
			}
		})
	}
}

// aroundRefused runs, in one local transaction through db, the first
// statement of around, stmt (which must be refused), the second, and
// commits.
func aroundRefused(ctx context.Context, db *sql.DB, t, stmt string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, strings.ReplaceAll(around[0], "{t}", t)); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, stmt)
	if !errors.Is(err, txc.ErrRefused) || !errors.Is(err, txc.ErrUnsupported) {
		return errors.Join(errors.New("dialecttest: not refused before running: "+stmt), err)
	}
	if _, err := tx.ExecContext(ctx, strings.ReplaceAll(around[1], "{t}", t)); err != nil {
		return err
	}
	return tx.Commit()
}

// runLocal runs stmts on table t in one local transaction through db.
func runLocal(ctx context.Context, db *sql.DB, t string, stmts []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, strings.ReplaceAll(s, "{t}", t)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// dumps is the dumps of tables, one after the other.
func dumps(e *Env, tables []string) string {
	var sb strings.Builder
	for _, tb := range tables {
		sb.WriteString(e.Dump(tb) + "--\n")
	}
	return sb.String()
}
