package mysql_test

import (
	"errors"
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
// is one the server resolves to its own function, so no stored function
// can hide behind it: the server answers a call of it (here with no
// arguments) with anything but "FUNCTION … does not exist" (1305), which
// it gives a name that is not native. Builtin spellings of every kind
// the parser knows are not refused.
func TestNativeFunctionsAreNative(t *testing.T) {
	db := dbtest.MySQL(t)
	notNative := func(name string) bool {
		_, err := db.Exec("SELECT " + name + "()")
		var me *gomysql.MySQLError
		return errors.As(err, &me) && me.Number == 1305
	}
	if !notNative("txc_no_such_function") {
		t.Fatal("a name that is no function: the server did not answer 1305")
	}
	for _, name := range strings.Fields(txcmysql.NativeNames) {
		if notNative(name) {
			t.Errorf("%s is not a native function of the server, which would call a stored function of that name", name)
		}
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
	} {
		if _, err := (txcmysql.Dialect{}).Recognize("SELECT " + expr); err != nil {
			t.Errorf("SELECT %s: %v", expr, err)
		}
	}
	for _, q := range []string{"SELECT f()", "SELECT test.abs(1)", "SELECT myagg(n) FROM t", "UPDATE t SET n = f() WHERE id = 1", "SELECT REGEXP_LIKE('a', 'a')"} {
		_, err := (txcmysql.Dialect{}).Recognize(q)
		var re *datasource.RefusedError
		if !errors.As(err, &re) || !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "stored function") {
			t.Errorf("%s: %v, want a refusal naming a stored function", q, err)
		}
	}
}
