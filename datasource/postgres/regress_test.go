package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tm"
)

// Regression tests of bugs found in review, each against the real
// PostgreSQL.

// finish waits until xid is finished (or parked) and returns its status.
func (e *env) finish(xid txc.XID) txc.GlobalStatus {
	e.t.Helper()
	return e.wait(xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed, txc.GlobalCommitted, txc.GlobalTimeoutRollbacked)
}

// value returns the text of a one-value query on the plain database.
func (e *env) value(q string) string {
	e.t.Helper()
	var s sql.NullString
	if err := e.plain.QueryRow(q).Scan(&s); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return s.String
}

// newSchema creates a schema dropped at the end of the test.
func (e *env) newSchema(prefix string) string {
	e.t.Helper()
	s := dbtest.Name(prefix)
	e.exec("CREATE SCHEMA " + s)
	e.t.Cleanup(func() { e.plain.Exec("DROP SCHEMA IF EXISTS " + s + " CASCADE") })
	return s
}

// rollbackOne runs stmts in one global transaction on db and rolls it
// back; it returns the first statement error (nil if all ran) and the
// final status.
func (e *env) rollbackOne(db *sql.DB, stmts ...string) (error, txc.GlobalStatus) {
	e.t.Helper()
	var stmtErr error
	xid, _ := e.global(func(ctx context.Context) error {
		for _, q := range stmts {
			if _, err := db.ExecContext(ctx, q); err != nil {
				stmtErr = err
				return err
			}
		}
		return errRollback
	})
	return stmtErr, e.finish(xid)
}

func wantRefused(t *testing.T, err error, reason string) {
	t.Helper()
	if !errors.Is(err, txc.ErrUnsupported) || !errors.Is(err, txc.ErrRefused) || !strings.Contains(err.Error(), reason) {
		t.Fatalf("err = %v, want a refusal before running (ErrUnsupported, ErrRefused) naming %q", err, reason)
	}
}

// wantRanAndFailed checks that err is a statement that ran and then
// could not be imaged: ErrUnsupported but not ErrRefused, naming reason.
func wantRanAndFailed(t *testing.T, err error, reason string) {
	t.Helper()
	if !errors.Is(err, txc.ErrUnsupported) || errors.Is(err, txc.ErrRefused) || !strings.Contains(err.Error(), reason) {
		t.Fatalf("err = %v, want a failure after running (ErrUnsupported without ErrRefused) naming %q", err, reason)
	}
}

