// Package dbtest gives tests the real databases of this machine (started,
// or installed, by scripts/databases.sh): MariaDB at 127.0.0.1:3306 (root,
// no password, database test) and PostgreSQL at 127.0.0.1:5432 (trust,
// user postgres, database test).
//
// A database that cannot be reached fails the test when CI=true, and skips
// it otherwise: under CI a skipped test would be a hidden failure. Under
// go test -short (make test-short) every test that asks for a database, a
// private server or a subprocess skips before touching it (SkipShort).
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx"
)

// DSNs of this machine's databases.
const (
	MySQLDSN    = "root@tcp(127.0.0.1:3306)/test"
	PostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// MySQL opens the MariaDB test database.
func MySQL(t testing.TB) *sql.DB { return Open(t, "mysql", MySQLDSN) }

// Postgres opens the PostgreSQL test database.
func Postgres(t testing.TB) *sql.DB { return Open(t, "pgx", PostgresDSN) }

// Open opens and pings a database, closed when the test ends.
func Open(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	SkipShort(t, driver+" database")
	db, err := sql.Open(driver, dsn)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
	}
	if err != nil {
		unreachable(t, fmt.Sprintf("dbtest: %s at %s unreachable (start it with scripts/databases.sh): %v", driver, dsn, err))
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// SkipShort skips the test under go test -short, which runs only the
// tests that need no database, private server or subprocess; what names
// the component the test needs. It skips even when CI=true: -short asks
// for a subset, and CI runs the full suite without it.
func SkipShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("dbtest: -short: the test needs a %s", what)
	}
}

// unreachable fails the test when CI=true and skips it otherwise.
func unreachable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true)")
	}
	t.Skip(msg)
}

// Name returns a table name that no concurrent test uses.
func Name(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano()%1e9, rand.IntN(1e6))
}

// Table returns a fresh table name and drops that table when the test ends.
func Table(t testing.TB, db *sql.DB, prefix string) string {
	name := Name(prefix)
	t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS " + name) })
	return name
}
