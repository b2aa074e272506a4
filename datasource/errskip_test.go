package datasource

import (
	"database/sql"
	"database/sql/driver"
	"slices"
	"strings"
	"testing"

	"github.com/txcio/txc/tm"
)

// TestErrSkipPlain: outside a global transaction a wrapped connection's
// driver.ErrSkip comes back from the proxy as it is (database/sql
// compares it with ==), and database/sql's prepare path then runs the
// statement once.
func TestErrSkipPlain(t *testing.T) {
	db := &fakeDB{full: true, skipArgs: true}
	c := openFake(t, db)
	pc := proxyConn(t, c, db)
	args := []driver.NamedValue{{Ordinal: 1, Value: int64(5)}}
	if _, err := pc.ExecContext(t.Context(), "UPDATE t SET v = ?", args); err != driver.ErrSkip {
		t.Fatalf("ExecContext: %v, want driver.ErrSkip itself", err)
	}
	if _, err := pc.QueryContext(t.Context(), "SELECT v FROM t WHERE id = ?", args); err != driver.ErrSkip {
		t.Fatalf("QueryContext: %v, want driver.ErrSkip itself", err)
	}
	want := []string{"execctx skipped UPDATE t SET v = ?", "queryctx skipped SELECT v FROM t WHERE id = ?"}
	if calls := roundTrips(db.take()); !slices.Equal(calls, want) {
		t.Fatalf("wrapped calls %q, want %q", calls, want)
	}

	sdb := sql.OpenDB(c)
	sdb.SetMaxOpenConns(1)
	if _, err := sdb.ExecContext(t.Context(), "UPDATE t SET v = ?", 5); err != nil {
		t.Fatal(err)
	}
	want = []string{"execctx skipped UPDATE t SET v = ?", "preparectx UPDATE t SET v = ?", "stmt.exec UPDATE t SET v = ? [int64(5)]"}
	if calls := roundTrips(db.take()); !slices.Equal(calls, want) {
		t.Fatalf("through database/sql: wrapped calls %q, want %q", calls, want)
	}
}

// TestErrSkipGlobalNoImageFirst: in a global transaction a statement with
// arguments, which the wrapped driver would answer with driver.ErrSkip,
// is prepared (accepted by the wrapped driver) before any image query
// runs, and then runs once, with one image query: no image work is done
// for a statement that database/sql would send again.
func TestErrSkipGlobalNoImageFirst(t *testing.T) {
	db := &fakeDB{full: true, skipArgs: true}
	sdb := sql.OpenDB(openFake(t, db))
	sdb.SetMaxOpenConns(1)
	ctx := tm.ContextWithXID(t.Context(), "fake:1")
	tx, err := sdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.take()
	if _, err := tx.ExecContext(ctx, "UPDATE t SET v = ?", 5); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"preparectx UPDATE t SET v = ?",
		"preparectx " + imageQuery, "stmt.query " + imageQuery + " []",
		"stmt.exec UPDATE t SET v = ? [int64(5)]",
	}
	if calls := roundTrips(db.take()); !slices.Equal(calls, want) {
		t.Fatalf("wrapped calls %q, want %q", calls, want)
	}
	// A query with arguments is sent back to database/sql's prepare path
	// by the proxy itself, before anything reaches the wrapped driver.
	rows, err := tx.QueryContext(ctx, "SELECT c FROM t WHERE id = ?", 1)
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	want = []string{"preparectx SELECT c FROM t WHERE id = ?", "stmt.query SELECT c FROM t WHERE id = ? [int64(1)]"}
	if calls := roundTrips(db.take()); !slices.Equal(calls, want) {
		t.Fatalf("query: wrapped calls %q, want %q", calls, want)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
}

// TestErrSkipAfterImages: in a global transaction, a wrapped driver that
// answers driver.ErrSkip only once the images are read (a statement
// without arguments, or with arguments the driver was said to
// interpolate) gets the statement prepared by the proxy, within the same
// imaged run: the images are read once and the statement runs once, where
// handing ErrSkip back to database/sql would image it again on the
// prepare path.
func TestErrSkipAfterImages(t *testing.T) {
	for _, c := range []struct {
		name  string
		opts  []Option
		query string
		args  []any
	}{
		{"no arguments", nil, "UPDATE t SET v = 1", nil},
		{"interpolating", []Option{WithClientInterpolation(true)}, "UPDATE t SET v = ?", []any{5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := &fakeDB{full: true, skipAll: true}
			sdb := sql.OpenDB(openFake(t, db, c.opts...))
			sdb.SetMaxOpenConns(1)
			ctx := tm.ContextWithXID(t.Context(), "fake:2")
			tx, err := sdb.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			db.take()
			if _, err := tx.ExecContext(ctx, c.query, c.args...); err != nil {
				t.Fatal(err)
			}
			calls := roundTrips(db.take())
			if n := countPrefix(calls, "stmt.query "+imageQuery); n != 1 {
				t.Errorf("write: image query run %d times, want 1: %q", n, calls)
			}
			if n := countPrefix(calls, "stmt.exec "+c.query); n != 1 {
				t.Errorf("write: statement run %d times, want 1: %q", n, calls)
			}
			rows, err := tx.QueryContext(ctx, "SELECT c FROM t FOR UPDATE")
			if err != nil {
				t.Fatal(err)
			}
			rows.Close()
			all := db.take()
			if n := countPrefix(all, "stmt.close SELECT c FROM t FOR UPDATE"); n != 1 {
				t.Errorf("locking read: its statement closed %d times with the rows, want 1: %q", n, all)
			}
			calls = roundTrips(all)
			if n := countPrefix(calls, "stmt.query "+imageQuery); n != 1 {
				t.Errorf("locking read: key query run %d times, want 1: %q", n, calls)
			}
			if n := countPrefix(calls, "stmt.query SELECT c FROM t FOR UPDATE"); n != 1 {
				t.Errorf("locking read: statement run %d times, want 1: %q", n, calls)
			}
		})
	}
}

// countPrefix counts the calls that begin with prefix.
func countPrefix(calls []string, prefix string) int {
	n := 0
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// roundTrips keeps the calls of calls that would reach a database
// server (statements, prepares, transaction control), without the
// undo-log table check of opening a connection: what the proxy costs.
func roundTrips(calls []string) []string {
	var out []string
	for _, c := range calls {
		op, _, _ := strings.Cut(c, " ")
		switch op {
		case "prepare", "preparectx", "execctx", "queryctx", "stmt.exec", "stmt.query", "conn.exec", "conn.query",
			"begin", "begintx", "commit", "rollback":
			if !strings.Contains(c, "FROM txc_undo_log WHERE 1 = 0") {
				out = append(out, c)
			}
		}
	}
	return out
}
