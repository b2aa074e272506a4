// Package keyfuzz is the property both proxy dialects are fuzzed against
// (FuzzKeyRoundTrip in datasource/mysql and datasource/postgres): any
// string or bytes key a statement writes, given as a literal in the text
// (escaped as a user would) or as an argument, is found, locked and
// restored exactly by the proxy.
//
// A Fixture is built once per fuzz run (a coordinator, the plain and the
// proxied database, a table keyed by bytes and one keyed by text) and
// Check runs one input: on each table whose column can hold the key, one
// global transaction runs the dialect's Steps with the key as literals
// (a form per step, each step a local transaction of its own), one with
// the key as an argument (all steps in one local transaction), and one
// per further database with the key as an argument; every step must
// affect the rows it names, the key's row lock must be held by the
// transaction before it rolls back, and after the rollback the table must
// equal its state before, byte for byte.
package keyfuzz

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/tm"
)

// Base are the keys of the rows each table holds before every
// transaction (with n = 1, 2); inputs equal to one are not used.
var Base = []string{"base0", "base1"}

// Step is one statement of a round trip: {t} is the table, {k} the key
// (a literal or the placeholder); Rows is what the server must report.
type Step struct {
	Q    string
	Rows int64
}

// Table is a table with a key column k and an integer column n.
type Table struct {
	Name      string // as statements name it
	LockTable string // as the proxy names it in lock keys
	Binary    bool   // k holds bytes; else text
	// MaxLen is the longest key k holds: bytes when Binary, else
	// characters.
	MaxLen int
	// Hex is an SQL expression giving k as hexadecimal text.
	Hex string
	// Holds reports whether a text k can hold v at all (it is valid
	// UTF-8 already); nil: any.
	Holds func(v string) bool
}

// Fixture is what Check needs of a dialect.
type Fixture struct {
	Conn  *client.Conn
	TM    *tm.Manager
	Plain *sql.DB // no proxy
	DB    *sql.DB // through the proxy
	// ArgDBs are further proxied databases (other driver settings, such
	// as client-side interpolation) the argument runs also use.
	ArgDBs   []*sql.DB
	Resource string // the proxy's resource ID
	Tables   []Table
	Steps    []Step
	// Insert inserts a row with arguments k, n (a base row).
	Insert string
	// Placeholder stands for the key in a step run with an argument.
	Placeholder string
	// Literal writes v as a user would for a key column of the table
	// (binary: bytes); form varies the way (the step's index).
	Literal func(v string, form int, binary bool) string
}

// Seeds are the inputs that broke or could break quoting in either
// dialect: backslashes (alone, doubled, last, before quotes, before %
// and _), quotes of every kind, the control characters the dialects
// escape, LIKE wildcards, bytes that are not UTF-8, characters whose
// bytes in other character sets include 0x5c or 0x27, comment and
// placeholder syntax, dollar quotes, and keys long enough to need more
// than the coordinator takes for a lock key.
func Seeds() []string {
	return []string{
		"", "s", `s\`, `\`, `\\`, `\'`, `'`, `''`, `"`, "`", `\"`, `s\' OR 1=1 -- `, `\%`, `\_`, "%", "_", `a%b_c`,
		"\x00", "a\x00b", "\x1a", `\Z`, `\0`, "\n\r\t\b\f\v", `\n`, `\x41`, `\101`, `\u0041`, "\xff", "\x80\\", "\xbf\x27", "\xc3\x28",
		"\xe5\x5c", "\x81\x5c'", "é", "😀", "\u00a5\\", "\u2028", "_binary'x'", "x'41'", "N'a'", "E'a'", "U&'\\0041'", "?", "$1",
		"$$", "$a$", "$a$'$$", "/*", "*/", "-- ", "#", ";", "trailing ", " leading", "base0\\",
		strings.Repeat(`\'`, 384), strings.Repeat("é\\", 256), strings.Repeat("\xff", 3072),
	}
}

// Fuzz adds the Seeds to f and checks each input, and each one go test
// -fuzz explores, on the fixture newFixture makes (once, for all inputs).
func Fuzz(f *testing.F, newFixture func(f *testing.F) *Fixture) {
	for _, s := range Seeds() {
		f.Add([]byte(s))
	}
	fx := newFixture(f)
	f.Fuzz(fx.Check)
}

var errRollback = errors.New("keyfuzz: roll back")

// Check runs the property for one input (see the package doc).
func (f *Fixture) Check(t *testing.T, key []byte) {
	for _, tb := range f.Tables {
		v, ok := tb.fit(key)
		if !ok {
			continue
		}
		f.reset(t, tb)
		before := f.dump(t, tb)
		runs := []run{{db: f.DB, literal: true}, {db: f.DB, tx: true, name: "argument, one local transaction"}}
		for i, db := range f.ArgDBs {
			runs = append(runs, run{db: db, name: fmt.Sprintf("argument, database %d", i+1)})
		}
		for _, r := range runs {
			f.roundTrip(t, tb, v, r)
			if got := f.dump(t, tb); got != before {
				t.Fatalf("%s key %s (%s): rolled back to\n%s\nwant\n%s", tb.Name, quoted(v), r, got, before)
			}
		}
	}
}

