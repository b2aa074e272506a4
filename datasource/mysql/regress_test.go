package mysql_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource/undo"
)

// Regression tests of statements AT mode once ran without being able to
// undo them exactly. Each ends with the tables equal to their seed:
// either the statement was refused before it ran, or it failed after
// running and its local transaction rolled back, or it ran and the global
// rollback restored every row.

// outcome is how a statement of a regression test must end.
type outcome int

const (
	refused  outcome = iota // typed refusal before it ran
	poisoned                // ran, found its images wrong, local rollback
	undone                  // ran; the global rollback restores the seed
)

// expect runs stmts in one global transaction through the proxy (each in
// its own local transaction), then rolls the global transaction back, and
// checks the outcome and that every table equals its seed.
func (e *env) expect(t *testing.T, want outcome, reason string, tables []string, stmts ...string) {
	t.Helper()
	withArgs := make([]sqlArgs, len(stmts))
	for i, q := range stmts {
		withArgs[i] = s(q)
	}
	e.expectArgs(t, want, reason, tables, withArgs...)
}

// expectArgs is expect with statements that take arguments.
func (e *env) expectArgs(t *testing.T, want outcome, reason string, tables []string, stmts ...sqlArgs) {
	t.Helper()
	seeds := make([]string, len(tables))
	for i, tb := range tables {
		seeds[i] = e.dump(tb)
	}
	var stmtErr error
	xid, err := e.global(func(ctx context.Context) error {
		for _, st := range stmts {
			if _, err := e.db.ExecContext(ctx, st.q, st.args...); err != nil {
				stmtErr = err
				return err
			}
		}
		return errRollback
	})
	switch want {
	case refused:
		if !errors.Is(stmtErr, txc.ErrUnsupported) || !strings.Contains(stmtErr.Error(), "refused") || !strings.Contains(stmtErr.Error(), reason) {
			t.Errorf("err = %v, want a refusal naming %q", err, reason)
		}
	case poisoned:
		if !errors.Is(stmtErr, txc.ErrUnsupported) || !strings.Contains(stmtErr.Error(), "only roll back") || !strings.Contains(stmtErr.Error(), reason) {
			t.Errorf("err = %v, want the statement failed after running, naming %q", err, reason)
		}
	case undone:
		if !errors.Is(err, errRollback) {
			t.Fatalf("err = %v, want the statements to run", err)
		}
	}
	if st := e.wait(xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed); st != txc.GlobalRollbacked {
		t.Errorf("transaction ended %v", st)
	}
	for i, tb := range tables {
		if got := e.dump(tb); got != seeds[i] {
			t.Errorf("%s after rollback:\n%s\nseed:\n%s", tb, got, seeds[i])
		}
	}
}

// Item: a conflict on a unique key whose value is not known before the
// insert (DEFAULT, expression) was never imaged.
func TestConflictOnUnknownKeyRefused(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_rg1", kv, "INSERT INTO {t} VALUES (1, 10, 'a'), (5, 50, 'dflt')")
	e.expect(t, refused, "unique key (s)", []string{tb}, "INSERT INTO "+tb+" (id, n) VALUES (9, 1) ON DUPLICATE KEY UPDATE n = n + 100")
	e.expect(t, refused, "unique key (s)", []string{tb}, "REPLACE INTO "+tb+" (id, n, s) VALUES (9, 1, CONCAT('a', ''))")
	e.expect(t, refused, "unique key (s)", []string{tb}, "INSERT IGNORE INTO "+tb+" (id, n) VALUES (9, 1)")
	// A NULL in a nullable unique column meets no row: allowed.
	nt := e.table("at_rg1n", "CREATE TABLE {t} (id INT PRIMARY KEY, n INT, s VARCHAR(20) NULL UNIQUE)", "INSERT INTO {t} VALUES (1, 1, NULL), (2, 2, 'b')")
	e.expect(t, undone, "", []string{nt}, "REPLACE INTO "+nt+" (id, n, s) VALUES (1, 5, NULL), (3, 3, NULL)")
}

