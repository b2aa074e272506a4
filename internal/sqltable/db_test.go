package sqltable_test

import (
	"database/sql"
	"strconv"
	"testing"

	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/internal/sqltable"
)

// testDB is one of the real databases (see internal/dbtest).
type testDB struct {
	name    string
	dialect sqltable.Dialect
	db      *sql.DB
}

// forEachDB runs fn against MariaDB and PostgreSQL, in parallel.
func forEachDB(t *testing.T, fn func(t *testing.T, d testDB)) {
	t.Helper()
	for _, c := range []struct {
		name string
		d    sqltable.Dialect
		open func(testing.TB) *sql.DB
	}{{"mysql", sqltable.MySQL, dbtest.MySQL}, {"postgres", sqltable.Postgres, dbtest.Postgres}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fn(t, testDB{c.name, c.d, c.open(t)})
		})
	}
}

// tableName returns a table name no concurrent test uses; the table is
// dropped when the test ends.
func tableName(t *testing.T, d testDB, prefix string) string { return dbtest.Table(t, d.db, prefix) }

// ph returns the n-th (from 1) placeholder of d.
func ph(d testDB, n int) string {
	if d.dialect == sqltable.Postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}
