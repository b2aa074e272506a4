package sqltable_test

import (
	"strings"
	"testing"

	"github.com/txcio/txc/internal/sqltable"
)

func TestPlain(t *testing.T) {
	for _, c := range []struct {
		s    string
		max  int
		want bool
	}{
		{"txc_undo_log", 48, true},
		{"_x9", 3, true},
		{"Abc", 3, true},
		{strings.Repeat("a", 48), 48, true},
		{strings.Repeat("a", 49), 48, false},
		{"", 48, false},
		{"9a", 48, false},
		{"a-b", 48, false},
		{"a b", 48, false},
		{"a.b", 48, false},
		{"a`b", 48, false},
		{`a"b`, 48, false},
		{"a;b", 48, false},
		{"é", 48, false},
	} {
		if got := sqltable.Plain(c.s, c.max); got != c.want {
			t.Errorf("Plain(%q, %d) = %v, want %v", c.s, c.max, got, c.want)
		}
	}
}

func TestDialectString(t *testing.T) {
	for d, want := range map[sqltable.Dialect]string{sqltable.MySQL: "mysql", sqltable.Postgres: "postgres", 0: "Dialect(0)", 9: "Dialect(9)"} {
		if got := d.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", uint8(d), got, want)
		}
	}
}

// TestQualify creates a table through its qualified, quoted name in the
// database's current schema, and reads it back through the plain name.
func TestQualify(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		ctx := t.Context()
		var schema string
		q := "SELECT DATABASE()"
		if d.dialect == sqltable.Postgres {
			q = "SELECT current_schema()"
		}
		if err := d.db.QueryRowContext(ctx, q).Scan(&schema); err != nil {
			t.Fatal(err)
		}
		if got := d.dialect.Qualify("", "t1"); got != "t1" {
			t.Fatalf("Qualify without schema = %q", got)
		}
		name := tableName(t, d, "sqltable_q")
		ref := d.dialect.Qualify(schema, name)
		if _, err := d.db.ExecContext(ctx, "CREATE TABLE "+ref+" (id INT PRIMARY KEY)"); err != nil {
			t.Fatalf("create %s: %v", ref, err)
		}
		if _, err := d.db.ExecContext(ctx, "INSERT INTO "+ref+" (id) VALUES (7)"); err != nil {
			t.Fatal(err)
		}
		var id int
		if err := d.db.QueryRowContext(ctx, "SELECT id FROM "+name).Scan(&id); err != nil || id != 7 {
			t.Fatalf("read back through %s: %d, %v", name, id, err)
		}
	})
}
