package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource/dialecttest"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tm"
)

// mergeWrites are MERGE statements on the conformance suite's table
// (id, n, s; ids 1 to 4): matched UPDATE, matched DELETE, not-matched
// INSERT and mixtures, from a VALUES list, a sub-select and a table.
var mergeWrites = []dialecttest.Write{
	{Name: "merge-update", Stmts: []string{"MERGE INTO {t} t USING (VALUES (1, 11), (2, 22), (9, 99)) s (id, n) ON t.id = s.id WHEN MATCHED THEN UPDATE SET n = s.n, s = 'u'"}},
	{Name: "merge-delete", Stmts: []string{"MERGE INTO {t} t USING (SELECT id FROM {t} WHERE n >= 30) s ON t.id = s.id WHEN MATCHED THEN DELETE"}},
	{Name: "merge-insert", Stmts: []string{"MERGE INTO {t} t USING (VALUES (5, 50, 'e'), (1, 0, 'z'), (6, 60, 'f')) s (id, n, s) ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.n, s.s)"}},
	{Name: "merge-mixed", Stmts: []string{"MERGE INTO {t} t USING (VALUES (1, 0), (2, 21), (3, 31), (7, 70)) s (id, n) ON t.id = s.id " +
		"WHEN MATCHED AND s.n = 0 THEN DELETE WHEN MATCHED AND s.n = 31 THEN DO NOTHING WHEN MATCHED THEN UPDATE SET n = s.n, s = 'm' " +
		"WHEN NOT MATCHED THEN INSERT (id, n, s) VALUES (s.id, s.n, 'new')"}},
	{Name: "merge-table-source", Stmts: []string{"MERGE INTO {t} t USING {t} p ON t.id = p.id + 1 WHEN MATCHED AND p.id = 1 THEN DELETE WHEN MATCHED THEN UPDATE SET n = p.n, s = p.s || t.s"}},
	{Name: "merge-then-more", Stmts: []string{
		"MERGE INTO {t} t USING (VALUES (1), (5)) s (id) ON t.id = s.id WHEN MATCHED THEN UPDATE SET n = t.n + 1 WHEN NOT MATCHED THEN INSERT VALUES (s.id, 5, 'e')",
		"UPDATE {t} SET n = n * 2 WHERE id IN (1, 5)",
		"MERGE INTO {t} t USING (VALUES (1), (5)) s (id) ON t.id = s.id WHEN MATCHED THEN DELETE",
		"INSERT INTO {t} VALUES (1, 1, 'again')",
	}},
}

// TestMergeConformance: MERGE on PostgreSQL 17 or later, rolled back,
// leaves its table as it was; committed, as MERGE without the proxy.
func TestMergeConformance(t *testing.T) {
	dsn := dbtest.PrivatePostgres17(t)
	dialecttest.RunWrites(t, func(t *testing.T) *dialecttest.Env {
		e := newEnvAt(t, dsn)
		return &dialecttest.Env{Coordinator: e.coordinator(), Plain: e.plain, Proxy: e.db, Table: e.table,
			Dump: func(table string) string { return e.dump(table) }, Trigger: e.trigger, Deferrable: " DEFERRABLE"}
	}, mergeWrites)
}

