package undo

import (
	"database/sql"
	"fmt"
	"testing"

	"github.com/txcio/txc/internal/dbtest"
)

// The databases of this machine (see internal/dbtest).
const (
	mysqlDSN    = dbtest.MySQLDSN
	postgresDSN = dbtest.PostgresDSN
)

// openDB opens a real database (see internal/dbtest).
func openDB(t *testing.T, driver, dsn string) *sql.DB { return dbtest.Open(t, driver, dsn) }

// uniqueName returns a table name no concurrent test uses; the table is
// dropped at the end of the test.
func uniqueName(t *testing.T, db *sql.DB, prefix string) string { return dbtest.Table(t, db, prefix) }

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