// TestSearchPathPerConnection: an unqualified name means the table the
// connection's search_path finds, which may change between transactions
// and inside one; images, locks and the write all use that table.
func TestSearchPathPerConnection(t *testing.T) {
	e := newEnv(t)
	s1, s2 := e.newSchema("sp1"), e.newSchema("sp2")
	for _, s := range []string{s1, s2} {
		e.exec("CREATE TABLE "+s+".acct (id int PRIMARY KEY, n int)", "INSERT INTO "+s+".acct VALUES (1, 100)")
	}
	db := e.open("")
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("SET search_path TO " + s1 + ", public"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.global(func(ctx context.Context) error {
		_, err := db.ExecContext(ctx, "UPDATE acct SET n = n + 1 WHERE id = 1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("SET search_path TO " + s2 + ", public"); err != nil {
		t.Fatal(err)
	}
	if err, st := e.rollbackOne(db, "UPDATE acct SET n = 999 WHERE id = 1", "DELETE FROM acct WHERE id = 1", "INSERT INTO acct VALUES (1, 7)"); err != nil || st != txc.GlobalRollbacked {
		t.Fatalf("err %v, status %v", err, st)
	}
	if a, b := e.value("SELECT n FROM "+s1+".acct"), e.value("SELECT n FROM "+s2+".acct"); a != "101" || b != "100" {
		t.Fatalf("%s.acct n = %s (want 101), %s.acct n = %s (want 100)", s1, a, s2, b)
	}
	// Inside one local transaction, through the proxy.
	xid, err := e.global(func(ctx context.Context) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for _, q := range []string{"UPDATE acct SET n = 5 WHERE id = 1", "SET LOCAL search_path TO " + s1 + ", public", "UPDATE acct SET n = 6 WHERE id = 1"} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		if a, b := e.value("SELECT n FROM "+s1+".acct"), e.value("SELECT n FROM "+s2+".acct"); a != "6" || b != "5" {
			t.Errorf("phase 1: %s.acct n = %s (want 6), %s.acct n = %s (want 5)", s1, a, s2, b)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) || e.finish(xid) != txc.GlobalRollbacked {
		t.Fatalf("err %v", err)
	}
	if a, b := e.value("SELECT n FROM "+s1+".acct"), e.value("SELECT n FROM "+s2+".acct"); a != "101" || b != "100" {
		t.Fatalf("after rollback: %s.acct n = %s (want 101), %s.acct n = %s (want 100)", s1, a, s2, b)
	}
}

// TestInheritanceParentRefused: a table with inheritance children is
// refused (its statements reach the children's rows); its children and
// partitioned tables are not.
func TestInheritanceParentRefused(t *testing.T) {
	e := newEnv(t)
	par := e.table("inh_par", "CREATE TABLE {t} (id int PRIMARY KEY, n int)", "INSERT INTO {t} VALUES (1, 10)")
	ch := e.table("inh_ch", "CREATE TABLE {t} (PRIMARY KEY (id)) INHERITS ("+par+")", "INSERT INTO {t} VALUES (1, 77), (2, 20)")
	before := e.dump("ONLY "+par) + e.dump(ch)
	for _, q := range []string{"DELETE FROM " + par + " WHERE id = 2", "UPDATE ONLY " + par + " SET n = 11 WHERE id = 1", "UPDATE " + par + " SET n = n + 1", "INSERT INTO " + par + " VALUES (3, 3)"} {
		err, _ := e.rollbackOne(e.db, q)
		wantRefused(t, err, "inheritance children")
	}
	if got := e.dump("ONLY "+par) + e.dump(ch); got != before {
		t.Fatalf("changed:\n%s", got)
	}
	if err, st := e.rollbackOne(e.db, "UPDATE "+ch+" SET n = 0"); err != nil || st != txc.GlobalRollbacked {
		t.Fatalf("child: %v %v", err, st)
	}
	if got := e.dump("ONLY "+par) + e.dump(ch); got != before {
		t.Fatalf("child not restored:\n%s", got)
	}
}

// TestPartitionHazards: triggers and rules on one partition are refused
// like those on the partitioned table; the rows a foreign key referencing
// one partition writes are imaged like those of a key referencing the
// partitioned table.
func TestPartitionHazards(t *testing.T) {
	e := newEnv(t)
	audit := e.table("ph_aud", "CREATE TABLE {t} (id serial PRIMARY KEY, msg text)")
	p := e.table("ph_p", "CREATE TABLE {t} (id int PRIMARY KEY, n int) PARTITION BY RANGE (id)")
	p1 := e.table("ph_p1", "CREATE TABLE {t} PARTITION OF "+p+" FOR VALUES FROM (0) TO (100)", "INSERT INTO "+p+" VALUES (1, 10)")
	e.exec("CREATE FUNCTION "+p1+"_f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO "+audit+"(msg) VALUES ('x'); RETURN NEW; END$$",
		"CREATE TRIGGER "+p1+"_t AFTER UPDATE ON "+p1+" FOR EACH ROW EXECUTE FUNCTION "+p1+"_f()")
	t.Cleanup(func() { e.plain.Exec("DROP FUNCTION IF EXISTS " + p1 + "_f() CASCADE") })
	err, _ := e.rollbackOne(e.db, "UPDATE "+p+" SET n = 11 WHERE id = 1")
	wantRefused(t, err, "triggers")
	if got := e.dump(audit); got != "" {
		t.Fatalf("the partition's trigger ran: %q", got)
	}
	// A foreign key referencing one partition, cascading on delete.
	q := e.table("ph_q", "CREATE TABLE {t} (id int PRIMARY KEY, n int) PARTITION BY RANGE (id)")
	q1 := e.table("ph_q1", "CREATE TABLE {t} PARTITION OF "+q+" FOR VALUES FROM (0) TO (100)", "INSERT INTO "+q+" VALUES (1, 10)")
	ch := e.table("ph_ch", "CREATE TABLE {t} (id int PRIMARY KEY, p int REFERENCES "+q1+" (id) ON DELETE CASCADE)", "INSERT INTO {t} VALUES (1, 1)")
	if err, st := e.rollbackOne(e.db, "DELETE FROM "+q+" WHERE id = 1"); err != nil || st != txc.GlobalRollbacked {
		t.Fatal(err, st)
	}
	if got := e.dump(q) + e.dump(ch); got != "(1,10)\n(1,1)\n" {
		t.Fatalf("partitioned table and child: %q", got)
	}
}

// TestMetadataRevalidated: metadata cached before DDL is found out of
// date by the next local transaction (a column added, a cascading
// foreign key created), not used.
func TestMetadataRevalidated(t *testing.T) {
	e := newEnv(t)
	tb := e.table("mr", kv, kvSeed)
	if err, st := e.rollbackOne(e.db, "DELETE FROM "+tb+" WHERE id = 4"); err != nil || st != txc.GlobalRollbacked {
		t.Fatal(err, st)
	}
	e.exec("ALTER TABLE "+tb+" ADD COLUMN note text", "UPDATE "+tb+" SET note = 'precious'")
	before := e.dump(tb)
	if err, st := e.rollbackOne(e.db, "DELETE FROM "+tb+" WHERE id = 1"); err != nil || st != txc.GlobalRollbacked {
		t.Fatal(err, st)
	}
	if got := e.dump(tb); got != before {
		t.Fatalf("before:\n%s\nafter:\n%s", before, got)
	}
	ch := e.table("mr_ch", "CREATE TABLE {t} (id int PRIMARY KEY, p int REFERENCES "+tb+" (id) ON DELETE CASCADE)", "INSERT INTO {t} VALUES (1, 1)")
	if err, st := e.rollbackOne(e.db, "DELETE FROM "+tb+" WHERE id = 1"); err != nil || st != txc.GlobalRollbacked {
		t.Fatal(err, st)
	}
	if got := e.dump(ch); got != "(1,1)\n" {
		t.Fatalf("child: %q", got)
	}
}

// TestUndoTableQualified: the undo log goes to the undo table phase 2
// reads, whatever the search_path of the connection that wrote it (here
// one naming a schema with a txc_undo_log of its own, and one without
// public).
func TestUndoTableQualified(t *testing.T) {
	e := newEnv(t)
	s2 := e.newSchema("ut")
	e.exec("CREATE TABLE " + s2 + ".txc_undo_log (LIKE public.txc_undo_log INCLUDING ALL)")
	tb := e.table("ut_t", kv, kvSeed)
	before := e.dump(tb)
	db := e.open("")
	db.SetMaxOpenConns(1)
	for _, path := range []string{s2 + ", public", s2} {
		if _, err := db.Exec("SET search_path TO " + path); err != nil {
			t.Fatal(err)
		}
		if err, st := e.rollbackOne(db, "UPDATE public."+tb+" SET n = 999 WHERE id = 1"); err != nil || st != txc.GlobalRollbacked {
			t.Fatalf("search_path %s: %v %v", path, err, st)
		}
		if got := e.dump(tb); got != before {
			t.Fatalf("search_path %s: not restored:\n%s", path, got)
		}
		if n := e.value("SELECT count(*) FROM " + s2 + ".txc_undo_log"); n != "0" {
			t.Fatalf("%s undo rows in %s.txc_undo_log", n, s2)
		}
	}
}

// TestUpsertCascadeRefused: ON CONFLICT DO UPDATE assigning a unique
// column that a cascading foreign key references is refused like UPDATE.
func TestUpsertCascadeRefused(t *testing.T) {
	e := newEnv(t)
	par := e.table("uc_p", "CREATE TABLE {t} (id int PRIMARY KEY, code text UNIQUE)", "INSERT INTO {t} VALUES (1, 'a')")
	ch := e.table("uc_c", "CREATE TABLE {t} (id int PRIMARY KEY, code text REFERENCES "+par+" (code) ON UPDATE SET NULL)", "INSERT INTO {t} VALUES (1, 'a')")
	err, _ := e.rollbackOne(e.db, "INSERT INTO "+par+" VALUES (1, 'b') ON CONFLICT (id) DO UPDATE SET code = EXCLUDED.code")
	wantRefused(t, err, "which the upsert would set off")
	if got := e.dump(par) + e.dump(ch); got != "(1,a)\n(1,a)\n" {
		t.Fatalf("changed: %q", got)
	}
}

// TestCopyOfWriteRefused: COPY (a data-modifying query) TO is refused;
// COPY of a table or a read passes.
func TestCopyOfWriteRefused(t *testing.T) {
	e := newEnv(t)
	tb := e.table("cw", kv, kvSeed)
	before := e.dump(tb)
	for _, q := range []string{"COPY (DELETE FROM " + tb + " WHERE id = 1 RETURNING id) TO STDOUT", "COPY (UPDATE " + tb + " SET n = 0 RETURNING id) TO STDOUT",
		"COPY (INSERT INTO " + tb + " VALUES (50, 1, 'x') RETURNING id) TO STDOUT", "COPY (SELECT id FROM " + tb + " FOR UPDATE) TO STDOUT"} {
		err, _ := e.rollbackOne(e.db, q)
		wantRefused(t, err, "COPY")
	}
	if got := e.dump(tb); got != before {
		t.Fatalf("changed:\n%s", got)
	}
}

// refusedSettings are session settings under which AT writes are
// refused, and the reason the refusal names.
var refusedSettings = []struct{ set, reason string }{
	{"SET standard_conforming_strings = off", "standard_conforming_strings"},
	{"SET DateStyle = 'SQL, DMY'", "DateStyle"},
	{"SET IntervalStyle = 'sql_standard'", "IntervalStyle"},
	{"SET extra_float_digits = 0", "extra_float_digits"},
	{"SET client_encoding = 'LATIN1'", "client_encoding"},
	{"SET NAMES 'WIN1252'", "client_encoding"},
	{"SET bytea_output = escape", "bytea_output"},
}

// TestSessionSettingsRefused: a session whose settings would change what
// the rebuilt statement writes or how images read back is refused, also
// when set inside the local transaction.
func TestSessionSettingsRefused(t *testing.T) {
	e := newEnv(t)
	tb := e.table("ss", kv, kvSeed)
	before := e.dump(tb)
	for _, c := range refusedSettings {
		db := e.open("")
		db.SetMaxOpenConns(1)
		if _, err := db.Exec(c.set); err != nil {
			t.Fatal(err)
		}
		err, _ := e.rollbackOne(db, `UPDATE `+tb+` SET s = 'x\\y' WHERE id = 1`)
		wantRefused(t, err, c.reason)
		if _, err := db.Exec("RESET ALL"); err != nil {
			t.Fatal(err)
		}
		// Set inside the local transaction, after the table was checked.
		err, _ = e.rollbackOne(db, "UPDATE "+tb+" SET n = 1 WHERE id = 1", c.set, "UPDATE "+tb+" SET n = 2 WHERE id = 1")
		wantRefused(t, err, c.reason)
	}
	if got := e.dump(tb); got != before {
		t.Fatalf("changed:\n%s", got)
	}
	money := e.table("ss_m", "CREATE TABLE {t} (id int PRIMARY KEY, m money)", "INSERT INTO {t} VALUES (1, 12.34)")
	err, _ := e.rollbackOne(e.db, "DELETE FROM "+money)
	wantRefused(t, err, "money")
}

// TestSettingChangedInLocalTxRefused: a setting changed between two
// writes of one local transaction refuses the second write: the table
// probe the first write kept is dropped by the SET, and the next write
// reads the session again.
func TestSettingChangedInLocalTxRefused(t *testing.T) {
	e := newEnv(t)
	tb := e.table("ss_tx", kv, kvSeed)
	before := e.dump(tb)
	for _, c := range refusedSettings {
		xid, err := e.global(func(ctx context.Context) error {
			tx, err := e.db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			for _, q := range []string{"UPDATE " + tb + " SET n = 1 WHERE id = 1", strings.Replace(c.set, "SET", "SET LOCAL", 1), "UPDATE " + tb + " SET n = 2 WHERE id = 1"} {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			return tx.Commit()
		})
		wantRefused(t, err, c.reason)
		e.finish(xid)
	}
	if got := e.dump(tb); got != before {
		t.Fatalf("changed:\n%s", got)
	}
}

// TestCompositeRestoredExactly: a composite column of date, float8 and
// interval is restored exactly (images read under ISO DateStyle,
// postgres IntervalStyle and exact floats, and written back under them).
func TestCompositeRestoredExactly(t *testing.T) {
	e := newEnv(t)
	typ := dbtest.Name("ct")
	e.exec("CREATE TYPE " + typ + " AS (d date, f float8, i interval)")
	t.Cleanup(func() { e.plain.Exec("DROP TYPE IF EXISTS " + typ + " CASCADE") })
	tb := e.table("ct", "CREATE TABLE {t} (id int PRIMARY KEY, c "+typ+", a float8[])",
		"INSERT INTO {t} VALUES (1, ROW('2024-04-03', 0.1::float8 + 0.2::float8, '-1 day 02:03:04')::"+typ+", ARRAY[0.1::float8 + 0.2::float8])")
	before := e.dump(tb)
	if err, st := e.rollbackOne(e.db, "DELETE FROM "+tb+" WHERE id = 1"); err != nil || st != txc.GlobalRollbacked {
		t.Fatal(err, st)
	}
	if got := e.dump(tb); got != before {
		t.Fatalf("before %s after %s", before, got)
	}
}

// holdRow starts a global transaction that updates row id of tb and
// waits; release rolls it back and waits for the end.
func (e *env) holdRow(tb string, id int) (release func()) {
	hold, ready, done := make(chan struct{}), make(chan error, 1), make(chan struct{})
	go func() {
		defer close(done)
		xid, _ := e.global(func(ctx context.Context) error {
			_, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = 99 WHERE id = $1", id)
			ready <- err
			if err != nil {
				return err
			}
			<-hold
			return errRollback
		})
		e.wait(xid, txc.GlobalRollbacked)
	}()
	if err := <-ready; err != nil {
		e.t.Fatal(err)
	}
	return func() { close(hold); <-done }
}

// TestGlobalLockKeyChange: under tm.WithGlobalLock, an UPDATE that moves
// a row held by a global transaction to a new key waits for (and here
// fails on) the old key's global lock before it runs.
func TestGlobalLockKeyChange(t *testing.T) {
	e := newEnv(t)
	tb := e.table("gk", kv, kvSeed)
	release := e.holdRow(tb, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := tm.WithGlobalLock(ctx, func(ctx context.Context) error {
		_, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET id = 100 WHERE id = 1")
		return err
	})
	if !errors.Is(err, txc.ErrLockConflict) {
		t.Fatalf("err = %v, want a lock conflict", err)
	}
	release()
	if got := e.value("SELECT count(*) FROM " + tb + " WHERE id = 1 AND n = 10"); got != "1" {
		t.Fatalf("row 1 moved or not restored:\n%s", e.dump(tb))
	}
}

// TestFailedImagesNeverCommit: a write that ran but whose images failed
// (here: its global-lock check) marks its local transaction failed in the
// proxy, whatever the server says: Commit returns that error.
func TestFailedImagesNeverCommit(t *testing.T) {
	e := newEnv(t)
	tb := e.table("fc", kv, kvSeed)
	release := e.holdRow(tb, 1)
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var commitErr error
	tm.WithGlobalLock(ctx, func(ctx context.Context) error {
		// Only the write waits for the deadline: database/sql rolls back a
		// transaction whose own context ended, which would race the
		// proxy's Commit.
		tx, err := e.db.BeginTx(context.WithoutCancel(ctx), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+tb+" SET s = 'w' WHERE id = 1"); err == nil {
			t.Error("the write under a held global lock succeeded")
		}
		commitErr = tx.Commit()
		return nil
	})
	if commitErr == nil || !strings.Contains(commitErr.Error(), "undo images failed") {
		t.Fatalf("commit: %v, want the proxy's failure", commitErr)
	}
}

// TestPartitionedUpsert: ON CONFLICT DO UPDATE on a partitioned table
// (no xmax in its RETURNING) tells inserted from updated rows and rolls
// back exactly.
func TestPartitionedUpsert(t *testing.T) {
	e := newEnv(t)
	p := e.table("pu", "CREATE TABLE {t} (id int, k int, n int, PRIMARY KEY (id, k)) PARTITION BY LIST (k)")
	e.table("pu1", "CREATE TABLE {t} PARTITION OF "+p+" FOR VALUES IN (1)")
	e.table("pu2", "CREATE TABLE {t} PARTITION OF "+p+" FOR VALUES IN (2)", "INSERT INTO "+p+" VALUES (1, 1, 10), (2, 2, 20)")
	before := e.dump(p)
	if err, st := e.rollbackOne(e.db, "INSERT INTO "+p+" VALUES (2, 2, 0), (3, 1, 0) ON CONFLICT (id, k) DO UPDATE SET n = 99",
		"UPDATE "+p+" SET k = 2 WHERE id = 1"); err != nil || st != txc.GlobalRollbacked {
		t.Fatal(err, st)
	}
	if got := e.dump(p); got != before {
		t.Fatalf("before:\n%s\nafter:\n%s", before, got)
	}
}

// TestEveryReferentialAction: a write that makes PostgreSQL change other
// tables' rows through a foreign key action (CASCADE, SET NULL, SET
// DEFAULT, on delete and on update of the referenced column) is imaged
// with those rows and undone exactly, but for an ON UPDATE CASCADE on a
// key that is not DEFERRABLE, refused before it runs (its rollback could
// not point the rows back at the old key); NO ACTION and RESTRICT are
// not actions and pass.
func TestEveryReferentialAction(t *testing.T) {
	e := newEnv(t)
	for i, c := range []struct {
		action, stmt string
		refused      string // "": undone
	}{
		{"ON DELETE CASCADE", "DELETE FROM {p} WHERE id = 1", ""},
		{"ON DELETE SET NULL", "DELETE FROM {p} WHERE id = 1", ""},
		{"ON DELETE SET DEFAULT", "DELETE FROM {p} WHERE id = 1", ""},
		{"ON DELETE SET NULL (p)", "DELETE FROM {p} WHERE id = 1", ""},
		{"ON UPDATE CASCADE", "UPDATE {p} SET id = 7 WHERE id = 1", "not DEFERRABLE"},
		{"ON UPDATE CASCADE DEFERRABLE", "UPDATE {p} SET id = 7 WHERE id = 1", ""},
		{"ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED", "UPDATE {p} SET id = 7 WHERE id = 1", ""},
		{"ON UPDATE SET NULL", "UPDATE {p} SET id = 7 WHERE id = 1", ""},
		{"ON UPDATE SET DEFAULT", "UPDATE {p} SET id = 7 WHERE id = 1", ""},
		{"ON DELETE RESTRICT", "DELETE FROM {p} WHERE id = 3", ""},
		{"ON DELETE NO ACTION", "DELETE FROM {p} WHERE id = 3", ""},
	} {
		p := e.table(fmt.Sprintf("ra_p%d", i), kv, kvSeed)
		ch := e.table(fmt.Sprintf("ra_c%d", i), "CREATE TABLE {t} (id int PRIMARY KEY, p int DEFAULT 2 REFERENCES "+p+" (id) "+c.action+", n int)",
			"INSERT INTO {t} VALUES (1, 1, 1), (2, 1, 2), (3, 2, 3)")
		before, chBefore := e.dump(p), e.dump(ch)
		stmt := strings.ReplaceAll(c.stmt, "{p}", p)
		var changed string
		xid, err := e.global(func(ctx context.Context) error {
			if _, err := e.db.ExecContext(ctx, stmt); err != nil {
				return err
			}
			changed = e.dump(ch)
			return errRollback
		})
		switch {
		case c.refused != "":
			wantRefused(t, err, c.refused)
		case !errors.Is(err, errRollback):
			t.Fatalf("%s: %v", c.action, err)
		case strings.HasPrefix(c.action, "ON") && !strings.Contains(c.action, "NO ACTION") && !strings.Contains(c.action, "RESTRICT") && changed == chBefore:
			t.Fatalf("%s: the child did not change", c.action)
		}
		if st := e.finish(xid); st != txc.GlobalRollbacked {
			t.Fatalf("%s: %v", c.action, st)
		}
		if got := e.dump(p); got != before {
			t.Fatalf("%s: parent before:\n%s\nafter:\n%s", c.action, before, got)
		}
		if got := e.dump(ch); got != chBefore {
			t.Fatalf("%s: child before:\n%s\nafter:\n%s", c.action, chBefore, got)
		}
	}
}

// TestRollbackInUTF8: a rollback reads and writes in UTF8 whatever the
// DSN's client_encoding: an undo log written by a session that set UTF8
// itself is restored exactly by the LATIN1 connections of phase 2.
func TestRollbackInUTF8(t *testing.T) {
	e := newEnv(t)
	tb := e.table("enc", "CREATE TABLE {t} (id int PRIMARY KEY, n int, s text)", "INSERT INTO {t} VALUES (1, 1, 'ü'), (2, 2, 'é')")
	before := e.dump(tb)
	// A resource ID of its own: rollbacks run on the first database open
	// under an ID, which would be e.db (UTF8).
	db := e.open("client_encoding=LATIN1", datasource.WithResourceID("postgres:latin1-"+dbtest.Name("enc")))
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("SET client_encoding = 'UTF8'"); err != nil {
		t.Fatal(err)
	}
	err, st := e.rollbackOne(db, "UPDATE "+tb+" SET n = n + 1, s = 'ß' WHERE id = 1", "DELETE FROM "+tb+" WHERE id = 2")
	if err != nil || st != txc.GlobalRollbacked {
		t.Fatal(err, st)
	}
	if got := e.dump(tb); got != before {
		t.Fatalf("before:\n%s\nafter:\n%s", before, got)
	}
}
