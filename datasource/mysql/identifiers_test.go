package mysql_test

import (
	"testing"

	"github.com/txcio/txc/datasource/dialecttest"
	"github.com/txcio/txc/internal/dbtest"
)

// TestQuotedIdentifiersRoundTrip: a table and columns whose names hold
// quotes, backslashes, spaces and (in columns) backquotes and dots are
// named correctly in every statement the proxy builds (images, after
// images, the rollback's lock, compare and restore): writes through
// INSERT, UPDATE (a key change among them), ON DUPLICATE KEY UPDATE and
// DELETE roll back exactly. A table name with a backquote or a dot is
// refused (LoadTable), so it is not tried here.
func TestQuotedIdentifiersRoundTrip(t *testing.T) {
	e := newEnv(t, "")
	name := dbtest.Name("at_id") + `"x\y'z é`
	tb := "`" + name + "`"
	t.Cleanup(func() { e.plain.Exec("DROP TABLE IF EXISTS " + tb) })
	k, n := "`k``\\\"'. x`", "`n``1\\`"
	for _, q := range []string{"CREATE TABLE " + tb + " (" + k + " VARCHAR(20) PRIMARY KEY, " + n + " INT NOT NULL)", "INSERT INTO " + tb + " VALUES ('a', 1), ('b', 2), ('c', 3)"} {
		if _, err := e.plain.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	stmts := dialecttest.Fill([]string{
		"INSERT INTO {t} ({k}, {n}) VALUES ('d', 4)",
		"UPDATE {t} SET {n} = {n} + 10 WHERE {k} IN ('a', 'd')",
		"UPDATE {t} AS x SET x.{k} = 'e' WHERE x.{k} = 'b'",
		"INSERT INTO {t} ({k}, {n}) VALUES ('c', 5) ON DUPLICATE KEY UPDATE {n} = {t}.{n} + VALUES({n})",
		"DELETE FROM {t} WHERE {n} = 13 ORDER BY {k} LIMIT 1",
	}, "{t}", tb, "{k}", k, "{n}", n)
	e.suite().RollsBack(t, tb, e.suite().Statements(stmts...))
}
