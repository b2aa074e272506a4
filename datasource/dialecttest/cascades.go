package dialecttest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/tm"
)

// Cascades: writes whose foreign keys' referential actions write other
// rows (ON DELETE / ON UPDATE CASCADE, SET NULL) are imaged with those
// rows and undone exactly.

// schema is a set of tables a cascade case writes: definitions with {t}
// for the table's own name, {0}, {1}, … for the names of the tables
// before it and {d} for Env.Deferrable, each with its seed.
type schema []struct {
	def  string
	seed []string
}

// cascadeCase is a schema and the statements, one local transaction,
// that write it ({0}, {1}, … name its tables).
type cascadeCase struct {
	name   string
	tables schema
	stmts  []string
}

const (
	cParent = "CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, n INT NOT NULL)"
	cSeed   = "INSERT INTO {t} (id, n) VALUES (1, 10), (2, 20), (3, 30), (4, 40)"
	cChild  = "CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, p INT, n INT NOT NULL, FOREIGN KEY (p) REFERENCES {0} (id) %s)"
	cKids   = "INSERT INTO {t} (id, p, n) VALUES (10, 1, 1), (11, 1, 2), (12, 2, 3), (13, NULL, 4), (14, 4, 5)"
	cGrand  = "CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, c INT, FOREIGN KEY (c) REFERENCES {1} (id) %s)"
	cGKids  = "INSERT INTO {t} (id, c) VALUES (100, 10), (101, 11), (102, 12), (103, NULL), (104, 14)"
	cTree   = "CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, up INT, FOREIGN KEY (up) REFERENCES {t} (id) %s)"
	cTrees  = "INSERT INTO {t} (id, up) VALUES (1, NULL), (2, 1), (3, 1), (4, 2), (5, 4), (6, NULL), (7, 6)"
)

// table is one table of a schema.
func table(def string, seed ...string) struct {
	def  string
	seed []string
} {
	return struct {
		def  string
		seed []string
	}{def, seed}
}

var cascadeCases = []cascadeCase{
	{"delete-two-levels", schema{table(cParent, cSeed), table(fmt.Sprintf(cChild, "ON DELETE CASCADE"), cKids), table(fmt.Sprintf(cGrand, "ON DELETE CASCADE"), cGKids)},
		[]string{"DELETE FROM {0} WHERE id IN (1, 2)"}},
	{"delete-then-set-null", schema{table(cParent, cSeed), table(fmt.Sprintf(cChild, "ON DELETE CASCADE"), cKids), table(fmt.Sprintf(cGrand, "ON DELETE SET NULL"), cGKids)},
		[]string{"DELETE FROM {0} WHERE n >= 10 AND id <> 3"}},
	{"delete-set-null", schema{table(cParent, cSeed), table(fmt.Sprintf(cChild, "ON DELETE SET NULL"), cKids), table(fmt.Sprintf(cGrand, "ON DELETE CASCADE"), cGKids)},
		[]string{"DELETE FROM {0} WHERE id = 1"}},
	{"update-key-cascade", schema{table(cParent, cSeed), table(fmt.Sprintf(cChild, "ON UPDATE CASCADE{d}"), cKids)},
		[]string{"UPDATE {0} SET id = id + 100 WHERE id IN (1, 2)"}},
	{"update-key-set-null", schema{table(cParent, cSeed), table(fmt.Sprintf(cChild, "ON UPDATE SET NULL"), cKids)},
		[]string{"UPDATE {0} SET id = 50 WHERE id = 1"}},
	{"update-unique-cascade", schema{
		table("CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, code VARCHAR(10) NOT NULL UNIQUE)", "INSERT INTO {t} (id, code) VALUES (1, 'a'), (2, 'b')"),
		table("CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, code VARCHAR(10), FOREIGN KEY (code) REFERENCES {0} (code) ON UPDATE CASCADE{d})",
			"INSERT INTO {t} (id, code) VALUES (10, 'a'), (11, 'a'), (12, 'b')")},
		[]string{"UPDATE {0} SET code = 'z' WHERE id = 1"}},
	{"tree", schema{table(fmt.Sprintf(cTree, "ON DELETE CASCADE"), cTrees)},
		[]string{"DELETE FROM {0} WHERE id = 1"}},
	{"tree-rows-of-the-statement", schema{table(fmt.Sprintf(cTree, "ON DELETE CASCADE"), cTrees)},
		[]string{"DELETE FROM {0} WHERE id IN (1, 2, 7)"}},
	{"two-keys-one-row", schema{table(cParent, cSeed), table("CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, a INT, b INT, "+
		"FOREIGN KEY (a) REFERENCES {0} (id) ON DELETE CASCADE, FOREIGN KEY (b) REFERENCES {0} (id) ON DELETE SET NULL)",
		"INSERT INTO {t} (id, a, b) VALUES (10, 1, 2), (11, 3, 2), (12, 3, 4)")},
		[]string{"DELETE FROM {0} WHERE id IN (1, 2)"}},
	{"earlier-statements", schema{table(cParent, cSeed), table(fmt.Sprintf(cChild, "ON DELETE CASCADE ON UPDATE CASCADE{d}"), cKids)},
		[]string{"INSERT INTO {1} (id, p, n) VALUES (15, 2, 6)", "UPDATE {1} SET n = n + 1 WHERE p = 2", "UPDATE {0} SET n = n + 1 WHERE id = 2",
			"DELETE FROM {0} WHERE id = 2", "UPDATE {0} SET id = 104 WHERE id = 4", "UPDATE {1} SET n = 0 WHERE p = 104"}},
}

