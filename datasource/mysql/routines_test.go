package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	txcmysql "github.com/txcio/txc/datasource/mysql"
	"github.com/txcio/txc/internal/dbtest"
)

// Item: a stored function runs statements the proxy never sees. Called
// from an UPDATE's SET list or a plain SELECT in a global transaction,
// one that updated another table committed that write with the local
// transaction, and the global rollback left it (the rollback reported
// success). Every call the server may resolve to a stored function is
// now refused before anything runs.
func TestStoredFunctionRefused(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_fn", kv, kvSeed)
	other := e.table("at_fno", "CREATE TABLE {t} (id INT PRIMARY KEY, hits INT)", "INSERT INTO {t} VALUES (1, 0)")
	fn := dbtest.Name("at_fnf")
	if _, err := e.plain.Exec("CREATE FUNCTION " + fn + "() RETURNS INT MODIFIES SQL DATA BEGIN UPDATE " + other + " SET hits = hits + 1; RETURN 1; END"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.plain.Exec("DROP FUNCTION IF EXISTS " + fn) })
	both := []string{tb, other}
	for _, q := range []string{
		"UPDATE " + tb + " SET n = " + fn + "() WHERE id = 1",
		"SELECT " + fn + "()",
		"SELECT n FROM " + tb + " WHERE id = 1 AND " + fn + "() = 1",
		"SELECT n FROM " + tb + " WHERE id = (SELECT " + fn + "()) FOR UPDATE",
		"INSERT INTO " + tb + " (id, n, s) VALUES (9, " + fn + "(), 'z')",
		"INSERT INTO " + tb + " (id, n, s) VALUES (1, 0, 'a') ON DUPLICATE KEY UPDATE n = " + fn + "()",
		"DELETE FROM " + tb + " WHERE id = 4 AND " + fn + "() = 1",
		"SET @x = " + fn + "()",
		"SELECT test." + fn + "()",
		"SELECT n FROM " + tb + " WHERE id = 1 UNION SELECT " + fn + "()",
	} {
		e.expect(t, refused, "stored function", both, q)
	}
	// Native functions still run, in the statement and in plain reads.
	e.expect(t, undone, "", both, "UPDATE "+tb+" SET n = ABS(-5) + LENGTH(CONCAT(s, NOW())) WHERE id = 1", "SELECT COUNT(*), IF(1, CHAR(65), NULL) FROM "+tb)
}

