package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/txcio/txc"
	txcmysql "github.com/txcio/txc/datasource/mysql"
	"github.com/txcio/txc/datasource/undo"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tm"
)

// tzTable is a table with TIMESTAMP values: a rollback restores them
// exactly only in the time zone its images were read in.
const tzTable = "CREATE TABLE {t} (id INT PRIMARY KEY, ts TIMESTAMP(6) NULL, n INT NOT NULL)"

const tzSeed = "INSERT INTO {t} VALUES (1, '2024-03-01 12:00:00.123456', 1), (2, '2024-07-01 23:30:00', 2), (3, NULL, 3)"

// checks returns how many session queries fn made the proxy run.
func checks(fn func()) int64 {
	before := txcmysql.SessionQueries()
	fn()
	return txcmysql.SessionQueries() - before
}

// zoneOf returns the time zone recorded in the undo log of xid's only
// branch (read before the rollback deletes it).
func (e *env) zoneOf(xid txc.XID) string {
	e.t.Helper()
	var b []byte
	if err := e.plain.QueryRow("SELECT log FROM txc_undo_log WHERE xid = ? AND state = 0", string(xid)).Scan(&b); err != nil {
		e.t.Fatalf("undo log of %s: %v", xid, err)
	}
	l, err := undo.Codec{}.Decode(b)
	if err != nil {
		e.t.Fatal(err)
	}
	return l.TimeZone
}

// rolledBack runs stmts in one local transaction of c in a global
// transaction that is then rolled back, checks the rollback restored tb
// to seed exactly, and returns the time zone the undo log recorded.
func (e *env) rolledBack(c *sql.Conn, tb, seed string, stmts ...string) string {
	e.t.Helper()
	var zone string
	xid, err := e.global(func(ctx context.Context) error {
		err := inTx(ctx, c, stmts...)
		if errors.Is(err, errRollback) {
			xid, _ := tm.XIDFromContext(ctx)
			zone = e.zoneOf(xid)
		}
		return err
	})
	if !errors.Is(err, errRollback) {
		e.t.Fatalf("%v: err = %v", stmts, err)
	}
	if st := e.wait(xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed); st != txc.GlobalRollbacked {
		e.t.Errorf("%v: transaction ended %v", stmts, st)
	}
	if got := e.dump(tb); got != seed {
		e.t.Errorf("%v: after rollback:\n%s\nseed:\n%s", stmts, got, seed)
	}
	return zone
}