// make creates the tables of s, seeded, and returns their names.
func (s schema) make(e *Env, prefix string) []string {
	var names []string
	for i, tb := range s {
		r := e.refs(names)
		seed := make([]string, len(tb.seed))
		for k, q := range tb.seed {
			seed[k] = r.Replace(q)
		}
		names = append(names, e.Table(fmt.Sprintf("%s%d", prefix, i), r.Replace(tb.def), seed...))
	}
	return names
}

// refs replaces {0}, {1}, … with names and {d} with e.Deferrable.
func (e *Env) refs(names []string) *strings.Replacer {
	pairs := []string{"{d}", e.Deferrable}
	for i, n := range names {
		pairs = append(pairs, fmt.Sprintf("{%d}", i), n)
	}
	return strings.NewReplacer(pairs...)
}

// inOrder runs stmts ({0}, … naming tables) in one local transaction
// through db.
func (e *Env) inOrder(ctx context.Context, tables, stmts []string) error {
	tx, err := e.Proxy.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	r := e.refs(tables)
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, r.Replace(s)); err != nil {
			return fmt.Errorf("%s: %w", r.Replace(s), err)
		}
	}
	return tx.Commit()
}

// rollingBack runs fn in a global transaction that then rolls back,
// failing t unless fn succeeds, and returns its XID.
func (e *Env) rollingBack(t *testing.T, fn func(ctx context.Context) error) txc.XID {
	t.Helper()
	xid, err := e.Coordinator.Global(func(ctx context.Context) error {
		if err := fn(ctx); err != nil {
			return err
		}
		return ErrRollback
	})
	if !errors.Is(err, ErrRollback) {
		t.Fatalf("global run: %v", err)
	}
	return xid
}

// cascadesRolledBack: each case in a global transaction that rolls back
// leaves every table as it was; committed, as a plain run leaves them.
func cascadesRolledBack(t *testing.T, newEnv func(t *testing.T) *Env) {
	for _, c := range cascadeCases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			tables := c.tables.make(e, "dt_cr")
			before := dumps(e, tables)
			xid := e.rollingBack(t, func(ctx context.Context) error {
				if err := e.inOrder(ctx, tables, c.stmts); err != nil {
					return err
				}
				if dumps(e, tables) == before {
					return errors.New("the statements changed nothing")
				}
				return nil
			})
			e.Coordinator.Wait(t, xid, txc.GlobalRollbacked)
			if got := dumps(e, tables); got != before {
				t.Fatalf("rolled back:\n%s\nbefore:\n%s", got, before)
			}
		})
	}
}