// TestNativeFunctionsAreNative: every name AT mode lets a statement call
// is one the server resolves to its own function, in the forms AT mode
// lets it be written, even when a stored function of that name exists
// in the current database (created here, one per name, with no
// parameters: a call with an argument that reaches it fails with 1318).
// Builtin spellings of every kind the parser knows are not refused; the
// forms that reach a stored function are.
func TestNativeFunctionsAreNative(t *testing.T) {
	ctx := context.Background()
	c := privateDatabase(t)
	reaches := func(call string) bool {
		_, err := c.ExecContext(ctx, "SELECT "+call)
		var me *gomysql.MySQLError
		return errors.As(err, &me) && me.Number == 1318
	}
	forms := []struct {
		names string
		calls []string // of n: the forms it must be native in
	}{
		{txcmysql.NativeAnyForm, []string{"%s(1)", "%s (1)", "`%s`(1)", "%s/**/(1)"}},
		{txcmysql.NativeSpaced, []string{"%s(1)", "%s (1)"}},
		{txcmysql.NativeBare, []string{"%s(1)"}},
	}
	for _, f := range forms {
		for _, name := range strings.Fields(f.names) {
			if _, err := c.ExecContext(ctx, "CREATE FUNCTION `"+name+"`() RETURNS INT RETURN 7"); err != nil {
				t.Fatal(err)
			}
			for _, form := range f.calls {
				if call := fmt.Sprintf(form, name); reaches(call) {
					t.Errorf("%s calls a stored function %s", call, name)
				}
			}
		}
	}
	if _, err := c.ExecContext(ctx, "CREATE FUNCTION `point`(a INT, b INT) RETURNS INT RETURN 7"); err != nil {
		t.Fatal(err)
	}
	for _, call := range []string{"ST_X(point(1, 2))", "ST_X(point (1, 2))", "ST_X(`point`(1, 2))", "ST_X(point/**/(1, 2))"} {
		if _, err := c.ExecContext(ctx, "SELECT "+call); err != nil {
			t.Errorf("%s: %v (a stored function point, not the native one)", call, err)
		}
	}
	if !reaches("count (1)") || !reaches("`year`(1)") {
		t.Error("the forms that reach a stored function were not told apart")
	}
	for _, expr := range []string{
		"CHAR(65)", "INSERT('a', 1, 1, 'b')", "DATE '2020-01-01'", "TIME '10:00:00'", "TIMESTAMP '2020-01-01 00:00:00'",
		"CURRENT_TIMESTAMP", "NOW(6)", "POSITION('a' IN 'b')", "SUBSTRING('abc' FROM 2)", "TRIM(LEADING 'a' FROM 'ab')",
		"EXTRACT(YEAR FROM '2020-01-01')", "GET_FORMAT(DATE, 'EUR')", "DATE_ADD('2020-01-01', INTERVAL 1 DAY)",
		"CONVERT('a' USING utf8mb4)", "CAST(1 AS CHAR)", "COUNT(*)", "AVG(1)", "GROUP_CONCAT('a')", "ROW_NUMBER() OVER ()",
		"IF(1, 2, 3)", "WEIGHT_STRING('a')", "NEXT VALUE FOR s", "NEXTVAL(s)", "LASTVAL(s)", "SETVAL(s, 5)", "PASSWORD('x')",
		"MOD(5, 2)", "TIMESTAMPDIFF(DAY, '2020-01-01', '2020-02-01')", "UTC_TIMESTAMP()", "CURRENT_USER", "LOCALTIME",
		"SYSDATE()", "USER()", "DATABASE()", "JSON_EXTRACT('{}', '$')", "COALESCE(NULL, 1)", "ST_ASTEXT(ST_GEOMFROMTEXT('POINT(1 1)'))",
		"LAST_INSERT_ID()", "UUID()", "FOUND_ROWS()", "LEFT('ab', 1)", "REPEAT('a', 2)", "REPLACE('a', 'a', 'b')",
		"`abs`(-1)", "abs (-1)", "year ('2020-01-01')", "`ts` + INTERVAL 1 DAY", "ts - INTERVAL 1 DAY", "CURRENT_TIMESTAMP ()",
		"ST_AREA(ST_BUFFER(ST_GEOMFROMTEXT('POINT(1 1)'), 1))", "MBRCONTAINS(g, ST_POINTFROMWKB(w))", "POINT(1, 2)", "point (1, 2)", "`point`(1, 2)",
	} {
		if _, err := (txcmysql.Dialect{}).Recognize("SELECT " + expr + " FROM t"); err != nil {
			t.Errorf("SELECT %s: %v", expr, err)
		}
	}
	for _, q := range []string{"SELECT f()", "SELECT test.abs(1)", "SELECT myagg(n) FROM t", "UPDATE t SET n = f() WHERE id = 1", "SELECT REGEXP_LIKE('a', 'a')",
		"SELECT `year`(d) FROM t", "SELECT count (1)", "SELECT COUNT/* */(1)", "SELECT `now`()", "UPDATE t SET n = `left`('a', 1) WHERE id = 1", "SELECT 1 + `if`(1, 2, 3)",
		"SELECT POINT(1)"} {
		_, err := (txcmysql.Dialect{}).Recognize(q)
		var re *datasource.RefusedError
		if !errors.As(err, &re) || !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "stored function") {
			t.Errorf("%s: %v, want a refusal naming a stored function", q, err)
		}
	}
}

// privateDatabase creates a database of its own, dropped when the test
// ends, and returns a connection using it.
func privateDatabase(t *testing.T) *sql.Conn {
	t.Helper()
	db := dbtest.MySQL(t)
	name := dbtest.Name("at_fnres")
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + name) })
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.ExecContext(context.Background(), "USE "+name); err != nil {
		t.Fatal(err)
	}
	return c
}