// Item: a unique key on a column prefix: REPLACE deleted a row it never
// looked up.
func TestPrefixUniqueKeyRefused(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_rg2", "CREATE TABLE {t} (id INT PRIMARY KEY, name VARCHAR(20), UNIQUE KEY pfx (name(3)))", "INSERT INTO {t} VALUES (1, 'abcdef')")
	e.expect(t, refused, "column prefix", []string{tb}, "REPLACE INTO "+tb+" (id, name) VALUES (2, 'abcxyz')")
	e.expect(t, refused, "column prefix", []string{tb}, "INSERT INTO "+tb+" (id, name) VALUES (2, 'abcxyz') ON DUPLICATE KEY UPDATE id = id")
	// A plain INSERT cannot meet a row: it still runs.
	e.expect(t, undone, "", []string{tb}, "INSERT INTO "+tb+" (id, name) VALUES (2, 'xyz')")
}

// Item: keys stored differently from their literal (0 into
// AUTO_INCREMENT, rounded or clamped integers, rounded decimals).
func TestConflictKeyStoredDifferently(t *testing.T) {
	e := newEnv(t, "")
	ai := e.table("at_rg3a", "CREATE TABLE {t} (id INT AUTO_INCREMENT PRIMARY KEY, n INT, s VARCHAR(10) UNIQUE)", "INSERT INTO {t} VALUES (1, 1, 'a'), (2, 2, 'b')")
	e.expect(t, refused, "AUTO_INCREMENT", []string{ai}, "INSERT IGNORE INTO "+ai+" (id, n, s) VALUES (0, 5, 'z')")
	e.expect(t, refused, "AUTO_INCREMENT", []string{ai}, "INSERT INTO "+ai+" (id, n, s) VALUES (0, 5, 'z')")
	e.expect(t, undone, "", []string{ai}, "REPLACE INTO "+ai+" (id, n, s) VALUES (NULL, 5, 'z'), (NULL, 6, 'b')")
	tb := e.table("at_rg3", kv, kvSeed)
	e.expect(t, refused, "integer key column", []string{tb}, "INSERT IGNORE INTO "+tb+" (id, n, s) VALUES (3000000000, 5, 'zz')")
	e.expect(t, refused, "integer key column", []string{tb}, "INSERT INTO "+tb+" (id, n, s) VALUES (1 + 0.6, 5, 'zz') ON DUPLICATE KEY UPDATE n = n + 1")
	// A float argument halfway between two integers: a double (binary
	// protocol) rounds to even, decimal text (interpolated) away from zero.
	e.expectArgs(t, refused, "integer key column", []string{tb}, s("INSERT INTO "+tb+" (id, n, s) VALUES (?, 5, 'zz') ON DUPLICATE KEY UPDATE n = n + 1", 2.5))
	// Looked up as stored (see TestStoredKeys): 1.6 is key 2, 1.24 is 1.2.
	e.expect(t, undone, "", []string{tb}, "INSERT INTO "+tb+" (id, n, s) VALUES (1.6, 5, 'zz') ON DUPLICATE KEY UPDATE n = n + 1")
	dt := e.table("at_rg3d", "CREATE TABLE {t} (id INT PRIMARY KEY, n INT, d DECIMAL(5,1) UNIQUE)", "INSERT INTO {t} VALUES (1, 1, 1.2)")
	e.expect(t, undone, "", []string{dt}, "INSERT INTO "+dt+" (id, n, d) VALUES (9, 1, 1.24) ON DUPLICATE KEY UPDATE n = n + 100")
}

// Item: ON DUPLICATE KEY UPDATE assigning a key column left both rows at
// rollback.
func TestODKUAssigningKeyRefused(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_rg4", kv, kvSeed)
	e.expect(t, refused, "primary-key column", []string{tb}, "INSERT INTO "+tb+" (id, n, s) VALUES (2, 0, 'zz') ON DUPLICATE KEY UPDATE id = 100")
	e.expect(t, refused, "unique key", []string{tb}, "INSERT INTO "+tb+" (id, n, s) VALUES (2, 0, 'zz') ON DUPLICATE KEY UPDATE s = 'q'")
}

