package sqltable_test

import (
	"slices"
	"testing"
	"testing/fstest"

	"github.com/txcio/txc/internal/sqltable"
)

func TestStatements(t *testing.T) {
	script := `-- a comment; with a semicolon
CREATE TABLE IF NOT EXISTS t (
  id INT -- not a comment line, kept
);

   -- an indented comment
CREATE INDEX i ON t (id);
;
`
	want := []string{"CREATE TABLE IF NOT EXISTS t (\n  id INT -- not a comment line, kept\n)", "CREATE INDEX i ON t (id)"}
	if got := sqltable.Statements(script); !slices.Equal(got, want) {
		t.Fatalf("Statements = %q, want %q", got, want)
	}
	if got := sqltable.Statements("-- only\n\n"); len(got) != 0 {
		t.Fatalf("Statements of comments = %q", got)
	}
}

func TestReadScript(t *testing.T) {
	fsys := fstest.MapFS{"schema/mysql.sql": {Data: []byte("CREATE TABLE txc_x (a INT);\nCREATE INDEX txc_x_a ON txc_x (a);")}}
	got, err := sqltable.ReadScript(fsys, "schema/mysql.sql", "txc_x", "mine")
	if err != nil || got != "CREATE TABLE mine (a INT);\nCREATE INDEX mine_a ON mine (a);" {
		t.Fatalf("ReadScript = %q, %v", got, err)
	}
	if _, err := sqltable.ReadScript(fsys, "schema/postgres.sql", "txc_x", "mine"); err == nil {
		t.Fatal("a missing script was read")
	}
}

// TestApply runs a schema script twice (idempotent), then one whose second
// statement fails: Apply stops there and returns the database's error.
func TestApply(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		ctx := t.Context()
		name := tableName(t, d, "sqltable_a")
		script := "-- the table\nCREATE TABLE IF NOT EXISTS " + name + " (id INT PRIMARY KEY, v INT);\n" +
			"CREATE INDEX IF NOT EXISTS " + name + "_v ON " + name + " (v);\n"
		if d.dialect == sqltable.MySQL {
			script = "CREATE TABLE IF NOT EXISTS " + name + " (id INT PRIMARY KEY, v INT, KEY (v));"
		}
		for range 2 {
			if err := sqltable.Apply(ctx, d.db, script); err != nil {
				t.Fatal(err)
			}
		}
		err := sqltable.Apply(ctx, d.db, "INSERT INTO "+name+" (id, v) VALUES (1, 1);\nINSERT INTO "+name+" (id, v) VALUES (1, 2);\nINSERT INTO "+name+" (id, v) VALUES (3, 3)")
		if !sqltable.IsDuplicateKey(err) {
			t.Fatalf("Apply with a failing statement: %v, want the duplicate key", err)
		}
		var n int
		if err := d.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+name).Scan(&n); err != nil || n != 1 {
			t.Fatalf("rows after the failed script: %d, %v; want 1 (the statements after the failure did not run)", n, err)
		}
	})
}
