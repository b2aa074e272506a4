package tcc_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/txcio/txc/rm/tcc"
)

// The databases of this machine (see scripts/databases.sh).
const (
	mysqlDSN    = "root@tcp(127.0.0.1:3306)/test"
	postgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

type testDB struct {
	name    string
	dialect tcc.Dialect
	db      *sql.DB
}

// databases opens both real databases; when one cannot be reached the test
// fails under CI=true and skips otherwise.
func databases(t *testing.T) []testDB {
	t.Helper()
	var out []testDB
	for _, c := range []struct {
		name, driver, dsn string
		d                 tcc.Dialect
	}{{"mysql", "mysql", mysqlDSN, tcc.MySQL}, {"postgres", "pgx", postgresDSN, tcc.Postgres}} {
		db, err := sql.Open(c.driver, c.dsn)
		if err == nil {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			err = db.PingContext(ctx)
			cancel()
		}
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s at %s unreachable (CI=true): %v", c.name, c.dsn, err)
			}
			t.Skipf("%s at %s unreachable (start it with scripts/databases.sh): %v", c.name, c.dsn, err)
		}
		t.Cleanup(func() { db.Close() })
		out = append(out, testDB{c.name, c.d, db})
	}
	return out
}

// uniqueName returns a table name no concurrent test uses; the table is
// dropped at the end of the test.
func uniqueName(t *testing.T, db *sql.DB, prefix string) string {
	name := fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano()%1e9, rand.IntN(1e6))
	t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS " + name) })
	return name
}

// bizTable makes a business table in which tests record every business
// call: (xid, branch_id, phase). A call that ran twice leaves two rows.
func bizTable(t *testing.T, d testDB) string {
	t.Helper()
	name := uniqueName(t, d.db, "tcc_biz")
	if _, err := d.db.Exec("CREATE TABLE " + name + " (xid VARCHAR(128) NOT NULL, branch_id BIGINT NOT NULL, phase VARCHAR(16) NOT NULL, amount BIGINT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return name
}

func record(ctx context.Context, d tcc.Dialect, tx *sql.Tx, table string, b tcc.Branch, phase string, amount int64) error {
	q := "INSERT INTO " + table + " (xid, branch_id, phase, amount) VALUES (?, ?, ?, ?)"
	if d == tcc.Postgres {
		q = "INSERT INTO " + table + " (xid, branch_id, phase, amount) VALUES ($1, $2, $3, $4)"
	}
	_, err := tx.ExecContext(ctx, q, string(b.XID), int64(b.ID), phase, amount)
	return err
}

// calls counts the recorded business calls of one branch and phase.
func calls(t *testing.T, d testDB, table string, b tcc.Branch, phase string) int {
	t.Helper()
	q := "SELECT COUNT(*) FROM " + table + " WHERE xid = ? AND branch_id = ? AND phase = ?"
	if d.dialect == tcc.Postgres {
		q = "SELECT COUNT(*) FROM " + table + " WHERE xid = $1 AND branch_id = $2 AND phase = $3"
	}
	var n int
	if err := d.db.QueryRow(q, string(b.XID), int64(b.ID), phase).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
