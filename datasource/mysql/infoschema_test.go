package mysql_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	txcmysql "github.com/txcio/txc/datasource/mysql"
	"github.com/txcio/txc/datasource/undo"
	"github.com/txcio/txc/internal/dbtest"
)

// fkPair creates a parent table and a child referencing it on db and
// returns their names.
func fkPair(t *testing.T, db *sql.DB) (parent, child string) {
	t.Helper()
	parent, child = dbtest.Table(t, db, "at_isp"), dbtest.Table(t, db, "at_isc")
	for _, q := range []string{
		"CREATE TABLE " + parent + " (id INT PRIMARY KEY, code VARCHAR(10) UNIQUE) ENGINE=InnoDB",
		"CREATE TABLE " + child + " (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES " + parent + "(id)) ENGINE=InnoDB",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return parent, child
}

// diskTmpTables is the session's count of on-disk (Aria) temporary tables
// so far.
func diskTmpTables(t *testing.T, tx *sql.Tx) int {
	t.Helper()
	var name string
	var n int
	if err := tx.QueryRow("SHOW SESSION STATUS LIKE 'Created_tmp_disk_tables'").Scan(&name, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// txQuerier runs LoadTable's metadata queries in a transaction.
type txQuerier struct{ tx *sql.Tx }

func (q txQuerier) Query(ctx context.Context, query string, args ...any) ([]undo.Row, error) {
	rows, err := q.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	var out []undo.Row
	for rows.Next() {
		r, err := txcmysql.Dialect{}.ScanRow(rows, cols)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// The foreign-key lookups (the rollback's References, LoadTable's
// cascading references) scan every database but information_schema, so
// that MariaDB does not copy each information_schema table into a
// temporary table, 13 of them Aria files in its tmpdir (see
// notInfoSchema): References makes no on-disk temporary table at all, and
// LoadTable only the one each of its COLUMNS and TRIGGERS queries needs
// (their text columns put them in Aria).
func TestForeignKeyLookupsMakeNoTmpFiles(t *testing.T) {
	db := dbtest.MySQL(t)
	parent, child := fkPair(t, db)
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	before := diskTmpTables(t, tx)
	refs, err := txcmysql.Dialect{}.References(ctx, tx, parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0].Table != child || strings.Join(refs[0].Columns, ",") != "pid" || strings.Join(refs[0].RefColumns, ",") != "id" {
		t.Fatalf("references of %s: %+v, want %s(pid) -> (id)", parent, refs, child)
	}
	if n := diskTmpTables(t, tx) - before; n != 0 {
		t.Errorf("References made %d on-disk temporary tables, want 0", n)
	}

	before = diskTmpTables(t, tx)
	if _, err := (txcmysql.Dialect{}).LoadTable(ctx, txQuerier{tx}, "", parent); err != nil {
		t.Fatal(err)
	}
	if n := diskTmpTables(t, tx) - before; n > 2 {
		t.Errorf("LoadTable made %d on-disk temporary tables, want at most 2 (COLUMNS and TRIGGERS)", n)
	}
}

// TestReferencesSurviveTmpdirSweep: a MariaDB server that starts deletes
// every #sql* file in its tmpdir, also the live temporary tables of
// another server sharing it. The rollback's foreign-key lookup survives
// such deletions going on all the time (here in a private server's
// tmpdir): before it skipped information_schema, the server crashed
// (signal 11) within a few lookups.
func TestReferencesSurviveTmpdirSweep(t *testing.T) {
	db := dbtest.Open(t, "mysql", dbtest.PrivateMariaDB(t))
	parent, _ := fkPair(t, db)
	var tmpdir string
	if err := db.QueryRow("SELECT @@tmpdir").Scan(&tmpdir); err != nil {
		t.Fatal(err)
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // what a starting server does to its tmpdir, over and over
		defer wg.Done()
		for !stop.Load() {
			files, _ := filepath.Glob(filepath.Join(tmpdir, "#sql*"))
			for _, f := range files {
				os.Remove(f)
			}
		}
	}()
	defer func() { stop.Store(true); wg.Wait() }()

	ctx := context.Background()
	for i := 0; i < 200; i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatalf("lookup %d: %v", i, err)
		}
		refs, err := txcmysql.Dialect{}.References(ctx, tx, parent)
		tx.Rollback()
		if err != nil {
			t.Fatalf("lookup %d: %v (the server crashed?)", i, err)
		}
		if len(refs) != 1 {
			t.Fatalf("lookup %d: %+v, want one reference", i, refs)
		}
	}
}
