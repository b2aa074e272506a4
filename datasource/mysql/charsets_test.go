package mysql_test

import (
	"fmt"
	"testing"

	txcmysql "github.com/txcio/txc/datasource/mysql"
	"github.com/txcio/txc/internal/dbtest"
)

// Item: images read text through a utf8mb4 connection and a rollback
// writes it back through one. A cp932 column holding 0x8790 (≒, a code
// cp932 has twice) came back as 0x81E0 after the rollback of an UPDATE
// of another column of its row, and an ascii column's 0xFF as ?; the
// rollback reported success (its check reads through utf8mb4 too). A
// write to a table with a column in such a character set is now refused.
func TestLossyColumnCharsetRefused(t *testing.T) {
	e := newEnv(t, "")
	for _, c := range []struct{ cs, bytes string }{{"cp932", "8790"}, {"ascii", "FF"}, {"gbk", "A2A0"}} {
		tb := e.table("at_lcs", "CREATE TABLE {t} (id INT PRIMARY KEY, c VARCHAR(4) CHARACTER SET "+c.cs+", n INT)", "INSERT INTO {t} VALUES (1, X'"+c.bytes+"', 1)")
		hex := func() string {
			var h string
			if err := e.plain.QueryRow("SELECT HEX(c) FROM " + tb + " WHERE id = 1").Scan(&h); err != nil {
				t.Fatal(err)
			}
			return h
		}
		e.expect(t, refused, "character set "+c.cs, []string{tb}, "UPDATE "+tb+" SET n = n + 1 WHERE id = 1")
		if got := hex(); got != c.bytes {
			t.Errorf("%s: column c holds %s after the rollback, was %s", c.cs, got, c.bytes)
		}
	}
}

// TestCharsetsRoundTrip: every value of up to two bytes (four for utf32)
// that a column in one of the character sets AT mode writes stores comes
// back as the same bytes through utf8mb4; cp932 shows the check finds
// the ones that do not.
func TestCharsetsRoundTrip(t *testing.T) {
	db := dbtest.MySQL(t)
	lossy := func(cs string) int {
		tb := dbtest.Table(t, db, "at_csrt")
		width := 4
		if cs == "utf32" {
			width = 8
		}
		for _, q := range []string{
			"CREATE TABLE " + tb + " (b VARBINARY(4), c VARCHAR(2) CHARACTER SET " + cs + ")",
			fmt.Sprintf("INSERT IGNORE INTO %s SELECT UNHEX(LPAD(HEX(seq), %d, '0')), UNHEX(LPAD(HEX(seq), %d, '0')) FROM seq_0_to_65535", tb, width, width),
			fmt.Sprintf("INSERT IGNORE INTO %s SELECT UNHEX(LPAD(HEX(seq), 2, '0')), UNHEX(LPAD(HEX(seq), 2, '0')) FROM seq_0_to_255", tb),
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		var n int
		q := "SELECT COUNT(*) FROM " + tb + " WHERE BINARY c = b AND BINARY CONVERT(CONVERT(c USING utf8mb4) USING " + cs + ") <> b"
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := lossy("cp932"); n == 0 {
		t.Fatal("cp932: no value found that does not come back")
	}
	for cs := range txcmysql.RoundTrips {
		if cs == "utf8" {
			continue // utf8mb3's old name
		}
		if n := lossy(cs); n != 0 {
			t.Errorf("%s: %d values do not come back through utf8mb4", cs, n)
		}
	}
}