// The session check is kept per connection: consecutive local
// transactions of global transactions on one connection read the session
// once, also across plain statements the dialect vouches for (run
// directly, prepared, or passed through inside a global transaction),
// and each records UTC, the zone of its TIMESTAMP images.
func TestSessionCheckedOncePerConnection(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_sc_once", tzTable, tzSeed)
	seed := e.dump(tb)
	ctx := context.Background()
	c, err := e.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var zone string
	if err := c.QueryRowContext(ctx, "SELECT @@session.time_zone").Scan(&zone); err != nil {
		t.Fatal(err)
	}

	write := []string{"UPDATE " + tb + " SET ts = '2030-01-01 00:00:00', n = n + 1 WHERE id = 1", "DELETE FROM " + tb + " WHERE id = 2"}
	var zones []string
	n := checks(func() {
		zones = append(zones, e.rolledBack(c, tb, seed, write...))
		zones = append(zones, e.rolledBack(c, tb, seed, "DELETE FROM "+tb+" WHERE id IN (1, 3)"))
	})
	if n != 1 {
		t.Errorf("two local transactions on one connection ran %d session queries, want 1", n)
	}

	n = checks(func() {
		// Vouched-for plain statements on the connection.
		var v int
		if err := c.QueryRowContext(ctx, "  select n FROM "+tb+" WHERE id = 1").Scan(&v); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			"UPDATE " + tb + " SET n = n WHERE id = 1",
			"START TRANSACTION", "SAVEPOINT sp", "RELEASE SAVEPOINT sp", "COMMIT",
			"BEGIN", "ROLLBACK",
			"INSERT INTO " + tb + " (id, n) VALUES (9, 9)", "DELETE FROM " + tb + " WHERE id = 9",
			"WITH x AS (SELECT 1 AS a) SELECT a FROM x",
		} {
			if _, err := c.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		st, err := c.PrepareContext(ctx, "SELECT n FROM "+tb+" WHERE id = ?")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.QueryRowContext(ctx, 2).Scan(&v); err != nil {
			t.Fatal(err)
		}
		st.Close()
		// A plain read inside a global transaction (passed through).
		zones = append(zones, e.rolledBack(c, tb, seed, "SELECT n FROM "+tb+" WHERE id = 3", "UPDATE "+tb+" SET n = 0 WHERE id = 3"))
		// A global write without a local transaction (one of its own).
		xid, err := e.global(func(ctx context.Context) error {
			if _, err := c.ExecContext(ctx, "UPDATE "+tb+" SET ts = NULL WHERE id = 2"); err != nil {
				return err
			}
			xid, _ := tm.XIDFromContext(ctx)
			zones = append(zones, e.zoneOf(xid))
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("autocommit write: %v", err)
		}
		e.wait(xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed)
	})
	if n != 0 {
		t.Errorf("after vouched-for statements, %d session queries, want 0", n)
	}
	if got := e.dump(tb); got != seed {
		t.Errorf("after rollback:\n%s\nseed:\n%s", got, seed)
	}
	// TIMESTAMP images are instants whatever the session's zone: every
	// log records UTC, in which the rollback writes them.
	for i, z := range zones {
		if z != "+00:00" {
			t.Errorf("local transaction %d (session zone %q) recorded time zone %q, want +00:00", i, zone, z)
		}
	}
}

// A statement on the connection the dialect does not vouch for makes the
// next local transaction read the session again: character sets the
// statement set that would lose text are refused (the witness here), a
// database the statement moved to is refused, and a changed time zone
// still restores TIMESTAMP values exactly.
func TestSessionCheckedAgainAfterUnvouchedStatement(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_sc_again", tzTable, tzSeed)
	seed := e.dump(tb)
	ctx := context.Background()
	proc := dbtest.Name("txc_csproc")
	if _, err := e.plain.Exec("CREATE PROCEDURE " + proc + "() SET character_set_results = latin1"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.plain.Exec("DROP PROCEDURE IF EXISTS " + proc) })
	multi := e.open("multiStatements=true")

	write := []string{"UPDATE " + tb + " SET ts = '2030-01-01 00:00:00', n = n + 1 WHERE id = 1", "DELETE FROM " + tb + " WHERE id = 2"}
	const lossy = "character sets" // the refusal of a session whose text is not utf8mb4
	for _, tc := range []struct {
		name   string
		db     *sql.DB
		run    func(c *sql.Conn) error
		refuse string // what the next global write's refusal names; "": it runs
	}{
		{"SET NAMES", e.db, exec("SET NAMES latin1"), lossy},
		{"lower-case set", e.db, exec("set @@session.character_set_results=latin1"), lossy},
		{"executable comment", e.db, exec("/*!40101 SET character_set_results = latin1 */"), lossy},
		{"MariaDB executable comment", e.db, exec("/*M!100100 SET character_set_results = latin1 */"), lossy},
		{"CALL", e.db, exec("CALL " + proc + "()"), lossy},
		{"semicolon in a literal", e.db, exec("SELECT ';'"), ""},
		{"multiStatements", multi, exec("SELECT 1; SET character_set_results = latin1"), lossy},
		{"SELECT then compound statement", multi, exec("UPDATE " + tb + " SET n = n WHERE id = 1;BEGIN NOT ATOMIC SET character_set_results = latin1; END"), lossy},
		{"prepared SET", e.db, func(c *sql.Conn) error {
			st, err := c.PrepareContext(ctx, "SET character_set_results = ?")
			if err != nil {
				return err
			}
			defer st.Close()
			_, err = st.ExecContext(ctx, "latin1")
			return err
		}, lossy},
		{"sql_mode", e.db, exec("SET sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')"), "ANSI_QUOTES"},
		{"SET time_zone", e.db, exec("SET time_zone = '+05:00'"), ""},
		{"SET inside a global transaction", e.db, func(c *sql.Conn) error {
			// Passed through, not vouched for: dropped after this local
			// transaction's check.
			e.rolledBack(c, tb, seed, "DELETE FROM "+tb+" WHERE id = 3", "SET @x = 1")
			return nil
		}, ""},
		{"USE of the same database", e.db, exec("USE test"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, q := range []string{"SET NAMES utf8mb4", "SET sql_mode = DEFAULT", "SET time_zone = '+00:00'"} {
				if _, err := c.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			e.rolledBack(c, tb, seed, write...)
			if err := tc.run(c); err != nil {
				t.Fatal(err)
			}
			n := checks(func() {
				if tc.refuse == "" {
					e.rolledBack(c, tb, seed, write...)
					return
				}
				var stmtErr error
				xid, _ := e.global(func(ctx context.Context) error {
					stmtErr = inTx(ctx, c, write...)
					return stmtErr
				})
				e.wait(xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed)
				if !errors.Is(stmtErr, txc.ErrUnsupported) || !strings.Contains(stmtErr.Error(), tc.refuse) {
					t.Errorf("err = %v, want a refusal naming %q", stmtErr, tc.refuse)
				}
			})
			if n != 1 {
				t.Errorf("%d session queries after the statement, want 1", n)
			}
			if got := e.dump(tb); got != seed {
				t.Errorf("%s changed:\n%s\nwant:\n%s", tb, got, seed)
			}
		})
	}

	// USE of another database: the next global write is refused (the
	// verified state was dropped, not reused), and refused again (a
	// failed check is not kept).
	t.Run("USE other", func(t *testing.T) {
		other := e.otherDatabase(t, tb, tzTable, tzSeed)
		away := e.dump(other + "." + tb)
		c, err := e.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		e.rolledBack(c, tb, seed, write...)
		if _, err := c.ExecContext(ctx, "USE "+other); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			var stmtErr error
			n := checks(func() {
				xid, _ := e.global(func(ctx context.Context) error {
					stmtErr = inTx(ctx, c, write...)
					return stmtErr
				})
				e.wait(xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed)
			})
			if !errors.Is(stmtErr, txc.ErrUnsupported) || !strings.Contains(stmtErr.Error(), "current database") {
				t.Errorf("attempt %d: err = %v, want a refusal naming the current database", i, stmtErr)
			}
			if n != 1 {
				t.Errorf("attempt %d: %d session queries, want 1", i, n)
			}
		}
		if got := e.dump(tb); got != seed {
			t.Errorf("%s changed:\n%s\nwant:\n%s", tb, got, seed)
		}
		if got := e.dump(other + "." + tb); got != away {
			t.Errorf("%s.%s changed:\n%s\nwant:\n%s", other, tb, got, away)
		}
		if _, err := c.ExecContext(ctx, "USE test"); err != nil {
			t.Fatal(err)
		}
		e.rolledBack(c, tb, seed, write...)
	})

	// A connection back in the pool keeps its verified state across
	// database/sql's reuse (ResetSession), and loses it to a plain SET.
	t.Run("pooled", func(t *testing.T) {
		db := e.open("")
		db.SetMaxOpenConns(1)
		upd := "UPDATE " + tb + " SET ts = '2031-02-03 04:05:06', n = n + 1 WHERE id IN (1, 2)"
		autocommit := func() string {
			var zone string
			xid, err := e.global(func(ctx context.Context) error {
				if _, err := db.ExecContext(ctx, upd); err != nil {
					return err
				}
				xid, _ := tm.XIDFromContext(ctx)
				zone = e.zoneOf(xid)
				return errRollback
			})
			if !errors.Is(err, errRollback) {
				t.Fatalf("err = %v", err)
			}
			if st := e.wait(xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed); st != txc.GlobalRollbacked {
				t.Errorf("transaction ended %v", st)
			}
			if got := e.dump(tb); got != seed {
				t.Errorf("after rollback:\n%s\nseed:\n%s", got, seed)
			}
			return zone
		}
		if _, err := db.ExecContext(ctx, "SET time_zone = '+06:00'"); err != nil {
			t.Fatal(err)
		}
		autocommit()
		var z string
		if n := checks(func() { z = autocommit() }); n != 0 || z != "+00:00" {
			t.Errorf("reused connection: %d session queries, zone %q; want 0, +00:00", n, z)
		}
		if _, err := db.ExecContext(ctx, "SET time_zone = '-03:00'"); err != nil {
			t.Fatal(err)
		}
		if n := checks(func() { z = autocommit() }); n != 1 || z != "+00:00" {
			t.Errorf("after SET: %d session queries, zone %q; want 1, +00:00", n, z)
		}
	})
}

