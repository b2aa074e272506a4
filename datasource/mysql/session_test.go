package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	txcmysql "github.com/txcio/txc/datasource/mysql"
	"github.com/txcio/txc/datasource/undo"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tm"
)

// otherDatabase creates a database of its own, set up for AT mode (an
// undo table) with a table of the same name and rows as tb, dropped when
// the test ends.
func (e *env) otherDatabase(t *testing.T, tb, def, seed string) string {
	t.Helper()
	db := dbtest.Name("txc_other")
	if _, err := e.plain.Exec("CREATE DATABASE " + db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.plain.Exec("DROP DATABASE IF EXISTS " + db) })
	ut, err := undo.NewTableIn(undo.MySQL, db, "", undo.Codec{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ut.Create(context.Background(), e.plain); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{def, seed} {
		if _, err := e.plain.Exec(strings.ReplaceAll(q, "{t}", db+"."+tb)); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// Item: a pooled connection left in another database by non-global code
// (USE) wrote the other database's table in a global transaction, with
// its undo log in that database's undo table, where phase 2 never looks:
// the rollback left a finished marker and the change stayed. Now refused
// before anything runs, on a *sql.Conn and on a connection returned to
// the pool.
func TestSessionInOtherDatabaseRefused(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_rg_db", kv, kvSeed)
	other := e.otherDatabase(t, tb, kv, kvSeed)
	home, away := e.dump(tb), e.dump(other+"."+tb)
	cfg, err := gomysql.ParseDSN(dbtest.MySQLDSN)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := txcmysql.NewConnector(cfg, datasource.WithManager(e.rm), datasource.WithResourceID("mysql:undo-name-check"))
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := conn.Resource().UndoTable().InsertStatement(&undo.Log{XID: "x", BranchID: 1})
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(q, "INTO `test`.`txc_undo_log`") {
		t.Errorf("the undo table is not named in the DSN's database: %s", q)
	}
	check := func(what string, err error, xid txc.XID) {
		t.Helper()
		if !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "current database") {
			t.Errorf("%s: err = %v, want a refusal naming the current database", what, err)
		}
		if st := e.wait(xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed); st != txc.GlobalRollbacked {
			t.Errorf("%s: transaction ended %v", what, st)
		}
		if got := e.dump(tb); got != home {
			t.Errorf("%s: %s changed:\n%s\nwant:\n%s", what, tb, got, home)
		}
		if got := e.dump(other + "." + tb); got != away {
			t.Errorf("%s: %s.%s changed:\n%s\nwant:\n%s", what, other, tb, got, away)
		}
	}
	ctx := context.Background()

	// One *sql.Conn: USE outside, then a global transaction on it.
	c, err := e.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "USE "+other); err != nil {
		t.Fatal(err)
	}
	var stmtErr error
	xid, _ := e.global(func(ctx context.Context) error {
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, stmtErr = tx.ExecContext(ctx, "DELETE FROM "+tb+" WHERE id = 1"); stmtErr != nil {
			return stmtErr
		}
		if stmtErr = tx.Commit(); stmtErr != nil {
			return stmtErr
		}
		return errRollback
	})
	check("*sql.Conn", stmtErr, xid)
	// A locking read is refused as well (its keys would be the other
	// table's).
	xid, _ = e.global(func(ctx context.Context) error {
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var n int
		stmtErr = tx.QueryRowContext(ctx, "SELECT n FROM "+tb+" WHERE id = 2 FOR UPDATE").Scan(&n)
		return stmtErr
	})
	check("locking read", stmtErr, xid)

	// The same connection back in the pool (the only one): a global
	// autocommit write on the *sql.DB gets it.
	c.Close()
	e.db.SetMaxOpenConns(1)
	xid, _ = e.global(func(ctx context.Context) error {
		if _, stmtErr = e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 1 WHERE id = 2"); stmtErr != nil {
			return stmtErr
		}
		return errRollback
	})
	check("pooled connection", stmtErr, xid)

	// Back in the resource's database, the same connection works.
	if _, err := e.db.ExecContext(ctx, "USE test"); err != nil {
		t.Fatal(err)
	}
	e.expect(t, undone, "", []string{tb}, "UPDATE "+tb+" SET n = n + 1 WHERE id = 2", "DELETE FROM "+tb+" WHERE id = 3")
}

// Item: a pooled connection left in another time zone by non-global code
// (SET time_zone) read TIMESTAMP images as text in that zone; the
// rollback, on another connection, wrote them back in its own zone (a
// DELETE restored a shifted value) or found them different from the
// current rows (an UPDATE parked as a dirty write). Images now hold
// TIMESTAMP values as instants in UTC, the zone every log records and
// the rollback runs under.
func TestSessionTimeZoneRecorded(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_rg_tz", "CREATE TABLE {t} (id INT PRIMARY KEY, ts TIMESTAMP(6) NULL, n INT NOT NULL)",
		"INSERT INTO {t} VALUES (1, '2024-03-01 12:00:00.123456', 1), (2, '2024-07-01 23:30:00', 2), (3, NULL, 3)")
	seed := e.dump(tb)
	ctx := context.Background()
	c, err := e.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var zone string
	if err := e.plain.QueryRow("SELECT IF(@@session.time_zone = '+08:00', '-03:00', '+08:00')").Scan(&zone); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "SET time_zone = '"+zone+"'"); err != nil {
		t.Fatal(err)
	}
	for _, stmts := range [][]string{
		{"DELETE FROM " + tb + " WHERE id IN (1, 3)"},
		{"UPDATE " + tb + " SET n = n + 10 WHERE id IN (1, 2)"},
		{"UPDATE " + tb + " SET ts = '2030-01-01 00:00:00' WHERE id = 2", "INSERT INTO " + tb + " VALUES (4, '2025-05-05 05:05:05.5', 4)"},
	} {
		xid, err := e.global(func(ctx context.Context) error {
			return inTx(ctx, c, stmts...)
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("%v: err = %v", stmts, err)
		}
		if st := e.wait(xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed); st != txc.GlobalRollbacked {
			t.Errorf("%v: transaction ended %v", stmts, st)
		}
		if got := e.dump(tb); got != seed {
			t.Errorf("%v: after rollback:\n%s\nseed:\n%s", stmts, got, seed)
		}
	}
	// The rollback connections were set back: a rollback of a log in the
	// default zone still restores exactly.
	e.expect(t, undone, "", []string{tb}, "DELETE FROM "+tb+" WHERE id = 1")
}

// inTx runs stmts in one local transaction of c bound to ctx's global
// transaction, commits it and returns errRollback.
func inTx(ctx context.Context, c *sql.Conn, stmts ...string) error {
	if _, ok := tm.XIDFromContext(ctx); !ok {
		return errors.New("no global transaction")
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return errRollback
}
