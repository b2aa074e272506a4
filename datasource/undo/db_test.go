package undo

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
)

// The databases of this machine (see scripts/databases.sh).
const (
	mysqlDSN    = "root@tcp(127.0.0.1:3306)/test"
	postgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// openDB opens a real database; when it cannot be reached the test fails
// under CI=true and skips otherwise.
func openDB(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err == nil {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s at %s unreachable (CI=true): %v", driver, dsn, err)
		}
		t.Skipf("%s at %s unreachable (start it with scripts/databases.sh): %v", driver, dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// uniqueName returns a table name no concurrent test uses; the table is
// dropped at the end of the test.
func uniqueName(t *testing.T, db *sql.DB, prefix string) string {
	name := fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano()%1e9, rand.IntN(1e6))
	t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS " + name) })
	return name
}

// throughCodec sends one row image through an encoded, compressed and
// decoded undo log, as the proxy would between phase 1 and rollback.
func throughCodec(t *testing.T, r Row) Row {
	t.Helper()
	c := Codec{CompressAbove: 1}
	b, err := c.Encode(&Log{XID: "n:1", BranchID: 7, Records: []Record{{Table: "t", Kind: Delete, Before: []Row{r}, PK: []string{"id"}}}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return l.Records[0].Before[0]
}

// allBytes is every byte value, as hex.
func allBytes() string {
	var s string
	for i := range 256 {
		s += fmt.Sprintf("%02X", i)
	}
	return s
}
