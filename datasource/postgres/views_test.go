package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/txcio/txc"
)

// TestViewCallingWritingFunctionRefused: a view whose definition calls a
// VOLATILE function that writes ran it for every statement reading the
// view (SELECT * FROM v, INSERT … SELECT FROM v, a view over that view)
// in a global transaction; the function's rows were in no image and the
// global rollback reported the transaction rolled back with them still
// there. Such statements are refused before they run, naming the view
// and the function; views calling no such function are read as before.
func TestViewCallingWritingFunctionRefused(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_vw", kv, kvSeed)
	fn, v, outer, plain := tb+"_w", tb+"_v", tb+"_vv", tb+"_vp"
	e.exec("CREATE FUNCTION "+fn+"(x int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN INSERT INTO "+tb+" (id, n) VALUES (x + 1000, x) ON CONFLICT DO NOTHING; RETURN x; END $$",
		"CREATE VIEW "+v+" AS SELECT id, "+fn+"(id) AS x FROM "+tb,
		"CREATE VIEW "+outer+" AS SELECT id FROM "+v,
		"CREATE VIEW "+plain+" AS SELECT id, abs(n) AS a, now() AS t FROM "+tb)
	t.Cleanup(func() {
		e.plain.Exec("DROP VIEW IF EXISTS " + outer + ", " + v + ", " + plain + "; DROP FUNCTION IF EXISTS " + fn)
	})
	before := e.dump(tb)
	for q, want := range map[string]string{
		"SELECT * FROM " + v:                                                     "it reads view " + v + ", whose definition calls a function",
		"SELECT * FROM public." + outer:                                          "it reads view " + outer + ", over view " + v + ", whose definition calls",
		"INSERT INTO " + tb + " (id, n) SELECT id + 100, x FROM " + v:            "it reads view " + v,
		"UPDATE " + tb + " SET n = 5 WHERE id IN (SELECT id FROM " + outer + ")": "over view " + v,
	} {
		err, st := e.rollbackOne(e.db, q)
		wantRefused(t, err, want)
		wantRefused(t, err, fn+"(integer)")
		if st != txc.GlobalRollbacked {
			t.Fatalf("%s: %v", q, st)
		}
		if got := e.dump(tb); got != before {
			t.Fatalf("%s: changed:\n%s", q, got)
		}
	}
	// A cursor runs its query on FETCH, EXPLAIN ANALYZE runs it at once.
	for _, q := range []string{"DECLARE " + tb + "_c CURSOR FOR SELECT * FROM " + outer, "EXPLAIN ANALYZE SELECT * FROM " + v, "DECLARE " + tb + "_d CURSOR FOR SELECT " + fn + "(7)"} {
		var stmtErr error
		xid, _ := e.global(func(ctx context.Context) error {
			tx, err := e.db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if _, stmtErr = tx.ExecContext(ctx, q); stmtErr == nil && strings.HasPrefix(q, "DECLARE") {
				_, stmtErr = tx.ExecContext(ctx, "FETCH ALL FROM "+strings.Fields(q)[1])
			}
			if stmtErr == nil {
				if stmtErr = tx.Commit(); stmtErr == nil {
					return errRollback
				}
			}
			return stmtErr
		})
		wantRefused(t, stmtErr, fn+"(integer)")
		if st := e.finish(xid); st != txc.GlobalRollbacked {
			t.Fatalf("%s: %v", q, st)
		}
		if got := e.dump(tb); got != before {
			t.Fatalf("%s: changed:\n%s", q, got)
		}
	}
	e.stmtsRollBack(tb, before, "SELECT * FROM "+plain, "UPDATE "+tb+" SET n = 9 WHERE id IN (SELECT id FROM "+plain+")")
}
