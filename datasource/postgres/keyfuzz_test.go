package postgres_test

import (
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/txcio/txc/datasource"
	txcpg "github.com/txcio/txc/datasource/postgres"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/internal/dbtest/keyfuzz"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tc/server/servertest"
	"github.com/txcio/txc/tm"
)

// FuzzKeyRoundTrip: any key a statement writes, given as a literal in the
// text (written as a user would: a standard string, an escape string
// E'…', a dollar-quoted string, a Unicode-escape string U&'…'; bytea in
// hex and escape formats) or as an argument (sent apart, or written into
// the text by pgx's simple protocol), is found, locked and restored by
// the proxy (see keyfuzz), on a bytea key and on a text key, through
// INSERT, UPDATE, INSERT … ON CONFLICT DO UPDATE, DELETE, an UPDATE of
// the key and SELECT … FOR UPDATE. The seeds run in go test; go test
// -fuzz=FuzzKeyRoundTrip explores further.
func FuzzKeyRoundTrip(f *testing.F) { keyfuzz.Fuzz(f, newKeyFixture) }

func newKeyFixture(f *testing.F) *keyfuzz.Fixture {
	plain := dbtest.Postgres(f)
	conn := servertest.Start(f, "dspgk")
	manager := rm.New(conn)
	open := func(dsn string) (*sql.DB, *pgx.ConnConfig) {
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			f.Fatal(err)
		}
		db, err := txcpg.OpenDB(cfg, datasource.WithManager(manager), datasource.WithCreateUndoTable())
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { db.Close() })
		return db, cfg
	}
	db, cfg := open(dbtest.PostgresDSN)
	// pgx writing arguments into the text itself.
	simple, _ := open(dbtest.PostgresDSN + "&default_query_exec_mode=simple_protocol")
	fx := &keyfuzz.Fixture{Conn: conn, TM: tm.New(conn), Plain: plain, DB: db, ArgDBs: []*sql.DB{simple}, Resource: txcpg.ResourceID(cfg),
		Insert: "INSERT INTO {t} (k, n) VALUES ($1, $2)", Placeholder: "$1", Literal: pgLiteral,
		Steps: []keyfuzz.Step{
			{Q: "INSERT INTO {t} (k, n) VALUES ({k}, 10)", Rows: 1},
			{Q: "UPDATE {t} SET n = n + 1 WHERE k = {k}", Rows: 1},
			{Q: "INSERT INTO {t} AS x (k, n) VALUES ({k}, 20) ON CONFLICT (k) DO UPDATE SET n = x.n + 100", Rows: 1},
			{Q: "DELETE FROM {t} WHERE k = {k}", Rows: 1},
			{Q: "UPDATE {t} SET k = {k} WHERE k = 'base0'", Rows: 1},
			{Q: "SELECT n FROM {t} WHERE k = {k} FOR UPDATE", Rows: 1},
		}}
	// A B-tree entry holds at most about 2700 bytes.
	for _, tb := range []keyfuzz.Table{{Binary: true, MaxLen: 2600, Hex: "encode(k, 'hex')"}, {MaxLen: 600, Hex: "encode(convert_to(k, 'UTF8'), 'hex')",
		Holds: func(v string) bool { return !strings.Contains(v, "\x00") }}} {
		col := "text"
		if tb.Binary {
			col = "bytea"
		}
		tb.Name = dbtest.Table(f, plain, "at_keyfz")
		tb.LockTable = "public." + tb.Name
		if _, err := plain.Exec("CREATE TABLE " + tb.Name + " (k " + col + " NOT NULL PRIMARY KEY, n int NOT NULL)"); err != nil {
			f.Fatal(err)
		}
		fx.Tables = append(fx.Tables, tb)
	}
	return fx
}

// pgLiteral writes v as a literal the way a user would, in one of four
// forms chosen by form. Text: a standard string (” for a quote), an
// escape string E'…', a dollar-quoted string, a Unicode-escape string.
// Bytes: bytea hex format in a standard string, in an escape string, the
// same cast to bytea, and bytea escape format (octal).
func pgLiteral(v string, form int, binary bool) string {
	if binary {
		switch form % 4 {
		case 0:
			return `'\x` + hex.EncodeToString([]byte(v)) + `'`
		case 1:
			return `E'\\x` + hex.EncodeToString([]byte(v)) + `'`
		case 2:
			return `'\x` + hex.EncodeToString([]byte(v)) + `'::bytea`
		}
		return "'" + byteaEscape(v) + "'"
	}
	switch form % 4 {
	case 0:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case 1:
		return "E'" + pgEscape(v) + "'"
	case 2:
		tag := "$q$"
		// The string ends at the first tag: none may start in v.
		for i := 0; strings.Index(v+tag, tag) != len(v); i++ {
			tag = fmt.Sprintf("$q%d$", i)
		}
		return tag + v + tag
	}
	return "U&'" + unicodeEscape(v) + "'"
}

// pgEscape writes v for an escape string E'…'.
func pgEscape(v string) string {
	var sb strings.Builder
	for _, r := range v {
		switch r {
		case '\\':
			sb.WriteString(`\\`)
		case '\'':
			sb.WriteString(`\'`)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		case '\b':
			sb.WriteString(`\b`)
		case '\f':
			sb.WriteString(`\f`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&sb, `\x%02x`, r)
			} else {
				sb.WriteRune(r)
			}
		}
	}
	return sb.String()
}

// unicodeEscape writes v for a Unicode-escape string U&'…': every
// character outside printable ASCII as \+XXXXXX.
func unicodeEscape(v string) string {
	var sb strings.Builder
	for _, r := range v {
		switch {
		case r == '\\':
			sb.WriteString(`\\`)
		case r == '\'':
			sb.WriteString(`''`)
		case r < 0x20 || r >= 0x7f:
			fmt.Fprintf(&sb, `\+%06X`, r)
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// byteaEscape writes v in bytea escape format for a standard string:
// printable ASCII as itself (a quote doubled, a backslash as \\), other
// bytes as \ooo.
func byteaEscape(v string) string {
	var sb strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\':
			sb.WriteString(`\\`)
		case c == '\'':
			sb.WriteString(`''`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&sb, `\%03o`, c)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}
