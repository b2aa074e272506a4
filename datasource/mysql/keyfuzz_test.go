package mysql_test

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/datasource"
	txcmysql "github.com/txcio/txc/datasource/mysql"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tc/server/servertest"
	"github.com/txcio/txc/tm"
)

// FuzzKeyRoundTrip: any key a statement writes, given as a literal in the
// text (escaped as a user would) or as an argument, is found, locked and
// restored by the proxy. For each input, on a table keyed by VARBINARY
// and one keyed by VARCHAR (utf8mb4_bin; valid UTF-8 inputs only), one
// global transaction inserts the key, updates it, upserts it with ON
// DUPLICATE KEY UPDATE, deletes it and moves another row onto it; each
// statement must affect the rows the server reports, the key's lock must
// be held by the transaction, and after the rollback the table must be
// exactly as before. A key whose lock key (txc.RowKey: bytes that are
// not UTF-8 take four) is longer than the coordinator takes
// (txc.MaxLockKeyLen) fails its first statement with
// txc.ErrInvalidArgument and changes nothing. The seeds run in go test;
// go test -fuzz=FuzzKeyRoundTrip explores further.
func FuzzKeyRoundTrip(f *testing.F) {
	for _, s := range keySeeds() {
		f.Add([]byte(s))
	}
	k := newKeyFuzz(f)
	f.Fuzz(func(t *testing.T, key []byte) {
		for _, tb := range k.tables {
			v, ok := tb.fit(key)
			if !ok {
				continue
			}
			k.reset(t, tb)
			before := k.dump(t, tb)
			for _, literal := range []bool{true, false} {
				steps := keySteps
				if len(txc.RowKey(v)) > txc.MaxLockKeyLen {
					steps = keySteps[:1]
				}
				k.roundTrip(t, tb, v, literal, steps)
				if got := k.dump(t, tb); got != before {
					t.Fatalf("%s key %s (literal %v): rolled back to\n%s\nwant\n%s", tb.name, datasource.Shorten(fmt.Sprintf("%q", v)), literal, got, before)
				}
			}
		}
	})
}

// keySeeds are the values that broke or could break quoting: backslashes
// (alone, doubled, at the end, before a quote, before % and _), quotes of
// every kind, the characters MySQL escapes (NUL, \n, \r, \t, \b, Ctrl-Z),
// LIKE wildcards, bytes that are not UTF-8, multi-byte characters whose
// bytes include 0x5c or 0x27 in other character sets, and very long keys.
func keySeeds() []string {
	return []string{
		"", "s", `s\`, `\`, `\\`, `\'`, `'`, `''`, `"`, "`", `\"`, `s\' OR 1=1 -- `, `\%`, `\_`, "%", "_", `a%b_c`,
		"\x00", "a\x00b", "\x1a", `\Z`, `\0`, "\n\r\t\b", `\n`, "\xff", "\x80\\", "\xbf\x27", "\xc3\x28", "\xe5\x5c", "\x81\x5c'",
		"é", "😀", "\u00a5\\", "_binary'x'", "x'41'", "N'a'", "?", "$1", "/*", "*/", "-- ", "#", ";",
		"trailing ", " leading", "base0\\", strings.Repeat(`\'`, 384), strings.Repeat("é\\", 256), strings.Repeat("\xff", 3072),
	}
}

// keyFuzz is the fixture FuzzKeyRoundTrip reuses for every input: a
// coordinator, the plain and the proxied database, and its two tables.
type keyFuzz struct {
	conn     *client.Conn
	tm       *tm.Manager
	plain    *sql.DB
	db       *sql.DB
	resource string
	tables   []keyTable
}

// keyTable is a table keyed by k, with an INT n.
type keyTable struct {
	name   string
	binary bool // k is VARBINARY(3072), else VARCHAR(768) utf8mb4_bin
}

// keyBase are the rows of each table before every transaction.
var keyBase = []string{"base0", "base1"}

func newKeyFuzz(f *testing.F) *keyFuzz {
	plain := dbtest.MySQL(f)
	conn := servertest.Start(f, "dsmyk")
	cfg, err := gomysql.ParseDSN(dbtest.MySQLDSN)
	if err != nil {
		f.Fatal(err)
	}
	db, err := txcmysql.OpenDB(cfg, datasource.WithManager(rm.New(conn)), datasource.WithCreateUndoTable())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	k := &keyFuzz{conn: conn, tm: tm.New(conn), plain: plain, db: db, resource: txcmysql.ResourceID(cfg)}
	for _, tb := range []keyTable{{binary: true}, {}} {
		col := "VARCHAR(768) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
		if tb.binary {
			col = "VARBINARY(3072)"
		}
		tb.name = dbtest.Table(f, plain, "at_keyfz")
		if _, err := plain.Exec("CREATE TABLE " + tb.name + " (k " + col + " NOT NULL PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB"); err != nil {
			f.Fatal(err)
		}
		k.tables = append(k.tables, tb)
	}
	return k
}