// Item: an after image read without a lock returned the local
// transaction's snapshot, not the current row: a false dirty write.
func TestAfterImageReadsCurrentRow(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_rg13", kv, kvSeed)
	xid, err := e.global(func(ctx context.Context) error {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT n FROM "+tb+" WHERE id = 1").Scan(&n); err != nil { // the snapshot
			return err
		}
		if _, err := e.plain.ExecContext(ctx, "UPDATE "+tb+" SET n = 99 WHERE id = 1"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT IGNORE INTO "+tb+" (id, n, s) VALUES (1, 5, 'a'), (7, 70, 'g')"); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if st := e.wait(xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed); st != txc.GlobalRollbacked {
		t.Fatalf("transaction ended %v", st)
	}
	var n, c int
	e.plain.QueryRow("SELECT n FROM " + tb + " WHERE id = 1").Scan(&n)
	e.plain.QueryRow("SELECT COUNT(*) FROM " + tb).Scan(&c)
	if n != 99 || c != 4 {
		t.Fatalf("n = %d, %d rows; want 99 and 4", n, c)
	}
}

// Item: cascading foreign keys and triggers write rows no image holds;
// a rollback re-fired them. The rows the foreign keys write are now
// imaged for a DELETE or UPDATE (see datasource.ImageCascades), not for a
// REPLACE.
func TestCascadesAndTriggersRefused(t *testing.T) {
	e := newEnv(t, "")
	parent := e.table("at_rg5p", "CREATE TABLE {t} (id INT PRIMARY KEY, n INT) ENGINE=InnoDB", "INSERT INTO {t} VALUES (1, 1), (2, 2)")
	child := e.table("at_rg5c", "CREATE TABLE {t} (id INT PRIMARY KEY, pid INT, CONSTRAINT {t}_fk FOREIGN KEY (pid) REFERENCES "+parent+" (id) ON DELETE CASCADE ON UPDATE CASCADE) ENGINE=InnoDB",
		"INSERT INTO {t} VALUES (10, 1), (11, 1), (12, 2)")
	t.Cleanup(func() { e.plain.Exec("DROP TABLE IF EXISTS " + child) })
	both := []string{parent, child}
	e.expect(t, undone, "", both, "DELETE FROM "+parent+" WHERE id = 1")
	e.expect(t, undone, "", both, "UPDATE "+parent+" SET id = 5 WHERE id = 1")
	e.expect(t, refused, "ON DELETE CASCADE, which the rows a REPLACE deletes would set off", both, "REPLACE INTO "+parent+" (id, n) VALUES (2, 3)")
	e.expect(t, refused, "ON UPDATE CASCADE, which the upsert would set off", both, "INSERT INTO "+parent+" (id, n) VALUES (2, 3) ON DUPLICATE KEY UPDATE id = 9")
	// A column no foreign key references can change; the child itself too.
	e.expect(t, undone, "", both, "UPDATE "+parent+" SET n = 7 WHERE id = 1", "DELETE FROM "+child+" WHERE id = 12", "UPDATE "+child+" SET pid = 2 WHERE id = 10")

	tb := e.table("at_rg5t", kv, kvSeed)
	counter := e.table("at_rg5n", "CREATE TABLE {t} (id INT PRIMARY KEY, hits INT)", "INSERT INTO {t} VALUES (1, 0)")
	if _, err := e.plain.Exec("CREATE TRIGGER " + tb + "_trg AFTER UPDATE ON " + tb + " FOR EACH ROW UPDATE " + counter + " SET hits = hits + 1"); err != nil {
		t.Fatal(err)
	}
	e.expect(t, refused, "trigger "+tb+"_trg", []string{tb, counter}, "UPDATE "+tb+" SET n = n + 1 WHERE id = 1")
	e.expect(t, refused, "trigger", []string{tb, counter}, "INSERT INTO "+tb+" (id, n, s) VALUES (9, 9, 'z')")
}

// Item: the rollback restores rows with foreign-key checks off, so the
// order of re-inserted rows cannot fail.
func TestRollbackIgnoresForeignKeyOrder(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_rg5s", "CREATE TABLE {t} (id INT PRIMARY KEY, parent INT NULL, CONSTRAINT {t}_fk FOREIGN KEY (parent) REFERENCES {t} (id)) ENGINE=InnoDB",
		"INSERT INTO {t} VALUES (1, NULL), (2, 1), (3, 2)")
	e.expect(t, undone, "", []string{tb}, "DELETE FROM "+tb+" WHERE id >= 1 ORDER BY id DESC")
}

