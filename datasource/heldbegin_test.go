package datasource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tm"
)

// foldDialect is fakeDialect with BeginFolder: a statement beginning
// with "UPDATE FOLD" takes the held-back BEGIN (recording "folded …") and
// reads its image; "UPDATE FOLDFAIL" takes it and reports it failed.
// Serializable transactions it cannot fold.
type foldDialect struct {
	fakeDialect
	db *fakeDB
}

func (d foldDialect) BeginText(opts driver.TxOptions) (string, error) {
	if sql.IsolationLevel(opts.Isolation) == sql.LevelSerializable {
		return "", errors.New("not folded")
	}
	return "BEGIN fake", nil
}

func (d foldDialect) EndTx(_ context.Context, _ driver.Conn, commit bool) error {
	if commit {
		d.db.record("endtx commit")
	} else {
		d.db.record("endtx rollback")
	}
	return nil
}

func (d foldDialect) Recognize(query string) (Statement, error) {
	if strings.HasPrefix(query, "UPDATE FOLD") {
		return foldWrite{db: d.db, fail: strings.HasPrefix(query, "UPDATE FOLDFAIL")}, nil
	}
	return d.fakeDialect.Recognize(query)
}

// foldWrite is an imagedWrite that sends the held-back BEGIN with its
// image query, as a dialect's pipelined probe does.
type foldWrite struct {
	imagedWrite
	db   *fakeDB
	fail bool
}

func (w foldWrite) Exec(ctx context.Context, x *Exec, args []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	if begin, ok := x.TakeBegin(); ok {
		w.db.record("folded %s", begin)
		if w.fail {
			err := errors.New("connection lost")
			x.Begun(err)
			return nil, err
		}
		x.Begun(nil)
	}
	return w.imagedWrite.Exec(ctx, x, args, run)
}

// openFold opens the proxy with foldDialect on db, one connection.
func openFold(t *testing.T, db *fakeDB) *sql.DB {
	t.Helper()
	c, err := NewConnector(fakeConnector{db}, foldDialect{db: db}, WithResourceID("fold-"+strings.ReplaceAll(t.Name(), "/", "-")))
	if err != nil {
		t.Fatal(err)
	}
	sdb := sql.OpenDB(c)
	sdb.SetMaxOpenConns(1)
	t.Cleanup(func() { sdb.Close(); c.Close() })
	return sdb
}

// wire is the calls that reach the server, with the ends of held-back
// transactions.
func wire(calls []string) []string {
	var out []string
	for _, c := range roundTrips(calls) {
		out = append(out, c)
	}
	for _, c := range calls {
		if strings.HasPrefix(c, "folded ") || strings.HasPrefix(c, "endtx ") {
			out = append(out, c)
		}
	}
	return out
}

// beginGlobal begins a local transaction of a global one on sdb and
// forgets the calls so far.
func beginGlobal(t *testing.T, sdb *sql.DB, db *fakeDB, opts *sql.TxOptions) (context.Context, *sql.Tx) {
	t.Helper()
	ctx := tm.ContextWithXID(t.Context(), "fold:1")
	tx, err := sdb.BeginTx(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, tx
}

// TestHeldBeginNothingSent: a local transaction of a global one that runs
// no statement sends nothing, not even its BEGIN or its end.
func TestHeldBeginNothingSent(t *testing.T) {
	db := &fakeDB{full: true}
	sdb := openFold(t, db)
	for _, commit := range []bool{true, false} {
		db.take()
		_, tx := beginGlobal(t, sdb, db, nil)
		end := tx.Rollback
		if commit {
			end = tx.Commit
		}
		if err := end(); err != nil {
			t.Fatal(err)
		}
		if calls := wire(db.take()); len(calls) > 0 {
			t.Fatalf("commit %v: sent %q", commit, calls)
		}
	}
}

// TestHeldBeginSentFirst: whatever a held-back transaction's first
// statement is, its BEGIN reaches the driver before it runs, once, and
// the transaction ends through the driver's own transaction.
func TestHeldBeginSentFirst(t *testing.T) {
	db := &fakeDB{full: true}
	sdb := openFold(t, db)
	for _, c := range []struct {
		name string
		run  func(ctx context.Context, tx *sql.Tx) error
	}{
		{"passthrough exec", func(ctx context.Context, tx *sql.Tx) error { _, err := tx.ExecContext(ctx, "SET x = 1"); return err }},
		{"passthrough query", func(ctx context.Context, tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, "SELECT 1")
			if err == nil {
				rows.Close()
			}
			return err
		}},
		{"imaged write", func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "UPDATE t SET v = 1")
			return err
		}},
		{"locking read", func(ctx context.Context, tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, "SELECT c FROM t FOR UPDATE")
			if err == nil {
				rows.Close()
			}
			return err
		}},
		{"prepared statement", func(ctx context.Context, tx *sql.Tx) error {
			st, err := tx.PrepareContext(ctx, "UPDATE t SET v = ?")
			if err != nil {
				return err
			}
			defer st.Close()
			_, err = st.ExecContext(ctx, 2)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, commit := range []bool{true, false} {
				db.take()
				ctx, tx := beginGlobal(t, sdb, db, nil)
				if err := c.run(ctx, tx); err != nil {
					t.Fatal(err)
				}
				if err := c.run(ctx, tx); err != nil {
					t.Fatal(err)
				}
				end, want := tx.Rollback, "rollback"
				if commit {
					end, want = tx.Commit, "commit"
				}
				if err := end(); err != nil {
					t.Fatal(err)
				}
				calls := wire(db.take())
				ran := slices.IndexFunc(calls, func(s string) bool {
					return !strings.HasPrefix(s, "prepare") && s != "begintx"
				})
				if ran < 0 || slices.Index(calls, "begintx") < 0 || slices.Index(calls, "begintx") > ran {
					t.Fatalf("BEGIN not sent before the first statement ran: %q", calls)
				}
				n := 0
				for _, s := range calls {
					if s == "begintx" {
						n++
					}
				}
				if n != 1 || calls[len(calls)-1] != want {
					t.Fatalf("want one BEGIN and the driver's %s last: %q", want, calls)
				}
			}
		})
	}
}

