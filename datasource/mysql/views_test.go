package mysql_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
)

// Item: a view runs the functions of its definition for the statement
// that reads it. With a view calling a stored function that updates
// another table, a plain SELECT of the view (or an INSERT … SELECT from
// it, or a read of a view over that view) in a global transaction ran
// the update, which no image held, and the global rollback reported
// Rollbacked with it left. Such statements are now refused before they
// run, naming the view and the function; views calling native functions
// only are read as before.
func TestViewCallingStoredFunctionRefused(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("vc_t", kv, kvSeed)
	other := e.table("vc_o", "CREATE TABLE {t} (id INT PRIMARY KEY, hits INT)", "INSERT INTO {t} VALUES (1, 0)")
	fn, v, outer, plain := dbtest.Name("vc_f"), dbtest.Name("vc_v"), dbtest.Name("vc_vv"), dbtest.Name("vc_vp")
	for _, q := range []string{
		"CREATE FUNCTION " + fn + "() RETURNS INT MODIFIES SQL DATA BEGIN UPDATE " + other + " SET hits = hits + 1; RETURN 1; END",
		"CREATE VIEW " + v + " AS SELECT id, n, " + fn + "() AS x FROM " + tb,
		"CREATE VIEW " + outer + " AS SELECT id, n FROM " + v,
		"CREATE VIEW " + plain + " AS SELECT id, CONCAT(s, 'x') AS c, ABS(n) AS a FROM " + tb,
	} {
		if _, err := e.plain.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		e.plain.Exec("DROP VIEW IF EXISTS " + outer + ", " + v + ", " + plain)
		e.plain.Exec("DROP FUNCTION IF EXISTS " + fn)
	})
	both := []string{tb, other}
	for _, q := range []string{
		"SELECT * FROM " + v,
		"SELECT * FROM test." + outer,
		"INSERT INTO " + tb + " (id, n, s) SELECT id + 100, n, 'v' FROM " + v,
		"UPDATE " + tb + " SET n = 5 WHERE id IN (SELECT id FROM " + outer + ")",
		"SELECT n FROM " + tb + " WHERE id = 1 UNION SELECT n FROM " + v,
		"SET @vc = (SELECT MAX(x) FROM " + v + ")",
	} {
		e.expect(t, refused, "view `test`.`"+v+"`, whose definition calls "+fn, both, q)
	}
	// Through Query too, before anything runs.
	_, err := e.global(func(ctx context.Context) error {
		rows, err := e.db.QueryContext(ctx, "SELECT n FROM "+outer)
		if err == nil {
			rows.Close()
		}
		return err
	})
	if !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), fn) {
		t.Errorf("query of a view over the view: %v, want a refusal naming %s", err, fn)
	}
	if got := e.dump(other); !strings.Contains(got, "hits=0") {
		t.Errorf("the function ran:\n%s", got)
	}
	e.expect(t, undone, "", both, "SELECT * FROM "+plain, "UPDATE "+tb+" SET n = 7 WHERE id IN (SELECT id FROM "+plain+")")
}
