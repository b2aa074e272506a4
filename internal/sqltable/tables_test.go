package sqltable_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/sqltable"
)

// TestTablesScript: the name in use replaces the default (empty means the
// default); a name that is not plain, or too long, is an invalid argument
// naming the package and what the name is.
func TestTablesScript(t *testing.T) {
	tb := sqltable.Tables{FS: fstest.MapFS{"schema/postgres.sql": {Data: []byte("CREATE TABLE txc_x_a (i INT);")}},
		Default: "txc_x", Max: 8, Pkg: "pkg", What: "table prefix", Names: "tables %s_*"}
	for name, want := range map[string]string{"": "CREATE TABLE txc_x_a (i INT);", "mine": "CREATE TABLE mine_a (i INT);"} {
		if got, err := tb.Script(sqltable.Postgres, name); err != nil || got != want {
			t.Errorf("Script(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, bad := range []string{"a-b", "123456789", "1a"} {
		_, err := tb.Script(sqltable.Postgres, bad)
		if !errors.Is(err, txc.ErrInvalidArgument) || !strings.Contains(err.Error(), `pkg: table prefix "`+bad+`" is not a plain identifier of at most 8 bytes`) {
			t.Errorf("Script(%q): %v", bad, err)
		}
	}
	if _, err := tb.Script(sqltable.MySQL, "mine"); err == nil || !strings.HasPrefix(err.Error(), "pkg: ") {
		t.Errorf("a missing script: %v", err)
	}
}

// TestTablesPrepare: an unknown driver needs an explicit dialect (the
// message names the setting), an unknown dialect is refused; on either
// database the dialect is detected, the default name used, and the
// script run (twice: idempotent).
func TestTablesPrepare(t *testing.T) {
	tb := sqltable.Tables{Default: "txc_x", Max: 40, Pkg: "pkg", What: "table name", Names: "table %s", DialectOption: "Options.Dialect"}
	other := sql.OpenDB(otherConnector{})
	defer other.Close()
	if _, _, err := tb.Prepare(t.Context(), other, 0, "", false); !errors.Is(err, txc.ErrInvalidArgument) || !strings.Contains(err.Error(), "set Options.Dialect") {
		t.Errorf("unknown driver: %v", err)
	}
	if _, _, err := tb.Prepare(t.Context(), other, 9, "", false); !errors.Is(err, txc.ErrInvalidArgument) || !strings.Contains(err.Error(), "pkg: unknown dialect") {
		t.Errorf("unknown dialect: %v", err)
	}
	forEachDB(t, func(t *testing.T, d testDB) {
		name := tableName(t, d, "sqltable_p")
		tb := tb // the subtests run in parallel
		tb.FS = fstest.MapFS{"schema/" + d.dialect.String() + ".sql": {Data: []byte("CREATE TABLE IF NOT EXISTS txc_x (id INT PRIMARY KEY)")}}
		for range 2 {
			got, gotName, err := tb.Prepare(t.Context(), d.db, 0, name, true)
			if err != nil || got != d.dialect || gotName != name {
				t.Fatalf("Prepare = %v, %q, %v", got, gotName, err)
			}
		}
		if _, err := d.db.Exec("INSERT INTO " + name + " (id) VALUES (1)"); err != nil {
			t.Fatalf("the table was not created: %v", err)
		}
		if got, gotName, err := tb.Prepare(t.Context(), d.db, d.dialect, "", false); err != nil || got != d.dialect || gotName != "txc_x" {
			t.Fatalf("Prepare with the default name = %v, %q, %v", got, gotName, err)
		}
	})
}