// Item: rows chosen non-deterministically (RAND, NOW, an ORDER BY that is
// not total under LIMIT): the imaged rows were not the written rows.
func TestNondeterministicRowChoiceRefused(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_rg6", "CREATE TABLE {t} (id INT PRIMARY KEY, n INT, ts DATETIME(6))",
		"INSERT INTO {t} VALUES (1, 1, '2020-01-01'), (2, 1, '2020-01-02'), (3, 1, '2999-01-01'), (4, 2, '2020-01-03')")
	for _, c := range []struct{ q, reason string }{
		{"UPDATE " + tb + " SET n = n + 1 ORDER BY RAND() LIMIT 1", "function RAND"},
		{"UPDATE " + tb + " SET n = n + 1 WHERE RAND() < 0.5", "function RAND"},
		{"DELETE FROM " + tb + " ORDER BY RAND() LIMIT 1", "function RAND"},
		{"UPDATE " + tb + " SET n = 0 WHERE ts < NOW(6)", "function NOW"},
		{"DELETE FROM " + tb + " WHERE ts < CURRENT_TIMESTAMP", "function CURRENT_TIMESTAMP"},
		{"UPDATE " + tb + " SET n = 0 WHERE id = @@last_insert_id", "system variable"},
		{"UPDATE " + tb + " SET n = 0 WHERE id = (@v := 1)", "assignment"},
		{"UPDATE " + tb + " SET n = n + 1 ORDER BY n LIMIT 1", "LIMIT without an ORDER BY"},
		{"DELETE FROM " + tb + " WHERE n = 1 LIMIT 1", "LIMIT without an ORDER BY"},
		{"UPDATE " + tb + " SET n = n + 1 ORDER BY id, n LIMIT 1", "LIMIT without an ORDER BY"},
	} {
		e.expect(t, refused, c.reason, []string{tb}, c.q)
	}
	e.expect(t, undone, "", []string{tb}, "UPDATE "+tb+" SET n = n + 1 ORDER BY n DESC, id LIMIT 2", "DELETE FROM "+tb+" WHERE ts < DATE_ADD('2020-01-01', INTERVAL 1 DAY) ORDER BY n, "+tb+".id LIMIT 1")
}

// Item: a subquery in an UPDATE or DELETE reads a snapshot in the image
// but current rows in the statement. In the WHERE of a single-table
// statement it runs keyed (see keyed.go: the statement is narrowed to
// the rows the image locked) and is undone; in a SET value or a derived
// table it is refused.
func TestSubqueryInWriteRefused(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_rg7", kv, kvSeed)
	other := e.table("at_rg7o", kv, kvSeed)
	for _, q := range []string{
		"UPDATE " + tb + " SET n = (SELECT MAX(n) FROM " + other + ") WHERE id = 1",
		"UPDATE " + tb + " a JOIN (SELECT id FROM " + other + ") b ON a.id = b.id SET a.n = 0",
	} {
		e.expect(t, refused, "subquery", []string{tb, other}, q)
	}
	e.expect(t, undone, "", []string{tb, other},
		"UPDATE "+tb+" SET n = n + 1 WHERE id IN (SELECT id FROM "+other+" WHERE n > 15)",
		"DELETE FROM "+tb+" WHERE EXISTS (SELECT 1 FROM "+other+" o WHERE o.id = "+tb+".id)")
}