// TestMerge: MERGE from a table, with the application reading its own
// RETURNING rows, rolled back and committed; a row changed outside the
// global transaction before the rollback parks it, nothing overwritten.
func TestMerge(t *testing.T) {
	e := newEnvAt(t, dbtest.PrivatePostgres17(t))
	tb := e.table("at_mg", "CREATE TABLE {t} (id int PRIMARY KEY, n int NOT NULL, note text, at timestamptz DEFAULT '2024-01-02 03:04:05+00')",
		"INSERT INTO {t} (id, n, note) VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, NULL)")
	src := e.table("at_mgsrc", "CREATE TABLE {t} (id int PRIMARY KEY, n int, op text)",
		"INSERT INTO {t} VALUES (1, 11, 'u'), (2, 0, 'd'), (4, 40, 'i')")
	merge := "MERGE INTO " + tb + " AS t USING " + src + " AS s ON t.id = s.id " +
		"WHEN MATCHED AND s.op = 'd' THEN DELETE WHEN MATCHED THEN UPDATE SET n = s.n, note = t.note || '!' " +
		"WHEN NOT MATCHED THEN INSERT (id, n) VALUES (s.id, s.n) RETURNING merge_action(), t.id"
	seed := e.dump(tb)
	run := func(end error) (txc.XID, string, error) {
		var got []string
		xid, err := e.global(func(ctx context.Context) error {
			rows, err := e.db.QueryContext(ctx, merge)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var action string
				var id int
				if err := rows.Scan(&action, &id); err != nil {
					return err
				}
				got = append(got, action+" "+string(rune('0'+id)))
			}
			if err := rows.Err(); err != nil {
				return err
			}
			return end
		})
		return xid, strings.Join(got, ","), err
	}

	xid, returned, err := run(errRollback)
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if returned != "UPDATE 1,DELETE 2,INSERT 4" {
		t.Errorf("the application read %q", returned)
	}
	e.rolledBack(xid, tb, seed)

	// Committed: as the MERGE leaves the table without the proxy.
	plain := e.table("at_mgpl", "CREATE TABLE {t} (id int PRIMARY KEY, n int NOT NULL, note text, at timestamptz DEFAULT '2024-01-02 03:04:05+00')",
		"INSERT INTO {t} (id, n, note) VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, NULL)")
	e.exec(strings.Replace(merge, tb, plain, 1))
	xid, _, err = run(nil)
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	if got, want := e.dump(tb), e.dump(plain); got != want {
		t.Fatalf("committed:\n%s\nplain:\n%s", got, want)
	}

	// A dirty write between phase 1 and the rollback.
	e.exec("DELETE FROM "+tb, "INSERT INTO "+tb+" (id, n, note) VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, NULL)")
	xid, err = e.global(func(ctx context.Context) error {
		if _, err := e.db.ExecContext(ctx, merge); err != nil {
			return err
		}
		if _, err := e.plain.Exec("UPDATE " + tb + " SET n = 77 WHERE id = 1"); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.parked(xid, tb, e.dump(tb))
	if !strings.Contains(e.dump(tb), "(1,77,") {
		t.Fatalf("the outside write was overwritten:\n%s", e.dump(tb))
	}

	// Under tm.WithGlobalLock, a MERGE of a row the parked transaction
	// holds is refused with a lock conflict and changes nothing; one of a
	// row nobody holds goes through.
	held := e.dump(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = tm.WithGlobalLock(ctx, func(ctx context.Context) error {
		_, err := e.db.ExecContext(ctx, "MERGE INTO "+tb+" t USING (VALUES (1)) s (id) ON t.id = s.id WHEN MATCHED THEN UPDATE SET n = 0")
		return err
	})
	if !errors.Is(err, txc.ErrLockConflict) {
		t.Fatalf("global-lock MERGE of a held row: %v, want a lock conflict", err)
	}
	if got := e.dump(tb); got != held {
		t.Fatalf("the refused global-lock MERGE changed the table:\n%s", got)
	}
	if err := tm.WithGlobalLock(context.Background(), func(ctx context.Context) error {
		_, err := e.db.ExecContext(ctx, "MERGE INTO "+tb+" t USING (VALUES (3)) s (id) ON t.id = s.id WHEN MATCHED THEN UPDATE SET n = 0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.dump(tb), "(3,0,") {
		t.Fatalf("the global-lock MERGE did not write:\n%s", e.dump(tb))
	}
}

// TestMergeLockConflict: two global transactions MERGE-ing the same row
// (the conformance suite's lock test, with MERGE as the write).
func TestMergeLockConflict(t *testing.T) {
	e := newEnvAt(t, dbtest.PrivatePostgres17(t))
	env := &dialecttest.Env{Coordinator: e.coordinator(), Plain: e.plain, Proxy: e.db, Table: e.table,
		Dump: func(table string) string { return e.dump(table) }}
	dialecttest.TwoGlobalTransactionsOneRow(t, env, func(table, add string) string {
		return "MERGE INTO " + table + " t USING (VALUES (1)) s (id) ON t.id = s.id WHEN MATCHED THEN UPDATE SET n = t.n + " + add +
			" WHEN NOT MATCHED THEN INSERT VALUES (s.id, 0, 'new')"
	})
}

// TestMergeRefused: MERGE forms whose writes cannot be imaged exactly
// are refused before they run, on PostgreSQL 17 too, and change nothing.
func TestMergeRefused(t *testing.T) {
	e := newEnvAt(t, dbtest.PrivatePostgres17(t))
	tb := e.table("at_mgrf", kv, kvSeed)
	parent := e.table("at_mgpar", kv, kvSeed)
	e.table("at_mgchild", "CREATE TABLE {t} (id int PRIMARY KEY, p int REFERENCES "+parent+" (id) ON DELETE CASCADE)", "INSERT INTO {t} VALUES (1, 1)")
	before := e.dump(tb) + e.dump(parent)
	for _, c := range []struct{ q, reason string }{
		{"MERGE INTO " + tb + " t USING (VALUES (1)) s (id) ON t.id = s.id WHEN NOT MATCHED BY SOURCE THEN DELETE", "NOT MATCHED BY SOURCE"},
		{"MERGE INTO " + tb + " t USING (VALUES (1)) s (id) ON t.id = s.id WHEN MATCHED THEN UPDATE SET id = 100", "sets primary-key column"},
		{"MERGE INTO " + parent + " t USING (VALUES (1)) s (id) ON t.id = s.id WHEN MATCHED THEN DELETE", "ON DELETE or ON UPDATE actions"},
		{"WITH m AS (MERGE INTO " + tb + " t USING (VALUES (1)) s (id) ON t.id = s.id WHEN MATCHED THEN DELETE RETURNING t.id) SELECT * FROM m", "data-modifying WITH"},
	} {
		_, err := e.global(func(ctx context.Context) error {
			_, err := e.db.ExecContext(ctx, c.q)
			return err
		})
		if !errors.Is(err, txc.ErrRefused) || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%s: err = %v, want a refusal naming %q", c.q, err, c.reason)
		}
	}
	if got := e.dump(tb) + e.dump(parent); got != before {
		t.Fatalf("changed:\n%s", got)
	}
}

// TestMergeRefusedBefore17: on a server older than PostgreSQL 17 (the
// shared one), whose MERGE returns no rows, MERGE is refused before it
// runs, saying so, and changes nothing.
func TestMergeRefusedBefore17(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_mg15", kv, kvSeed)
	before := e.dump(tb)
	_, err := e.global(func(ctx context.Context) error {
		_, err := e.db.ExecContext(ctx, "MERGE INTO "+tb+" t USING (VALUES (1, 5)) s (id, n) ON t.id = s.id WHEN MATCHED THEN UPDATE SET n = s.n WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.n, 'x')")
		return err
	})
	if !errors.Is(err, txc.ErrRefused) || !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "MERGE needs PostgreSQL 17 or later") {
		t.Fatalf("err = %v, want the refusal of MERGE before PostgreSQL 17", err)
	}
	if got := e.dump(tb); got != before {
		t.Fatalf("changed:\n%s", got)
	}
}
