package sqltable_test

import (
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
