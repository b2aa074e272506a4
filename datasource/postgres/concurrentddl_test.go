package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	txcpg "github.com/txcio/txc/datasource/postgres"
)

// TestDDLCommittedDuringWrite: DDL that a table probe cannot see yet (a
// cascading foreign key added by a transaction still open) commits while
// the global write waits for its lock. The write must not cascade into
// rows no image holds: its probe waits for the DDL and sees the key, so
// the rows it deletes are imaged and the rollback restores them.
func TestDDLCommittedDuringWrite(t *testing.T) {
	e := newEnv(t)
	parent := e.table("at_cdp", "CREATE TABLE {t} (id int PRIMARY KEY, n int)", "INSERT INTO {t} VALUES (1, 10), (2, 20)")
	child := e.table("at_cdc", "CREATE TABLE {t} (id int PRIMARY KEY, pid int)", "INSERT INTO {t} VALUES (1, 1), (2, 1), (3, 2)")
	// Cache the parent's metadata.
	if _, err := e.global(func(ctx context.Context) error {
		_, err := e.db.ExecContext(ctx, "UPDATE "+parent+" SET n = n + 1 WHERE id = 2")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	beforeParent, beforeChild := e.dump(parent), e.dump(child)

	ddl, err := e.plain.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ddl.Rollback()
	if _, err := ddl.Exec("ALTER TABLE " + child + " ADD FOREIGN KEY (pid) REFERENCES " + parent + " (id) ON DELETE CASCADE"); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	var xid txc.XID
	go func() {
		var err error
		xid, err = e.global(func(ctx context.Context) error {
			if _, err := e.db.ExecContext(ctx, "DELETE FROM "+parent+" WHERE id = 1"); err != nil {
				return err
			}
			return errRollback
		})
		done <- err
	}()
	// Let the global DELETE reach its lock wait behind the DDL, then
	// commit the DDL.
	waitForLockWait(t, e, parent)
	if err := ddl.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("global transaction did not finish")
	}
	if !errors.Is(err, errRollback) {
		t.Fatalf("global transaction: %v, want the cascading delete to run", err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(parent); got != beforeParent {
		t.Fatalf("parent after rollback:\n%s\nwant:\n%s", got, beforeParent)
	}
	if got := e.dump(child); got != beforeChild {
		t.Fatalf("child after rollback:\n%s\nwant:\n%s", got, beforeChild)
	}
}

// waitForLockWait waits until some session waits for a lock on a
// statement naming table.
func waitForLockWait(t *testing.T, e *env, table string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := e.plain.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%'`, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no session waits for a lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWriteWithoutTablePrivilegeRefused: a role that may update a column
// but holds no table-level write privilege cannot take the lock that
// keeps DDL out while AT mode writes the table: the write is refused with
// a typed error and changes nothing.
func TestWriteWithoutTablePrivilegeRefused(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_colpriv", "CREATE TABLE {t} (id int PRIMARY KEY, n int)", "INSERT INTO {t} VALUES (1, 10)")
	_, cfg := e.role("txc_colpriv", "GRANT SELECT, UPDATE (n) ON "+tb+" TO {r}", "GRANT SELECT, INSERT, UPDATE, DELETE ON txc_undo_log TO {r}")
	db, err := txcpg.OpenDB(cfg, datasource.WithManager(e.rm))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The role may write the column outside a global transaction.
	if _, err := db.Exec("UPDATE " + tb + " SET n = n + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	before := e.dump(tb)
	_, err = e.global(func(ctx context.Context) error {
		_, err := db.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 1 WHERE id = 1")
		return err
	})
	if !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "privilege") {
		t.Fatalf("global write: %v, want a refusal naming the privilege", err)
	}
	if got := e.dump(tb); got != before {
		t.Fatalf("table after the refusal:\n%s\nwant:\n%s", got, before)
	}
}

// TestChildCreatedDuringGlobalTx: a first inheritance child created while
// a global transaction runs (CREATE TABLE … INHERITS conflicts with no
// write's lock) is not seen by the probe its local transaction already
// made. Later writes of that local transaction must not reach the child's
// rows: a rollback
// re-inserting a child row deleted through the parent would put it in the
// parent.
func TestChildCreatedDuringGlobalTx(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_inh", "CREATE TABLE {t} (id int PRIMARY KEY, n int)", "INSERT INTO {t} VALUES (1, 10), (2, 20)")
	child := tb + "_c"
	t.Cleanup(func() { e.plain.Exec("DROP TABLE IF EXISTS " + child) })
	before := e.dump("ONLY " + tb)
	xid, err := e.global(func(ctx context.Context) error {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 1 WHERE id = 1"); err != nil {
			return err
		}
		e.exec("CREATE TABLE "+child+" () INHERITS ("+tb+")", "INSERT INTO "+child+" VALUES (100, 1)")
		if _, err := tx.ExecContext(ctx, "UPDATE "+tb+" SET n = n * 2"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+tb+" WHERE n >= 0"); err != nil {
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
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump("ONLY " + tb); got != before {
		t.Fatalf("parent after rollback:\n%s\nwant:\n%s", got, before)
	}
	if got, want := e.dump(child), "(100,1)\n"; got != want {
		t.Fatalf("child after rollback:\n%s\nwant:\n%s", got, want)
	}
}

// TestDDLAfterSnapshotRepeatableRead: in a REPEATABLE READ (or
// SERIALIZABLE) local transaction the probe's catalog reads see the
// transaction's snapshot, taken at its first statement. A cascading
// foreign key committed after that, before the write's lock, was not seen,
// and the DELETE cascaded into child rows no image held (lost on
// rollback). The write is now refused, and nothing changes; without such
// DDL the same transaction writes and rolls back exactly.
func TestDDLAfterSnapshotRepeatableRead(t *testing.T) {
	for _, iso := range []sql.IsolationLevel{sql.LevelRepeatableRead, sql.LevelSerializable} {
		t.Run(iso.String(), func(t *testing.T) {
			e := newEnv(t)
			parent := e.table("at_rrp", "CREATE TABLE {t} (id int PRIMARY KEY, n int)", "INSERT INTO {t} VALUES (1, 10), (2, 20)")
			child := e.table("at_rrc", "CREATE TABLE {t} (id int PRIMARY KEY, pid int)", "INSERT INTO {t} VALUES (1, 1), (2, 1), (3, 2)")
			other := e.table("at_rro", kv, kvSeed)
			beforeParent, beforeChild := e.dump(parent), e.dump(child)
			run := func(ddl ...string) (txc.XID, error) {
				return e.global(func(ctx context.Context) error {
					tx, err := e.db.BeginTx(ctx, &sql.TxOptions{Isolation: iso})
					if err != nil {
						return err
					}
					defer tx.Rollback()
					if _, err := tx.ExecContext(ctx, "SELECT count(*) FROM "+other); err != nil {
						return err
					}
					e.exec(ddl...)
					if _, err := tx.ExecContext(ctx, "DELETE FROM "+parent+" WHERE id = 1"); err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, "DELETE FROM "+child+" WHERE pid = 1"); err != nil {
						return err
					}
					if err := tx.Commit(); err != nil {
						return err
					}
					return errRollback
				})
			}
			// No DDL: the snapshot's catalogs are current.
			xid, err := run()
			if !errors.Is(err, errRollback) {
				t.Fatal(err)
			}
			e.rolledBack(xid, parent, beforeParent)
			// A cascading foreign key committed after the snapshot.
			xid, err = run("ALTER TABLE " + child + " ADD FOREIGN KEY (pid) REFERENCES " + parent + " (id) ON DELETE CASCADE")
			if !errors.Is(err, txc.ErrUnavailable) || !strings.Contains(err.Error(), "snapshot") {
				t.Fatalf("global transaction: %v, want the write refused for DDL after the snapshot", err)
			}
			e.rolledBack(xid, parent, beforeParent)
			if got := e.dump(child); got != beforeChild {
				t.Fatalf("child after the refusal:\n%s\nwant:\n%s", got, beforeChild)
			}
		})
	}
}

// TestRepeatableReadWriteWithQueuedDDL: a REPEATABLE READ transaction
// that has read a table writes it while DDL needing ACCESS EXCLUSIVE
// waits for the transaction's lock. The write's second probe, on a
// phase-2 connection, must take no lock of its own: one queued behind the
// DDL, which waits for the transaction, which waits for the probe, is a
// deadlock PostgreSQL cannot see (the write hung until its context ended).
func TestRepeatableReadWriteWithQueuedDDL(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_rrq", kv, kvSeed)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ddlDone := make(chan error, 1)
	xid, err := e.global(func(gctx context.Context) error {
		gctx, gcancel := context.WithTimeout(gctx, 15*time.Second)
		defer gcancel()
		tx, err := e.db.BeginTx(gctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(gctx, "SELECT count(*) FROM "+tb); err != nil {
			return err
		}
		go func() {
			_, err := e.plain.ExecContext(ctx, "ALTER TABLE "+tb+" ADD COLUMN extra int")
			ddlDone <- err
		}()
		waitForLockWait(t, e, tb)
		if _, err := tx.ExecContext(gctx, "UPDATE "+tb+" SET n = n + 1 WHERE id = 1"); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("global transaction: %v", err)
	}
	if err := <-ddlDone; err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbacked)
}
