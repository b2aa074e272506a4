package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
)

// openCounted opens the proxy (AT mode) on one connection whose writes
// are counted in writes.
func (e *env) openCounted(writes *atomic.Int64) *sql.DB {
	e.t.Helper()
	return openCounted(e.t, countedConfig(e.t, e.dsn, writes), datasource.WithManager(e.rm), datasource.WithCreateUndoTable())
}

// TestHeldBeginRoundTrips: the BEGIN of a local transaction of a global
// one goes with the first table probe: a transfer costs PostgreSQL 4
// round trips (BEGIN, lock and probe; two writes; undo insert and
// COMMIT); a transaction that only reads begins through the driver, and
// one that runs nothing sends nothing.
func TestHeldBeginRoundTrips(t *testing.T) {
	e := newEnv(t)
	var writes atomic.Int64
	db := e.openCounted(&writes)
	tbl := e.table("hb_rt", "CREATE TABLE {T} (id INT PRIMARY KEY, v INT)", "INSERT INTO {T} VALUES (1, 100), (2, 100)")
	upd := "UPDATE " + tbl + " SET v = v + $1 WHERE id = $2"
	transfer := func(ctx context.Context) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for _, a := range [][2]int{{-1, 1}, {1, 2}} {
			if _, err := tx.ExecContext(ctx, upd, a[0], a[1]); err != nil {
				return err
			}
		}
		return tx.Commit()
	}
	readOnly := func(ctx context.Context) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var v int
		if err := tx.QueryRowContext(ctx, "SELECT v FROM "+tbl+" WHERE id = 1").Scan(&v); err != nil {
			return err
		}
		return tx.Commit()
	}
	empty := func(ctx context.Context) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		return tx.Commit()
	}
	for _, c := range []struct {
		name string
		fn   func(context.Context) error
		want int64
	}{{"transfer", transfer, 4}, {"read only", readOnly, 3}, {"empty", empty, 0}} {
		// The first runs prepare the statements (round trips of their own).
		for range 2 {
			if _, err := e.global(c.fn); err != nil {
				t.Fatal(err)
			}
		}
		writes.Store(0)
		if _, err := e.global(c.fn); err != nil {
			t.Fatal(err)
		}
		if got := writes.Load(); got != c.want {
			t.Errorf("%s: %d round trips, want %d", c.name, got, c.want)
		}
	}
	if got := e.dump(tbl); got != "(1,97)\n(2,103)\n" {
		t.Fatalf("rows %s", got)
	}
}

// TestHeldBeginInTransaction: whatever runs first in a local transaction
// whose BEGIN was held back runs inside it, with its isolation level and
// access mode, and the transaction's rollback undoes it.
func TestHeldBeginInTransaction(t *testing.T) {
	e := newEnv(t)
	tbl := e.table("hb_in", "CREATE TABLE {T} (id INT PRIMARY KEY, v INT)", "INSERT INTO {T} VALUES (1, 100)")
	show := func(ctx context.Context, tx *sql.Tx, setting string) string {
		var v string
		if err := tx.QueryRowContext(ctx, "SHOW "+setting).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	inTx := func(opts *sql.TxOptions, fn func(ctx context.Context, tx *sql.Tx) error) {
		t.Helper()
		if _, err := e.global(func(ctx context.Context) error {
			tx, err := e.db.BeginTx(ctx, opts)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if err := fn(ctx, tx); err != nil {
				return err
			}
			return tx.Commit()
		}); err != nil {
			t.Fatal(err)
		}
	}
	// A folded BEGIN carries the isolation level.
	inTx(&sql.TxOptions{Isolation: sql.LevelRepeatableRead}, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = v + 1 WHERE id = 1"); err != nil {
			return err
		}
		if got := show(ctx, tx, "transaction_isolation"); got != "repeatable read" {
			t.Errorf("isolation %q after a folded BEGIN", got)
		}
		return nil
	})
	// A first statement the proxy does not probe for begins the
	// transaction through the driver: SET LOCAL holds until its end.
	inTx(nil, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "SET LOCAL statement_timeout = '7s'"); err != nil {
			return err
		}
		if got := show(ctx, tx, "statement_timeout"); got != "7s" {
			t.Errorf("SET LOCAL as the first statement: statement_timeout %q, so it ran outside the transaction", got)
		}
		return nil
	})
	inTx(&sql.TxOptions{ReadOnly: true}, func(ctx context.Context, tx *sql.Tx) error {
		if got := show(ctx, tx, "transaction_read_only"); got != "on" {
			t.Errorf("a read-only transaction's first query: transaction_read_only %q", got)
		}
		return nil
	})
	// The global rollback restores a folded transaction's write.
	xid, err := e.global(func(ctx context.Context) error {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = 0 WHERE id = 1"); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("got %v", err)
	}
	e.rolledBack(xid, tbl, "(1,101)\n")
}

// TestHeldBeginConnectionLost: a backend ended between BeginTx and the
// first statement fails that statement and the transaction; the global
// rollback leaves the row as it was and no undo row behind.
func TestHeldBeginConnectionLost(t *testing.T) {
	e := newEnv(t)
	tbl := e.table("hb_lost", "CREATE TABLE {T} (id INT PRIMARY KEY, v INT)", "INSERT INTO {T} VALUES (1, 100)")
	db := e.open("")
	db.SetMaxOpenConns(1)
	var pid int
	if err := db.QueryRow("SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	xid, err := e.global(func(ctx context.Context) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		// db's one connection, idle in the pool until BeginTx took it.
		var ended bool
		if err := e.plain.QueryRow("SELECT pg_terminate_backend($1, 10000)", pid).Scan(&ended); err != nil || !ended {
			t.Fatalf("ending backend %d: %v %v", pid, ended, err)
		}
		_, err = tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = 0 WHERE id = 1")
		if err == nil {
			return errors.New("the write ran on an ended backend")
		}
		if _, err2 := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = 1 WHERE id = 1"); err2 == nil {
			return errors.New("a second write ran after the first one's connection was lost")
		}
		return err
	})
	if err == nil {
		t.Fatal("the global transaction committed")
	}
	e.wait(xid, txc.GlobalRollbacked, txc.GlobalTimeoutRollbacked)
	if got := e.dump(tbl); got != "(1,100)\n" {
		t.Fatalf("rows %s", got)
	}
	if n := e.undoRows(xid); n != 0 {
		t.Fatalf("%d undo rows left", n)
	}
}
