package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"sync"
	"testing"

	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/storetest"
)

// dialects are the databases every test runs on, with this machine's DSNs.
var dialects = []struct {
	d   Dialect
	dsn string
	db  func(testing.TB) *sql.DB
}{
	{MySQL, dbtest.MySQLDSN, dbtest.MySQL},
	{Postgres, dbtest.PostgresDSN, dbtest.Postgres},
}

// forEachDialect runs fn as a subtest per dialect, with the plain
// database (the test fails under CI=true, and skips otherwise, when it is
// unreachable).
func forEachDialect(t *testing.T, fn func(t *testing.T, d Dialect, dsn string, db *sql.DB)) {
	for _, c := range dialects {
		t.Run(c.d.String(), func(t *testing.T) { fn(t, c.d, c.dsn, c.db(t)) })
	}
}

// freshPrefix returns a table prefix no concurrent test uses and drops its
// tables when the test ends.
func freshPrefix(t testing.TB, db *sql.DB) string {
	p := dbtest.Name("st") + "_"
	t.Cleanup(func() { dropTables(db, p) })
	return p
}

// dropTables drops every table a store with prefix p may have made.
func dropTables(db *sql.DB, p string) {
	t := newTables(p)
	for _, name := range []string{t.schema, t.global, t.branch, t.sequence} {
		_, _ = db.Exec("DROP TABLE IF EXISTS " + name)
	}
}

// dirPrefix maps a storetest directory to a table prefix. It depends on
// dir alone, so that the kill test's child process, which only knows dir,
// opens the same tables.
func dirPrefix(dir string) string {
	h := fnv.New64a()
	h.Write([]byte(dir))
	return fmt.Sprintf("st%016x_", h.Sum64())
}

// harness opens stores of dialect d keyed by the suite's directories and
// drops their tables when tb ends. FailNext injects a crash into the SQL
// transaction itself (see injected).
func harness(tb testing.TB, d Dialect, dsn string, db *sql.DB) storetest.Harness {
	var mu sync.Mutex
	used := map[string]bool{}
	tb.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for p := range used {
			dropTables(db, p)
		}
	})
	return storetest.Harness{
		Open: func(dir string) (store.Store, error) {
			p := dirPrefix(dir)
			mu.Lock()
			used[p] = true
			mu.Unlock()
			return Open(context.Background(), Options{Dialect: d, DSN: dsn, TablePrefix: p})
		},
		FailNext: func(s store.Store, err error, keepAll bool) {
			ss := s.(*Store)
			ss.mu.Lock()
			ss.failNext = &injected{err: err, keepAll: keepAll}
			ss.mu.Unlock()
		},
		Subprocess: true,
	}
}