// fit returns key as the table's column can hold it: cut to its length,
// valid UTF-8 for VARCHAR. A key of the base rows is not used.
func (tb keyTable) fit(key []byte) (string, bool) {
	v := string(key)
	if tb.binary {
		v = v[:min(len(v), 3072)]
	} else {
		if !utf8.ValidString(v) {
			return "", false
		}
		if n := utf8.RuneCountInString(v); n > 768 {
			v = string([]rune(v)[:768])
		}
	}
	for _, b := range keyBase {
		if v == b {
			return "", false
		}
	}
	return v, true
}

// reset gives the table its base rows alone.
func (k *keyFuzz) reset(t *testing.T, tb keyTable) {
	t.Helper()
	if _, err := k.plain.Exec("DELETE FROM " + tb.name); err != nil {
		t.Fatal(err)
	}
	for i, b := range keyBase {
		if _, err := k.plain.Exec("INSERT INTO "+tb.name+" (k, n) VALUES (?, ?)", b, i+1); err != nil {
			t.Fatal(err)
		}
	}
}

// dump returns the table's rows, keys in hex.
func (k *keyFuzz) dump(t *testing.T, tb keyTable) string {
	t.Helper()
	rows, err := k.plain.Query("SELECT HEX(k), n FROM " + tb.name + " ORDER BY k")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var sb strings.Builder
	for rows.Next() {
		var key string
		var n int
		if err := rows.Scan(&key, &n); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "%s=%d\n", key, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

type keyStep struct {
	q    string
	rows int64
}

// keySteps are the statements of one round trip; {t} is the table, {k}
// the key (a literal or a placeholder), rows what the server must report.
var keySteps = []keyStep{
	{"INSERT INTO {t} (k, n) VALUES ({k}, 10)", 1},
	{"UPDATE {t} SET n = n + 1 WHERE k = {k}", 1},
	{"INSERT INTO {t} (k, n) VALUES ({k}, 20) ON DUPLICATE KEY UPDATE n = n + 100", 2},
	{"DELETE FROM {t} WHERE k = {k}", 1},
	{"UPDATE {t} SET k = {k} WHERE k = 'base0'", 1},
}

// roundTrip runs steps with key v in one global transaction, checks the
// lock of v is held by it, and rolls it back. A key too long for a lock
// must fail the first step with txc.ErrInvalidArgument.
func (k *keyFuzz) roundTrip(t *testing.T, tb keyTable, v string, literal bool, steps []keyStep) {
	t.Helper()
	var xid txc.XID
	tooLong := len(txc.RowKey(v)) > txc.MaxLockKeyLen
	err := k.tm.WithGlobalTx(context.Background(), tm.Config{Name: "keyfuzz", Timeout: 30 * time.Second}, func(ctx context.Context) error {
		xid, _ = tm.XIDFromContext(ctx)
		for i, s := range steps {
			q := strings.ReplaceAll(s.q, "{t}", tb.name)
			var args []any
			if literal {
				q = strings.ReplaceAll(q, "{k}", mysqlLiteral(v, i, tb.binary))
			} else {
				q = strings.ReplaceAll(q, "{k}", "?")
				args = append(args, keyArg(v, tb.binary))
			}
			res, err := k.db.ExecContext(ctx, q, args...)
			if tooLong && errors.Is(err, txc.ErrInvalidArgument) {
				return errRollback
			}
			if err != nil || tooLong {
				return fmt.Errorf("%s: %v (key too long for a lock: %v)", datasource.Shorten(q), err, tooLong)
			}
			if n, err := res.RowsAffected(); err != nil || n != s.rows {
				return fmt.Errorf("%s: %d rows affected (%v), want %d", datasource.Shorten(q), n, err, s.rows)
			}
		}
		key := txc.LockKey{Table: tb.name, Rows: []string{txc.RowKey(v)}}
		locked, holder, err := k.conn.LockQuery(ctx, "", k.resource, []txc.LockKey{key})
		if err != nil {
			return err
		}
		if !locked || holder != xid {
			return fmt.Errorf("lock %q: locked %v by %q, want held by %s", key.Rows[0], locked, holder, xid)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("%s key %s (literal %v): %v", tb.name, datasource.Shorten(fmt.Sprintf("%q", v)), literal, err)
	}
	waitRolledBack(t, k.conn, xid)
}

// keyArg is v as the argument a user would pass for the column.
func keyArg(v string, binary bool) any {
	if binary {
		return []byte(v)
	}
	return v
}

// waitRolledBack waits until xid is rolled back; any other end fails t.
func waitRolledBack(t *testing.T, conn *client.Conn, xid txc.XID) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := conn.Status(context.Background(), xid)
		if err == nil && st == txc.GlobalRollbacked {
			return
		}
		if err == nil && (st.IsFinal() || st.NeedsManualAction()) || time.Now().After(deadline) {
			t.Fatalf("transaction %s: status %v (err %v), want rolled back", xid, st, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mysqlLiteral writes v as a literal the way a user would, in one of
// several forms chosen by form: backslash escapes as the C API's
// mysql_real_escape_string writes them (and \t, \b, and \% \_ kept as
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