// TestHeldBeginFolded: a statement whose dialect takes the held-back
// BEGIN sends it itself; nothing else sends it again, and the transaction
// ends through the dialect's EndTx.
func TestHeldBeginFolded(t *testing.T) {
	db := &fakeDB{full: true}
	sdb := openFold(t, db)
	for _, commit := range []bool{true, false} {
		db.take()
		ctx, tx := beginGlobal(t, sdb, db, nil)
		for _, q := range []string{"UPDATE FOLD t SET v = 1", "UPDATE FOLD t SET v = 2", "SET x = 1"} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		end, want := tx.Rollback, "endtx rollback"
		if commit {
			end, want = tx.Commit, "endtx commit"
		}
		if err := end(); err != nil {
			t.Fatal(err)
		}
		calls := wire(db.take())
		if slices.Contains(calls, "begintx") || slices.Contains(calls, "commit") || slices.Contains(calls, "rollback") {
			t.Fatalf("a folded BEGIN went through the driver too: %q", calls)
		}
		if slices.Index(calls, "folded BEGIN fake") < 0 || calls[len(calls)-1] != want {
			t.Fatalf("want the folded BEGIN and %q last: %q", want, calls)
		}
	}
}

// TestHeldBeginFoldFailed: after the round trip that carried a folded
// BEGIN failed, the transaction may not have begun: its next statements
// are refused before they reach the driver (they could run outside any
// transaction), and it can only roll back.
func TestHeldBeginFoldFailed(t *testing.T) {
	db := &fakeDB{full: true}
	sdb := openFold(t, db)
	ctx, tx := beginGlobal(t, sdb, db, nil)
	if _, err := tx.ExecContext(ctx, "UPDATE FOLDFAIL t SET v = 1"); err == nil {
		t.Fatal("the failed statement succeeded")
	}
	db.take()
	for _, q := range []string{"UPDATE t SET v = 1", "SET x = 1", "UPDATE FOLD t SET v = 1"} {
		_, err := tx.ExecContext(ctx, q)
		if txc.CodeOf(err) != txc.CodeRolledBack {
			t.Fatalf("%s: got %v, want a refusal (CodeRolledBack)", q, err)
		}
	}
	if calls := wire(db.take()); len(calls) > 0 {
		t.Fatalf("statements reached the driver: %q", calls)
	}
	if err := tx.Commit(); txc.CodeOf(err) != txc.CodeRolledBack {
		t.Fatalf("commit: got %v, want CodeRolledBack", err)
	}
	if calls := wire(db.take()); !slices.Equal(calls, []string{"endtx rollback"}) {
		t.Fatalf("commit sent %q, want the rollback alone", calls)
	}
}

// TestHeldBeginOnlyWhereFolded: a transaction outside any global one, or
// one the dialect cannot fold, begins at once as before.
func TestHeldBeginOnlyWhereFolded(t *testing.T) {
	db := &fakeDB{full: true}
	sdb := openFold(t, db)
	for name, begin := range map[string]func() (*sql.Tx, error){
		"no global transaction": func() (*sql.Tx, error) { return sdb.BeginTx(t.Context(), nil) },
		"not foldable": func() (*sql.Tx, error) {
			return sdb.BeginTx(tm.ContextWithXID(t.Context(), "fold:2"), &sql.TxOptions{Isolation: sql.LevelSerializable})
		},
	} {
		db.take()
		tx, err := begin()
		if err != nil {
			t.Fatal(err)
		}
		if calls := wire(db.take()); !slices.Equal(calls, []string{"begintx"}) {
			t.Fatalf("%s: BeginTx sent %q", name, calls)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if calls := wire(db.take()); !slices.Equal(calls, []string{"commit"}) {
			t.Fatalf("%s: Commit sent %q", name, calls)
		}
	}
}
