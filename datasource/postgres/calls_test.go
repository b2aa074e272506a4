package postgres_test

import (
	"context"
	"testing"

	"github.com/txcio/txc"
)

// TestWritingFunctionCallRefused: a VOLATILE function that writes rows,
// called by a SELECT or inside a write of a global transaction, wrote
// rows no image held, and the global rollback reported the transaction
// rolled back with them still there. Such calls, and calls of the
// large-object writers, are refused before they run; built-in and
// non-VOLATILE functions run, and outside a global transaction anything.
func TestWritingFunctionCallRefused(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_fnw", kv, kvSeed)
	fn, stable := tb+"_w", tb+"_s"
	e.exec("CREATE FUNCTION "+fn+"(x int) RETURNS int LANGUAGE sql AS $$ INSERT INTO "+tb+" (id, n) VALUES (x, x) RETURNING n $$",
		"CREATE FUNCTION "+stable+"(x int) RETURNS int LANGUAGE sql STABLE AS $$ SELECT x + 1 $$")
	t.Cleanup(func() { e.plain.Exec("DROP FUNCTION IF EXISTS " + fn + ", " + stable) })
	before := e.dump(tb)
	for _, q := range []string{
		"SELECT " + fn + "(70)",
		"SELECT n FROM " + tb + " WHERE n < public." + fn + "(71)",
		"UPDATE " + tb + " SET n = " + fn + "(72) WHERE id = 1",
		"INSERT INTO " + tb + " (id, n) VALUES (73, " + fn + "(74))",
		"DELETE FROM " + tb + " WHERE id = " + fn + "(75)",
		"SELECT pg_catalog.lo_create(0)",
	} {
		err, st := e.rollbackOne(e.db, q)
		wantRefused(t, err, "it calls a function that may write rows")
		if st != txc.GlobalRollbacked {
			t.Fatalf("%s: %v", q, st)
		}
		if got := e.dump(tb); got != before {
			t.Fatalf("%s: changed:\n%s", q, got)
		}
	}
	e.stmtsRollBack(tb, before, "SELECT count(*), now(), lower('A'), "+stable+"(1) FROM "+tb,
		"UPDATE "+tb+" SET n = abs(-2) + "+stable+"(1) WHERE id = 1")
	if _, err := e.db.ExecContext(context.Background(), "SELECT "+fn+"(76)"); err != nil {
		t.Fatal(err)
	}
	if got := e.value("SELECT n FROM " + tb + " WHERE id = 76"); got != "76" {
		t.Fatalf("outside a global transaction the function wrote %q", got)
	}
}