// run is one transaction of Check: the database, how the key is given,
// and whether the steps share one local transaction.
type run struct {
	db      *sql.DB
	literal bool
	tx      bool
	name    string
}

func (r run) String() string {
	if r.literal {
		return "literal"
	}
	return r.name
}

// fit returns key as the table's column holds it (cut to its length),
// or false if it cannot, or it is a base key.
func (tb Table) fit(key []byte) (string, bool) {
	v := string(key)
	if tb.Binary {
		v = v[:min(len(v), tb.MaxLen)]
	} else {
		if !utf8.ValidString(v) || tb.Holds != nil && !tb.Holds(v) {
			return "", false
		}
		if utf8.RuneCountInString(v) > tb.MaxLen {
			v = string([]rune(v)[:tb.MaxLen])
		}
	}
	for _, b := range Base {
		if v == b {
			return "", false
		}
	}
	return v, true
}

// reset gives the table its base rows alone.
func (f *Fixture) reset(t *testing.T, tb Table) {
	t.Helper()
	if _, err := f.Plain.Exec("DELETE FROM " + tb.Name); err != nil {
		t.Fatal(err)
	}
	for i, b := range Base {
		if _, err := f.Plain.Exec(strings.ReplaceAll(f.Insert, "{t}", tb.Name), keyArg(b, tb.Binary), i+1); err != nil {
			t.Fatal(err)
		}
	}
}

// dump returns the table's rows, keys in hexadecimal.
func (f *Fixture) dump(t *testing.T, tb Table) string {
	t.Helper()
	rows, err := f.Plain.Query("SELECT " + tb.Hex + ", n FROM " + tb.Name + " ORDER BY 1")
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

// roundTrip runs the steps with key v in one global transaction, checks
// the lock of v is held by it, and rolls it back. A key whose lock key
// (txc.RowKey: a byte that is not UTF-8 takes four) is longer than the
// coordinator takes (txc.MaxLockKeyLen) must fail the registration of
// its branch with txc.ErrInvalidArgument.
func (f *Fixture) roundTrip(t *testing.T, tb Table, v string, r run) {
	t.Helper()
	var xid txc.XID
	tooLong := len(txc.RowKey(v)) > txc.MaxLockKeyLen
	err := f.TM.WithGlobalTx(context.Background(), tm.Config{Name: "keyfuzz", Timeout: 30 * time.Second}, func(ctx context.Context) error {
		xid, _ = tm.XIDFromContext(ctx)
		err := f.write(ctx, tb, v, r)
		if tooLong {
			if errors.Is(err, txc.ErrInvalidArgument) {
				return errRollback
			}
			return fmt.Errorf("a key too long for a lock: %v, want txc.ErrInvalidArgument", err)
		}
		if err != nil {
			return err
		}
		key := txc.LockKey{Table: tb.LockTable, Rows: []string{txc.RowKey(v)}}
		locked, holder, err := f.Conn.LockQuery(ctx, "", f.Resource, []txc.LockKey{key})
		if err != nil {
			return err
		}
		if !locked || holder != xid {
			return fmt.Errorf("lock %s of %s: locked %v by %q, want held by %s", quoted(key.Rows[0]), key.Table, locked, holder, xid)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("%s key %s (%s): %v", tb.Name, quoted(v), r, err)
	}
	f.waitRolledBack(t, xid)
}

// write runs the steps with key v, each in a local transaction of its
// own, or all in one when r.tx.
func (f *Fixture) write(ctx context.Context, tb Table, v string, r run) error {
	if !r.tx {
		return f.steps(ctx, r.db, tb, v, r.literal)
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f.steps(ctx, tx, tb, v, r.literal); err != nil {
		return err
	}
	return tx.Commit()
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// steps runs f.Steps on ex with key v written as a literal or given as
// an argument, and checks the rows each affects.
func (f *Fixture) steps(ctx context.Context, ex execer, tb Table, v string, literal bool) error {
	for i, s := range f.Steps {
		q := strings.ReplaceAll(s.Q, "{t}", tb.Name)
		var args []any
		if literal {
			q = strings.ReplaceAll(q, "{k}", f.Literal(v, i, tb.Binary))
		} else {
			q = strings.ReplaceAll(q, "{k}", f.Placeholder)
			args = append(args, keyArg(v, tb.Binary))
		}
		res, err := ex.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", datasource.Shorten(q), err)
		}
		if n, err := res.RowsAffected(); err != nil || n != s.Rows {
			return fmt.Errorf("%s: %d rows affected (%v), want %d", datasource.Shorten(q), n, err, s.Rows)
		}
	}
	return nil
}

// waitRolledBack waits until xid is rolled back; any other end fails t.
func (f *Fixture) waitRolledBack(t *testing.T, xid txc.XID) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := f.Conn.Status(context.Background(), xid)
		if err == nil && st == txc.GlobalRollbacked {
			return
		}
		if err == nil && (st.IsFinal() || st.NeedsManualAction()) || time.Now().After(deadline) {
			t.Fatalf("transaction %s: status %v (err %v), want rolled back", xid, st, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// keyArg is v as the argument a user passes for a key column.
func keyArg(v string, binary bool) any {
	if binary {
		return []byte(v)
	}
	return v
}

func quoted(v string) string { return datasource.Shorten(fmt.Sprintf("%q", v)) }
