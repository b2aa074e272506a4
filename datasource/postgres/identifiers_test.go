package postgres_test

import (
	"testing"

	"github.com/txcio/txc/datasource/dialecttest"
	"github.com/txcio/txc/internal/dbtest"
)

// TestQuotedIdentifiersRoundTrip: a schema, a table and columns whose
// names hold double quotes, dots, backslashes, single quotes, spaces and
// capitals are named correctly in every statement the proxy builds (the
// table probe, images, the rollback's lock, compare and restore): writes
// through INSERT, UPDATE (a key change among them), ON CONFLICT DO
// UPDATE and DELETE roll back exactly.
func TestQuotedIdentifiersRoundTrip(t *testing.T) {
	e := newEnv(t)
	schema := `"` + dbtest.Name("At_s") + `.x""\'"`
	tb := schema + `."t""\y'. É"`
	e.exec("CREATE SCHEMA " + schema)
	t.Cleanup(func() { e.plain.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
	k, n := `"k""\'. X"`, `"N""1\"`
	e.exec("CREATE TABLE "+tb+" ("+k+" text PRIMARY KEY, "+n+" int NOT NULL)", "INSERT INTO "+tb+" VALUES ('a', 1), ('b', 2), ('c', 3)")
	stmts := dialecttest.Fill([]string{
		"INSERT INTO {t} ({k}, {n}) VALUES ('d', 4)",
		"UPDATE {t} SET {n} = {n} + 10 WHERE {k} IN ('a', 'd')",
		"UPDATE {t} AS x SET {k} = 'e' WHERE x.{k} = 'b'",
		"INSERT INTO {t} AS x ({k}, {n}) VALUES ('c', 5) ON CONFLICT ({k}) DO UPDATE SET {n} = x.{n} + excluded.{n}",
		"DELETE FROM {t} WHERE {n} = 13",
	}, "{t}", tb, "{k}", k, "{n}", n)
	e.suite().RollsBack(t, tb, e.suite().Statements(stmts...))
}