// cascadesCommitted: each case committed in a global transaction leaves
// the tables as the same statements run without the proxy do.
func cascadesCommitted(t *testing.T, newEnv func(t *testing.T) *Env) {
	for _, c := range cascadeCases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			plain, proxied := c.tables.make(e, "dt_cp"), c.tables.make(e, "dt_cc")
			r := e.refs(plain)
			for _, s := range c.stmts {
				if _, err := e.Plain.Exec(r.Replace(s)); err != nil {
					t.Fatalf("plain run: %v", err)
				}
			}
			xid, err := e.Coordinator.Global(func(ctx context.Context) error { return e.inOrder(ctx, proxied, c.stmts) })
			if err != nil {
				t.Fatalf("global run: %v", err)
			}
			e.Coordinator.Wait(t, xid, txc.GlobalCommitted)
			for i := range plain {
				if got, want := e.Dump(proxied[i]), e.Dump(plain[i]); got != want {
					t.Fatalf("table %d committed:\n%s\nplain run:\n%s", i, got, want)
				}
			}
		})
	}
}

// cascadeDirtyWrites: a row an action wrote, written again outside the
// global transaction between its local commit and its rollback, parks
// the rollback as a dirty write: nothing is written back, the outside
// write stays. Once it is undone by hand, a retry restores every table.
func cascadeDirtyWrites(t *testing.T, newEnv func(t *testing.T) *Env) {
	for _, c := range []struct {
		name         string
		tables       schema
		stmt         string
		write, unset string // the outside write and its undoing ({1}: the child)
	}{
		{"set-null-row-changed", schema{table(cParent, cSeed), table(fmt.Sprintf(cChild, "ON DELETE SET NULL"), cKids)},
			"DELETE FROM {0} WHERE id = 1", "UPDATE {1} SET n = 99 WHERE id = 10", "UPDATE {1} SET n = 1 WHERE id = 10"},
		{"deleted-row-back", schema{table(cParent, cSeed), table(fmt.Sprintf(cChild, "ON DELETE CASCADE"), cKids)},
			"DELETE FROM {0} WHERE id = 1", "INSERT INTO {1} (id, p, n) VALUES (11, NULL, 9)", "DELETE FROM {1} WHERE id = 11"},
		{"cascaded-key-row-changed", schema{table(cParent, cSeed), table(fmt.Sprintf(cChild, "ON UPDATE CASCADE{d}"), cKids)},
			"UPDATE {0} SET id = 101 WHERE id = 1", "UPDATE {1} SET n = 99 WHERE id = 11", "UPDATE {1} SET n = 2 WHERE id = 11"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			tables := c.tables.make(e, "dt_cd")
			r := e.refs(tables)
			before := dumps(e, tables)
			var written string
			xid := e.rollingBack(t, func(ctx context.Context) error {
				if err := e.inOrder(ctx, tables, []string{c.stmt}); err != nil {
					return err
				}
				if _, err := e.Plain.Exec(r.Replace(c.write)); err != nil {
					return err
				}
				written = dumps(e, tables)
				return nil
			})
			e.Coordinator.Wait(t, xid, txc.GlobalRollbackFailed)
			if got := dumps(e, tables); got != written {
				t.Fatalf("a parked rollback wrote:\n%s\nwas:\n%s", got, written)
			}
			if _, err := e.Plain.Exec(r.Replace(c.unset)); err != nil {
				t.Fatal(err)
			}
			e.Coordinator.Retry(t, xid)
			e.Coordinator.Wait(t, xid, txc.GlobalRollbacked)
			if got := dumps(e, tables); got != before {
				t.Fatalf("retried rollback:\n%s\nbefore:\n%s", got, before)
			}
		})
	}
}

