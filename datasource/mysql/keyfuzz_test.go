package mysql_test

import (
	"database/sql"
	"encoding/hex"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc/datasource"
	txcmysql "github.com/txcio/txc/datasource/mysql"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/internal/dbtest/keyfuzz"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tc/server/servertest"
	"github.com/txcio/txc/tm"
)

// FuzzKeyRoundTrip: any key a statement writes, given as a literal in the
// text (escaped as a user would: backslash escapes, doubled quotes, a
// charset introducer, hexadecimal) or as an argument (server-prepared, or
// interpolated by the driver under interpolateParams), is found, locked
// and restored by the proxy (see keyfuzz), on a VARBINARY key and on a
// VARCHAR utf8mb4_bin key, through INSERT, UPDATE, INSERT … ON DUPLICATE
// KEY UPDATE, DELETE, an UPDATE of the key and SELECT … FOR UPDATE. The
// seeds run in go test; go test -fuzz=FuzzKeyRoundTrip explores further.
func FuzzKeyRoundTrip(f *testing.F) { keyfuzz.Fuzz(f, newKeyFixture) }

func newKeyFixture(f *testing.F) *keyfuzz.Fixture {
	plain := dbtest.MySQL(f)
	conn := servertest.Start(f, "dsmyk")
	cfg, err := gomysql.ParseDSN(dbtest.MySQLDSN)
	if err != nil {
		f.Fatal(err)
	}
	manager := rm.New(conn)
	open := func(cfg *gomysql.Config) *sql.DB {
		db, err := txcmysql.OpenDB(cfg, datasource.WithManager(manager), datasource.WithCreateUndoTable())
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { db.Close() })
		return db
	}
	// The driver writing arguments into the text itself.
	interpolating := cfg.Clone()
	interpolating.InterpolateParams = true
	fx := &keyfuzz.Fixture{Conn: conn, TM: tm.New(conn), Plain: plain, DB: open(cfg), ArgDBs: []*sql.DB{open(interpolating)}, Resource: txcmysql.ResourceID(cfg),
		Insert: "INSERT INTO {t} (k, n) VALUES (?, ?)", Placeholder: "?", Literal: mysqlLiteral,
		Steps: []keyfuzz.Step{
			{Q: "INSERT INTO {t} (k, n) VALUES ({k}, 10)", Rows: 1},
			{Q: "UPDATE {t} SET n = n + 1 WHERE k = {k}", Rows: 1},
			{Q: "INSERT INTO {t} (k, n) VALUES ({k}, 20) ON DUPLICATE KEY UPDATE n = n + 100", Rows: 2},
			{Q: "DELETE FROM {t} WHERE k = {k}", Rows: 1},
			{Q: "UPDATE {t} SET k = {k} WHERE k = 'base0'", Rows: 1},
			{Q: "SELECT n FROM {t} WHERE k = {k} FOR UPDATE", Rows: 0},
		}}
	for _, tb := range []keyfuzz.Table{{Binary: true, MaxLen: 3072}, {MaxLen: 768}} {
		col := "VARCHAR(768) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
		if tb.Binary {
			col = "VARBINARY(3072)"
		}
		tb.Name = dbtest.Table(f, plain, "at_keyfz")
		tb.LockTable, tb.Hex = tb.Name, "HEX(k)"
		if _, err := plain.Exec("CREATE TABLE " + tb.Name + " (k " + col + " NOT NULL PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB"); err != nil {
			f.Fatal(err)
		}
		fx.Tables = append(fx.Tables, tb)
	}
	return fx
}

// mysqlLiteral writes v as a literal the way a user would, in one of
// four forms chosen by form: backslash escapes as the C API's
// mysql_real_escape_string writes them (and \t, \b, and \% \_ left as
// the two characters the server reads them as), quotes doubled, a
// charset introducer, or hexadecimal.
func mysqlLiteral(v string, form int, binary bool) string {
	introducer := "_utf8mb4"
	if binary {
		introducer = "_binary"
	}
	switch form % 4 {
	case 0:
		return "'" + mysqlEscape(v) + "'"
	case 1:
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(v) + "'"
	case 2:
		return introducer + "'" + mysqlEscape(v) + "'"
	}
	return "X'" + hex.EncodeToString([]byte(v)) + "'"
}

// mysqlEscape backslash-escapes v for a '…' literal.
func mysqlEscape(v string) string {
	var sb strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case 0:
			sb.WriteString(`\0`)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		case '\b':
			sb.WriteString(`\b`)
		case 0x1a:
			sb.WriteString(`\Z`)
		case '\'', '"':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case '\\':
			// \% and \_ are read as both characters: a user may write
			// a backslash before them undoubled.
			if i+1 < len(v) && (v[i+1] == '%' || v[i+1] == '_') {
				sb.WriteByte('\\')
			} else {
				sb.WriteString(`\\`)
			}
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}
