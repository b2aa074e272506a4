package postgres

import (
	"database/sql"
	"fmt"
	"testing"

	"github.com/txcio/txc/internal/dbtest"
)

// TestDeparsedLiteralsReadAlike: every literal form a statement can hold
// reads, deparsed into the proxy's own SQL, as the same value of the same
// type as the user's text (checked by the server itself, under the
// session settings the proxy requires): standard strings with
// backslashes, escape strings and all their escapes, Unicode-escape
// strings with and without UESCAPE, dollar quotes, adjacent strings,
// bit and hexadecimal strings, bytea in both formats, national strings,
// numbers with trailing zeros and out of int8 range, and collations.
func TestDeparsedLiteralsReadAlike(t *testing.T) {
	db := dbtest.Postgres(t)
	for _, lit := range []string{
		`'s\'`, `'\\'`, `'a''b'`, `E'a\\b\'c\n\r\t\b\f\x41\101\u00e9\U0001F600'`, `e'\\x'`, `E'\''`, `U&'\0041\+01F600\\'`,
		`U&'!0041!!\' UESCAPE '!'`, `$$a'b\$$`, `$t$x$$y$t$`, "'a'\n'b'", `'\x00ff'::bytea`, `E'\\x00ff'::bytea`,
		`'\\000\\377a'::bytea`, `E'\\\\'::bytea`, `B'0101'`, `X'1F'`, `N'x\'`, `1.50`, `-0.0`, `1e3`, `.5`, `9223372036854775808`,
		`-9223372036854775808`, `'1.50'::numeric`, `'{"a\"b", "c,d"}'::text[]`, `'a' COLLATE "C"`, `'trailing  '::char(12)`,
		`'%_'`, `'é'`, `NULL`, `TRUE`, `''`,
	} {
		q := "SELECT pg_catalog.pg_typeof(" + lit + ")::text, (" + lit + ")::text"
		res, err := parse(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		deparsed, err := deparseChecked(res.Stmts[0].Stmt)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got, want := readPG(t, db, deparsed), readPG(t, db, q); got != want {
			t.Errorf("%s deparsed as %s reads %s, want %s", q, deparsed, got, want)
		}
	}
}

// readPG returns the type and text of the value q selects.
func readPG(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	var typ, text sql.NullString
	if err := db.QueryRow(q).Scan(&typ, &text); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return fmt.Sprintf("%v %q", typ, text.String)
}