// exec returns a step that runs q plainly on a connection.
func exec(q string) func(c *sql.Conn) error {
	return func(c *sql.Conn) error {
		_, err := c.ExecContext(context.Background(), q)
		return err
	}
}

// KeepsSession vouches only for statements that cannot change the
// session's database or time zone, conservatively, without allocating.
func TestKeepsSession(t *testing.T) {
	d := txcmysql.Dialect{}
	for _, tc := range []struct {
		q    string
		want bool
	}{
		{"SELECT 1", true},
		{"select * from t", true},
		{"  \t\r\n\f\vSeLeCt 1", true},
		{"SELECT(1)", true},
		{"SELECT", true},
		{"INSERT INTO t VALUES (1)", true},
		{"insert(x) values (1)", true},
		{"UPDATE t SET a = 1", true},
		{"DELETE FROM t", true},
		{"REPLACE INTO t VALUES (1)", true},
		{"BEGIN", true},
		{"begin work", true},
		{"START TRANSACTION", true},
		{"COMMIT", true},
		{"ROLLBACK TO SAVEPOINT a", true},
		{"SAVEPOINT a", true},
		{"RELEASE SAVEPOINT a", true},
		{"WITH x AS (SELECT 1) SELECT * FROM x", true},
		{"SELECT 1 /* a comment */", true},
		{"SELECT 1 -- a comment", true},

		{"", false},
		{"   ", false},
		{"USE other", false},
		{"use other", false},
		{"SET time_zone = '+01:00'", false},
		{"SET @x = 1", false},
		{"CALL p()", false},
		{"DO 1", false},
		{"PREPARE s FROM 'SET time_zone = 1'", false},
		{"EXECUTE s", false},
		{"DEALLOCATE PREPARE s", false},
		{"LOAD DATA INFILE 'x' INTO TABLE t", false},
		{"HANDLER t OPEN", false},
		{"SHOW TABLES", false},
		{"EXPLAIN SELECT 1", false},
		{"CREATE TABLE t (a INT)", false},
		{"XA START 'x'", false},
		{"(SELECT 1)", false},
		{"SELECT 1; SET time_zone = '+01:00'", false},
		{"SELECT ';'", false},
		{"SELECT 1;", false},
		{"BEGIN NOT ATOMIC SET time_zone = '+01:00'; END", false},
		{"/*!40101 SET time_zone = '+01:00' */", false},
		{"/*M!100100 SET time_zone = '+01:00' */", false},
		{"/* c */ SELECT 1", false},
		{"-- c\nSELECT 1", false},
		{"#c\nSELECT 1", false},
		{"SELECT*FROM t", false},
		{"SELECT`a`", false},
		{"SELECTED", false},
		{"SELECTx 1", false},
		{"SAVEPOINTS", false},
		{"SELECT\u00a0x", false},
		{"\u00a0SELECT 1", false},
		{"INSERTT", false},
		{"BEGINNING", false},
		{"ROLLBACKS", false},
	} {
		if got := d.KeepsSession(tc.q); got != tc.want {
			t.Errorf("KeepsSession(%q) = %v, want %v", tc.q, got, tc.want)
		}
	}
	long := "  UPDATE t SET a = 1 WHERE b IN (" + strings.Repeat("1, ", 1000) + "1)"
	if a := testing.AllocsPerRun(100, func() { d.KeepsSession(long); d.KeepsSession("USE x") }); a != 0 {
		t.Errorf("KeepsSession allocates %v times per run", a)
	}
}