// The affected-rows checks agree with the images when the DSN counts
// matched rows (clientFoundRows=true) and when it counts changed rows.
func TestAffectedRowsModes(t *testing.T) {
	for _, params := range []string{"", "clientFoundRows=true"} {
		t.Run(params, func(t *testing.T) {
			e := newEnv(t, params)
			tb := e.table("at_rgfr", kv, kvSeed)
			e.expect(t, undone, "", []string{tb},
				"UPDATE "+tb+" SET n = 20 WHERE id IN (1, 2)",
				"INSERT INTO "+tb+" (id, n, s) VALUES (2, 20, 'b'), (3, 0, 'c'), (7, 7, 'g') ON DUPLICATE KEY UPDATE n = VALUES(n)",
				"UPDATE "+tb+" a JOIN "+tb+" b ON b.id = a.id + 1 SET a.n = 5")
		})
	}
}

// Item: USE changes where images are read. SET time_zone no longer
// changes how: TIMESTAMP images are instants (exactTimestamps), so it
// runs, also between writes of TIMESTAMP values, which restore exactly.
func TestSessionChangesRefused(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_rg9", kv, kvSeed)
	e.expect(t, refused, "USE", []string{tb}, "USE mysql")
	// Other SET statements pass through.
	e.expect(t, undone, "", []string{tb}, "SET @x = 2", "UPDATE "+tb+" SET n = n + @x WHERE id = 1")
	ts := e.table("at_rg9t", tzTable, tzSeed)
	e.expect(t, undone, "", []string{ts},
		"SET time_zone = '+05:00'", "UPDATE "+ts+" SET ts = '2030-01-01 00:00:00', n = n + 1 WHERE id = 1",
		"SET @@session.time_zone = '-07:30'", "DELETE FROM "+ts+" WHERE id = 2", "UPDATE "+ts+" SET n = 7 WHERE id = 1",
		"SET SESSION time_zone = '+00:00', @x = 1", "INSERT INTO "+ts+" VALUES (4, '2025-05-05 05:05:05.5', 4)")
}

// Item: executable comments run on the server but the parser skips them.
func TestExecutableCommentsRefused(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_rg11", kv, kvSeed)
	e.expect(t, refused, "executable comment", []string{tb}, "UPDATE "+tb+" SET n = n + 10 WHERE id = 1 /*M! OR id = 2 */")
	e.expect(t, refused, "executable comment", []string{tb}, "UPDATE "+tb+" SET n = n + 10 WHERE id = 1 /*!100000 OR id = 2 */")
	e.expect(t, undone, "", []string{tb}, "UPDATE "+tb+" /* a plain comment */ SET n = n + 10 WHERE id = 1")
}

