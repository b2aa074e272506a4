package mysql

import (
	"database/sql"
	"fmt"
	"testing"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/txcio/txc/internal/dbtest"
)

// TestRestoredLiteralsReadAlike: every literal form a statement can hold
// reads, restored into the proxy's own SQL, as the same value of the same
// character set and collation as the user's text (checked by the server
// itself): escapes, \% and \_, doubled and double quotes, adjacent
// strings, introducers, national strings, hexadecimal and bit literals,
// bytes that are not UTF-8, decimals with trailing zeros and numbers,
// and patterns (LIKE with and without ESCAPE, REGEXP).
func TestRestoredLiteralsReadAlike(t *testing.T) {
	// A collation other than utf8mb4's default: a literal without an
	// introducer takes the connection's, one with an introducer the
	// character set's default.
	db := dbtest.Open(t, "mysql", dbtest.MySQLDSN+"?collation=utf8mb4_unicode_ci")
	for _, lit := range []string{
		`'s\\'`, `'\\'`, `'a\'b'`, `'a''b'`, `"a\"b""c"`, `'\0\Z\n\r\t\b'`, `'\%\_'`, `'\\%\\_'`, `'%_'`, `'\x\y\\z'`,
		"'\x00\x1a\xff\x80\\\\'", `'a' 'b' "c"`, `N'é\\'`, `n'x'`, `_latin1'\xE9'`, "_latin1'\xe9\\\\'", `_binary'\0\\'`,
		"_binary'\xff\\''", `_utf8mb4'😀\\' COLLATE utf8mb4_bin`, `_latin1 X'E95C'`, `X'00FF5C27'`, `x''`, `0x415C`, `b'0101'`,
		`B''`, `0b1011100`, `1.50`, `-0.0`, `1e3`, `-1.5e-300`, `.5`, `18446744073709551615`, `18446744073709551616`,
		`-9223372036854775808`, `TRUE`, `NULL`, `'trailing  '`, `_binary ''`,
		// Expressions whose strings are patterns: LIKE and its ESCAPE,
		// REGEXP, each with backslashes.
		`'a%' LIKE 'a\%'`, `'a\\b' LIKE 'a\\\\b'`, `'a\\%' LIKE 'a\\\\\%'`, `'a|%' LIKE 'a||%' ESCAPE '|'`, `'a\\' LIKE 'a\\\\' ESCAPE '\\'`,
		`'a%' LIKE 'a!%' ESCAPE '!'`, `'a1' REGEXP '^a\\d$'`, `'a\\d' REGEXP 'a\\\\d'`, `REPLACE('a\\b', '\\', '\\\\')`,
	} {
		stmts, err := parse("SELECT " + lit)
		if err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		restored, err := restore(stmts[0].(*ast.SelectStmt).Fields.Fields[0].Expr)
		if err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		if got, want := readLiteral(t, db, restored), readLiteral(t, db, lit); got != want {
			t.Errorf("%s restored as %s reads %s, want %s", lit, restored, got, want)
		}
	}
}

// readLiteral returns how the server reads literal: its bytes (a number
// as its text), character set and collation.
func readLiteral(t *testing.T, db *sql.DB, literal string) string {
	t.Helper()
	var bytes, cs, coll sql.NullString
	err := db.QueryRow("SELECT HEX(CONCAT("+literal+")), CHARSET("+literal+"), COLLATION("+literal+")").Scan(&bytes, &cs, &coll)
	if err != nil {
		t.Fatalf("%s: %v", literal, err)
	}
	return fmt.Sprintf("%v %v %v", bytes, cs, coll)
}