// cascadeRefusals are writes whose referential actions AT mode cannot
// undo exactly: refused before they run.
var cascadeRefusals = []refusal{
	{"cascade-too-deep", func(_ *testing.T, e *Env) (string, []string) {
		var rows []string
		for i := 1; i <= datasource.MaxCascadeDepth+2; i++ { // the last row a level deeper than followed
			up := "NULL"
			if i > 1 {
				up = fmt.Sprint(i - 1)
			}
			rows = append(rows, fmt.Sprintf("(%d, %s)", i, up))
		}
		tb := e.Table("dt_deep", fmt.Sprintf(cTree, "ON DELETE CASCADE"), "INSERT INTO {t} (id, up) VALUES "+strings.Join(rows, ", "))
		return "DELETE FROM " + tb + " WHERE id = 1", []string{tb}
	}},
	{"cascade-cycle", func(t *testing.T, e *Env) (string, []string) {
		tb := e.Table("dt_cyc", "CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, a INT, b INT, FOREIGN KEY (a) REFERENCES {t} (id) ON DELETE CASCADE, FOREIGN KEY (b) REFERENCES {t} (id) ON DELETE CASCADE)",
			"INSERT INTO {t} (id, a, b) VALUES (1, NULL, NULL), (2, 1, NULL), (3, 2, NULL)", "UPDATE {t} SET b = 3 WHERE id = 2")
		return "DELETE FROM " + tb + " WHERE id = 1", []string{tb}
	}},
	{"cascade-into-trigger", func(t *testing.T, e *Env) (string, []string) {
		p := e.Table("dt_ctp", cParent, cSeed)
		c := e.Table("dt_ctc", strings.ReplaceAll(fmt.Sprintf(cChild, "ON DELETE CASCADE"), "{0}", p), cKids)
		audit := e.Table("dt_cta", "CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY)")
		for _, s := range e.Trigger(c, audit) {
			if _, err := e.Plain.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		return "DELETE FROM " + p + " WHERE id = 1", []string{p, c, audit}
	}},
	{"cascade-into-table-without-key", func(_ *testing.T, e *Env) (string, []string) {
		p := e.Table("dt_cnp", cParent, cSeed)
		c := e.Table("dt_cnc", "CREATE TABLE {t} (p INT, n INT NOT NULL, FOREIGN KEY (p) REFERENCES "+p+" (id) ON DELETE SET NULL)", "INSERT INTO {t} (p, n) VALUES (1, 1)")
		return "DELETE FROM " + p + " WHERE id = 1", []string{p, c}
	}},
	{"cascade-into-rows-of-the-statement", func(_ *testing.T, e *Env) (string, []string) {
		tb := e.Table("dt_cst", e.refs(nil).Replace(fmt.Sprintf(cTree, "ON UPDATE CASCADE{d}")), cTrees)
		return "UPDATE " + tb + " SET id = id + 100 WHERE id IN (1, 2)", []string{tb}
	}},
}

// cascadeLocks: the rows a referential action wrote are globally locked
// with the statement's own: another global transaction's write of one
// fails within its budget with a lock conflict naming the holder; and a
// write under tm.WithGlobalLock whose action would write a row another
// global transaction holds fails so too, changing nothing.
func cascadeLocks(t *testing.T, e *Env) {
	tables := schema{table(cParent, cSeed), table(fmt.Sprintf(cChild, "ON DELETE SET NULL"), cKids)}.make(e, "dt_cl")
	r := e.refs(tables)
	holding, release, first := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var errA error
	go func() {
		defer close(first)
		_, errA = e.Coordinator.Global(func(ctx context.Context) error {
			if err := e.inOrder(ctx, tables, []string{"DELETE FROM {0} WHERE id = 1", "UPDATE {1} SET n = n + 1 WHERE id = 12"}); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	select {
	case <-holding:
	case <-first:
		t.Fatalf("the first transaction ended before holding its locks: %v", errA)
	}
	defer func() { close(release); <-first }()
	wantConflict := func(what string, err error) {
		t.Helper()
		var te *txc.Error
		if !errors.Is(err, txc.ErrLockConflict) || !errors.As(err, &te) || te.Holder == "" {
			t.Fatalf("%s: err = %v, want a lock conflict naming the holder", what, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := e.Coordinator.TM.WithGlobalTx(ctx, tm.Config{Name: "short", Timeout: 10 * time.Second}, func(ctx context.Context) error {
		_, err := e.Proxy.ExecContext(ctx, r.Replace("UPDATE {1} SET n = 0 WHERE id = 10"))
		return err
	})
	wantConflict("a global write of a row an action wrote", err)
	before := dumps(e, tables)
	lctx, lcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer lcancel()
	err = tm.WithGlobalLock(lctx, func(ctx context.Context) error {
		_, err := e.Proxy.ExecContext(ctx, r.Replace("DELETE FROM {0} WHERE id = 2"))
		return err
	})
	wantConflict("a global-lock write whose action writes a locked row", err)
	if got := dumps(e, tables); got != before {
		t.Fatalf("the refused global-lock write changed:\n%s\nwas:\n%s", got, before)
	}
}
