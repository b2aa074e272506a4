package mysql_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/tm"
)

// TestRefusedBeforeRunning: statements AT mode cannot undo fail with
// txc.ErrUnsupported naming reason and statement, and change nothing.
func TestRefusedBeforeRunning(t *testing.T) {
	e := newEnv(t, "")
	nopk := e.table("at_nopk", "CREATE TABLE {t} (a INT, b INT)", "INSERT INTO {t} VALUES (1, 1)")
	kvt := e.table("at_ref", kv, kvSeed)
	created := strings.Replace(kvt, "at_ref", "at_refx", 1)
	t.Cleanup(func() { e.plain.Exec("DROP TABLE IF EXISTS " + created) })
	before, beforeNoPK := e.dump(kvt), e.dump(nopk)
	for _, c := range []struct{ q, reason string }{
		{"UPDATE " + nopk + " SET b = 2", "no primary key"},
		{"DELETE FROM " + nopk, "no primary key"},
		{"INSERT INTO " + nopk + " VALUES (2, 2)", "no primary key"},
		{"CREATE TABLE " + created + " (id INT PRIMARY KEY)", "DDL"},
		{"DROP TABLE " + kvt, "DDL"},
		{"TRUNCATE TABLE " + kvt, "DDL"},
		{"LOAD DATA INFILE '/tmp/x' INTO TABLE " + kvt, "LOAD DATA"},
		{"UPDATE " + kvt + " SET n = 1; DELETE FROM " + kvt, "2 statements"},
		{"COMMIT", "transaction control"},
		{"CALL p()", "stored procedure"},
		{"INSERT INTO " + kvt + " (id, n, s) VALUES (FLOOR(RAND() * 100), 1, 'zz')", "expression known only after"},
		{"UPDATE " + kvt + " SET id = FLOOR(RAND() * 100) WHERE id = 1", "calls a function"},
		{"UPDATE " + kvt + " SET n = id, id = n WHERE id = 1", "assigned before it"},
		{"HANDLER " + kvt + " OPEN", "does not parse"},
		{"INSERT INTO " + kvt + " (id, n, s) VALUES (2, 0, 'zz') ON DUPLICATE KEY UPDATE id = id + 100", "primary-key column"},
		{"INSERT INTO " + kvt + " (id, n, s) SELECT id + 100 + FLOOR(RAND() * 3), n, s FROM " + kvt, "function RAND"},
		{"INSERT INTO " + kvt + " (id, n, s) SELECT id + 100, n, s FROM " + kvt + " WHERE n > @@sql_auto_is_null", "system variable"},
		{"INSERT INTO " + kvt + " (id, n, s) SELECT id + 100, n, CONCAT(s, 'x') FROM " + kvt + " ORDER BY n LIMIT 2", "LIMIT"},
		{"INSERT INTO " + kvt + " (id, n, s) SELECT id + 100, n, s FROM " + kvt + " WHERE id IN (SELECT id FROM " + kvt + ")", "subquery"},
	} {
		_, err := e.global(func(ctx context.Context) error {
			_, err := e.db.ExecContext(ctx, c.q)
			return err
		})
		if !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), c.reason) || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%s: err = %v, want ErrUnsupported naming %q", c.q, err, c.reason)
		}
	}
	if got := e.dump(kvt); got != before {
		t.Fatalf("table changed:\n%s", got)
	}
	if got := e.dump(nopk); got != beforeNoPK {
		t.Fatalf("table without key changed:\n%s", got)
	}
	var n int
	e.plain.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = ?", created).Scan(&n)
	if n != 0 {
		t.Fatal("the refused CREATE TABLE ran")
	}
	// Outside a global transaction nothing is parsed or refused.
	if _, err := e.db.Exec("UPDATE " + nopk + " SET b = 3"); err != nil {
		t.Fatal(err)
	}
}

// TestSelectForUpdateWaitsForGlobalLock: SELECT … FOR UPDATE in another
// global transaction (or under WithGlobalLock) does not return a row
// another global transaction holds; once that one commits it does.
func TestSelectForUpdateWaitsForGlobalLock(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_sfu", kv, kvSeed)
	release := e.holdLock(e.db, "UPDATE "+tb+" SET n = 12 WHERE id = 1")
	read := func(ctx context.Context) (int, error) {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		defer tx.Rollback()
		var n int
		err = tx.QueryRowContext(ctx, "SELECT n FROM "+tb+" WHERE id = ? FOR UPDATE", 1).Scan(&n)
		return n, err
	}
	_, err := e.global(func(ctx context.Context) error {
		ctx, c := context.WithTimeout(ctx, 300*time.Millisecond)
		defer c()
		_, err := read(ctx)
		return err
	})
	if !errors.Is(err, txc.ErrLockConflict) {
		t.Fatalf("global SELECT FOR UPDATE: %v, want lock conflict", err)
	}
	// A budget of its own: the global read above spent its whole one.
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err = tm.WithGlobalLock(short, func(ctx context.Context) error { _, err := read(ctx); return err })
	cancel()
	if !errors.Is(err, txc.ErrLockConflict) {
		t.Fatalf("global-lock SELECT FOR UPDATE: %v, want lock conflict", err)
	}
	// A plain read (no global transaction, no global lock) is not held.
	if _, err := read(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	var n int
	_, err = e.global(func(ctx context.Context) error { n, err = read(ctx); return err })
	if err != nil || n != 12 {
		t.Fatalf("after commit: n = %d, err %v", n, err)
	}
}

// TestPreparedReusedAcrossTransactions: one db.Prepare serves plain calls
// and calls in two global transactions, one committed, one rolled back.
func TestPreparedReusedAcrossTransactions(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_prep", kv, kvSeed)
	st, err := e.db.Prepare("UPDATE " + tb + " SET n = n + ? WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Exec(1, 1); err != nil {
		t.Fatal(err)
	}
	xid, err := e.global(func(ctx context.Context) error {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for i := 0; i < 3; i++ {
			if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, 10, 2); err != nil {
				tx.Rollback()
				return err
			}
		}
		return tx.Commit()
	})
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	xid, err = e.global(func(ctx context.Context) error {
		if _, err := st.ExecContext(ctx, 100, 3); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	var a, b, c int
	e.plain.QueryRow("SELECT (SELECT n FROM "+tb+" WHERE id = 1), (SELECT n FROM "+tb+" WHERE id = 2), (SELECT n FROM "+tb+" WHERE id = 3)").Scan(&a, &b, &c)
	if a != 11 || b != 50 || c != 30 {
		t.Fatalf("n = %d %d %d, want 11 50 30", a, b, c)
	}
}

func TestNoManagerInGlobalTx(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_nomgr", kv, kvSeed)
	db := e.open("", datasource.WithResourceID("mysql:unmanaged-"+tb), datasource.WithManager(nil))
	_, err := e.global(func(ctx context.Context) error {
		_, err := db.ExecContext(ctx, "UPDATE "+tb+" SET n = 1 WHERE id = 1")
		return err
	})
	if !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("err = %v", err)
	}
}