// Item: the age sweep deleted the undo log of a branch parked for manual
// action; a retry then found no log and reported the branch rolled back.
func TestSweepKeepsParkedUndoLog(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_rg12", kv, kvSeed)
	xid, err := e.global(func(ctx context.Context) error {
		if _, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = 11 WHERE id = 1"); err != nil {
			return err
		}
		if _, err := e.plain.ExecContext(ctx, "UPDATE "+tb+" SET n = 999 WHERE id = 1"); err != nil { // a dirty write
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbackFailed)
	if _, err := e.plain.Exec("UPDATE txc_undo_log SET created_at = NOW(6) - INTERVAL 30 DAY WHERE xid = ?", string(xid)); err != nil {
		t.Fatal(err)
	}
	ut, err := undo.NewTable(undo.MySQL, "", undo.Codec{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		n, err := ut.DeleteOlderThan(context.Background(), e.plain, 24*time.Hour, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if n < 1000 {
			break
		}
	}
	if n := e.undoRows(xid); n != 1 {
		t.Fatalf("%d undo rows of the parked branch after the sweep, want 1", n)
	}
}

// Item: one table written under two aliases got two undo records for one
// row (a false dirty write at rollback).
func TestTableWrittenTwiceRefused(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_rg14", kv, kvSeed)
	e.expect(t, refused, "two names", []string{tb}, "UPDATE "+tb+" a JOIN "+tb+" b ON b.id = a.id SET a.n = 77, b.s = 'q' WHERE a.id = 1")
	e.expect(t, refused, "two names", []string{tb}, "DELETE a, b FROM "+tb+" a JOIN "+tb+" b ON b.id = a.id + 1")
}

// Item: metadata cached before ALTER TABLE ADD COLUMN left the new column
// out of the images.
func TestAddedColumnReloaded(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_rg8", kv, kvSeed)
	xid, err := e.global(func(ctx context.Context) error {
		_, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = 1 WHERE id = 1") // loads the metadata
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	if _, err := e.plain.Exec("ALTER TABLE " + tb + " ADD COLUMN extra INT NOT NULL DEFAULT 0"); err != nil {
		t.Fatal(err)
	}
	e.expect(t, undone, "", []string{tb}, "UPDATE "+tb+" SET extra = 5, n = 2 WHERE id = 1", "INSERT INTO "+tb+" (id, n, s, extra) VALUES (9, 9, 'z', 9)")
	e.expect(t, refused, "not a column", []string{tb}, "UPDATE "+tb+" SET nosuch = 5 WHERE id = 1")
}

// Item: GORM saves associations with ON DUPLICATE KEY UPDATE `id`=`id`
// (a do-nothing upsert), refused as assigning the primary key. A column
// assigned itself is a no-op and runs, with found rows counted or not;
// any other assignment to a key column, VALUES(c) included (the row met
// on another unique key would take another key), is refused.
func TestODKUSelfAssignment(t *testing.T) {
	for _, params := range []string{"", "clientFoundRows=true"} {
		t.Run(params, func(t *testing.T) {
			e := newEnv(t, params)
			tb := e.table("at_rgself", kv, kvSeed)
			for _, set := range []string{"id = id", "`id`=`id`", tb + ".id = " + tb + ".id", "id = (" + tb + ".id)", "s = s, id = id", "ID = Id, n = n + 1"} {
				e.expect(t, undone, "", []string{tb}, "INSERT INTO "+tb+" (id, n, s) VALUES (1, 99, 'zz'), (9, 9, 'z9'), (8, 8, 'b') ON DUPLICATE KEY UPDATE "+set)
			}
			e.expectArgs(t, undone, "", []string{tb}, s("INSERT INTO test."+tb+" (id, n, s) VALUES (?, ?, ?), (?, ?, ?) ON DUPLICATE KEY UPDATE test."+tb+".id = id", 2, 0, "b", 7, 7, "g"))
			comp := e.table("at_rgselfc", composite, "INSERT INTO {t} VALUES (1, 'x', 1), (2, 'y', 2)")
			e.expect(t, undone, "", []string{comp}, "INSERT INTO "+comp+" (a, b, n) VALUES (1, 'x', 5), (1, 'y', 6) ON DUPLICATE KEY UPDATE a = a")
			// VALUES(c) into a primary-key column is a no-op only where the
			// primary key is the table's one unique key and compares exactly.
			pk := e.table("at_rgselfv", "CREATE TABLE {t} (id INT PRIMARY KEY, d DECIMAL(5,1), n INT)", "INSERT INTO {t} VALUES (1, 1.0, 1), (2, 2.0, 2)")
			e.expect(t, undone, "", []string{pk}, "INSERT INTO "+pk+" (id, d, n) VALUES (1, 5, 5), (1.6, 6, 6), (3, 3, 3) ON DUPLICATE KEY UPDATE id = VALUES(id), n = VALUES(n), d = d + 1")
			e.expect(t, undone, "", []string{comp}, "INSERT INTO "+comp+" (a, b, n) VALUES (1, 'x', 5), (3, 'z', 6) ON DUPLICATE KEY UPDATE a = VALUES(a), n = VALUES(n)")
			e.expect(t, refused, "primary-key column \"b\"", []string{comp}, "INSERT INTO "+comp+" (a, b, n) VALUES (1, 'X', 5) ON DUPLICATE KEY UPDATE b = VALUES(b)")
			for _, c := range []struct{ set, reason string }{
				{"id = VALUES(id)", "primary-key column"},
				{"id = id + 0", "primary-key column"},
				{"id = n", "primary-key column"},
				{"n = n, s = VALUES(s)", "unique key"},
				{"s = id", "unique key"},
			} {
				e.expect(t, refused, c.reason, []string{tb}, "INSERT INTO "+tb+" (id, n, s) VALUES (1, 99, 'zz') ON DUPLICATE KEY UPDATE "+c.set)
			}
		})
	}
}
