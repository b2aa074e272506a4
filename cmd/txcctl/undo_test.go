package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"testing"

	"github.com/txcio/txc/datasource/undo"
	"github.com/txcio/txc/internal/dbtest"
)

// sampleLog is an undo log of two statements: an update of one account
// and an insert of a ledger row.
func sampleLog() *undo.Log {
	return &undo.Log{XID: "n1:4242", BranchID: 7, Records: []undo.Record{
		{Table: "accounts", Kind: undo.Update, PK: []string{"id"},
			Before: []undo.Row{{{Name: "id", Value: undo.Int(1)}, {Name: "balance", Value: undo.Decimal("100.00")}, {Name: "note", Value: undo.Null("")}}},
			After:  []undo.Row{{{Name: "id", Value: undo.Int(1)}, {Name: "balance", Value: undo.Decimal("90.00")}, {Name: "note", Value: undo.String("paid")}}}},
		{Table: "ledger", Kind: undo.Insert, PK: []string{"id"},
			After: []undo.Row{{{Name: "id", Value: undo.Int(55)}, {Name: "raw", Value: undo.Bytes([]byte{0xca, 0xfe})}}}},
	}}
}

// storeUndo creates a fresh undo-log table in db and inserts sampleLog.
func storeUndo(t *testing.T, db *sql.DB, d undo.Dialect) string {
	t.Helper()
	name := dbtest.Table(t, db, "txcctl_undo")
	tbl, err := undo.NewTable(d, name, undo.Codec{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := tbl.Create(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Insert(ctx, db, sampleLog()); err != nil {
		t.Fatal(err)
	}
	return name
}

func checkUndoShow(t *testing.T, dsnFlag, dsn, table, display string) {
	t.Helper()
	code, out, errOut := ctl(t, nil, "undo", "show", "n1:4242", "7", dsnFlag, dsn, "--undo-table", table)
	if code != 0 {
		t.Fatalf("undo show: exit %d: %s", code, errOut)
	}
	t.Log(out)
	for _, want := range []string{display, "record 1: Update on accounts (primary key id): rollback writes the before images back",
		`"100.00"`, `"90.00"`, "changed", "NULL", `"paid"`, "record 2: Insert on ledger", "0xcafe", "last first"} {
		if !strings.Contains(out, want) {
			t.Fatalf("undo show lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = ctl(t, nil, "undo", "show", "n1:4242", "7", dsnFlag, dsn, "--undo-table", table, "-o", "json")
	var got undoLogJSON
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || len(got.Records) != 2 ||
		got.Records[0].Before[0][1].Value != `"100.00"` || got.Records[0].After[0][1].Value != `"90.00"` || got.Records[0].Before[0][1].Kind != "Decimal" {
		t.Fatalf("undo show -o json: exit %d %v %s %s", code, err, out, errOut)
	}
	if code, _, errOut := ctl(t, nil, "undo", "show", "n1:4242", "8", dsnFlag, dsn, "--undo-table", table); code != 3 || !strings.Contains(errOut, "no undo-log row") {
		t.Fatalf("missing row: exit %d %s", code, errOut)
	}
	if code, _, _ := ctl(t, nil, "undo", "show", "n1:4242", "x", dsnFlag, dsn); code != 2 {
		t.Fatalf("bad branch: exit %d", code)
	}
}

func TestUndoShowMySQL(t *testing.T) {
	db := dbtest.MySQL(t)
	table := storeUndo(t, db, undo.MySQL)
	checkUndoShow(t, "--mysql-dsn", dbtest.MySQLDSN, table, "root@tcp(127.0.0.1:3306)/test")
	// A wrong password: refused by the server, and never printed.
	code, out, errOut := ctl(t, nil, "undo", "show", "n1:4242", "7", "--mysql-dsn", "root:Hunter2secret@tcp(127.0.0.1:3306)/test", "--undo-table", table)
	if code != 5 || strings.Contains(out+errOut, "Hunter2secret") {
		t.Fatalf("wrong password: exit %d, output %s %s", code, out, errOut)
	}
}

func TestUndoShowPostgres(t *testing.T) {
	db := dbtest.Postgres(t)
	table := storeUndo(t, db, undo.Postgres)
	// The test server trusts every password: it is accepted, and not printed.
	dsn := strings.Replace(dbtest.PostgresDSN, "postgres@", "postgres:Hunter2secret@", 1)
	checkUndoShow(t, "--postgres-dsn", dsn, table, "postgres://postgres@127.0.0.1:5432/test")
	code, out, errOut := ctl(t, nil, "undo", "show", "n1:4242", "7", "--postgres-dsn", dsn, "--undo-table", table)
	if code != 0 || strings.Contains(out+errOut, "Hunter2secret") {
		t.Fatalf("password printed or failure: exit %d %s %s", code, out, errOut)
	}
	if code, _, errOut := ctl(t, nil, "undo", "show", "n1:4242", "7"); code != 2 || !strings.Contains(errOut, "--mysql-dsn or --postgres-dsn") {
		t.Fatalf("no DSN: exit %d %s", code, errOut)
	}
}
