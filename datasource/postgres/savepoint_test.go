package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	gormpg "gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
)

// TestSavepoints: SAVEPOINT, ROLLBACK TO SAVEPOINT and RELEASE SAVEPOINT
// in a global transaction. After a ROLLBACK TO the undo log holds the
// images of exactly the changes that remain: a global rollback restores
// the table exactly (a record of an undone insert or delete would park
// it as a dirty write), a commit leaves what the statements leave run
// plainly. An error aborts PostgreSQL's transaction until a ROLLBACK TO.
func TestSavepoints(t *testing.T) {
	e := newEnv(t)
	scripts := []dbtest.SavepointScript{
		{Name: "reused name hides the older savepoint", Log: "Update (4,40,d)>(4,41,d)\n", Stmts: []string{
			"SAVEPOINT a",
			"SAVEPOINT b",
			"UPDATE {t} SET n = n + 1 WHERE id = 1",
			"SAVEPOINT A", // unquoted: a, after b; the older a stays
			"UPDATE {t} SET n = n + 1 WHERE id = 2",
			"ROLLBACK TO SAVEPOINT a", // the newer: undoes id 2 only
			"UPDATE {t} SET n = n + 1 WHERE id = 3",
			"ROLLBACK TO SAVEPOINT b", // undoes ids 1 and 3, drops the newer a
			"ROLLBACK TO SAVEPOINT a", // the older: nothing more to undo
			"UPDATE {t} SET n = n + 1 WHERE id = 4",
		}},
		{Name: "reused name released", Log: "Update (4,40,d)>(4,41,d)\n", Stmts: []string{
			"SAVEPOINT a",
			"UPDATE {t} SET n = n + 1 WHERE id = 1",
			"SAVEPOINT a",
			"UPDATE {t} SET n = n + 1 WHERE id = 2",
			"ROLLBACK TO SAVEPOINT a", // the newer: undoes id 2
			"RELEASE SAVEPOINT a",     // the newer
			"UPDATE {t} SET n = n + 1 WHERE id = 3",
			"ROLLBACK TO SAVEPOINT a", // the older: undoes ids 1 and 3
			"UPDATE {t} SET n = n + 1 WHERE id = 4",
		}},
		{Name: "quoted names", Log: "Update (3,30,c)>(3,31,c)\n", Stmts: []string{
			`SAVEPOINT "Q"`,
			"UPDATE {t} SET n = n + 1 WHERE id = 1",
			"SAVEPOINT q",
			"UPDATE {t} SET n = n + 1 WHERE id = 2",
			"ROLLBACK TO SAVEPOINT Q", // q: undoes id 2
			`ROLLBACK TO SAVEPOINT "Q"`,
			"UPDATE {t} SET n = n + 1 WHERE id = 3",
		}},
	}
	for _, c := range scripts {
		t.Run(c.Name, func(t *testing.T) { e.suite().SavepointCase(t, c.Log, c.Stmts...) })
	}
}

// TestSavepointFailedReuse: a SAVEPOINT that fails (here: in a
// transaction an error aborted) leaves the proxy unsure whether the name
// now means a new savepoint: a later ROLLBACK TO the name, which the
// server takes to the newest one it holds, leaves the local transaction
// able only to roll back, where taking the older savepoint of the name
// would have dropped the undo record of a change that stays.
func TestSavepointFailedReuse(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_spfr", kv, kvSeed)
	seed := e.dump(tb)
	xid, err := e.global(func(ctx context.Context) error {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := dbtest.Script(ctx, tx, tb, []string{
			"SAVEPOINT a",
			"UPDATE {t} SET n = n + 1 WHERE id = 1",
			"SAVEPOINT a",
			"UPDATE {t} SET n = n + 1 WHERE id = 2",
			"!INSERT INTO {t} VALUES (5, 1, 'a')", // duplicate s: aborts the transaction
			"!SAVEPOINT a",                        // refused in an aborted transaction
			"ROLLBACK TO SAVEPOINT a",             // the server's newest a: after id 1's update
		}); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 1 WHERE id = 3"); !errors.Is(err, txc.ErrRolledBack) {
			return fmt.Errorf("a statement after the rollback to: %v, want it refused", err)
		}
		if err := tx.Commit(); err == nil {
			return errors.New("the local transaction committed")
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(tb); got != seed {
		t.Fatalf("after the global transaction:\n%sseed:\n%s", got, seed)
	}
}

// TestSavepointSessionState: PostgreSQL undoes the session settings made
// since a savepoint on ROLLBACK TO it, and so does the proxy with what it
// found about the session in the local transaction: the table an
// unqualified name means (search_path) and the TimeZone images are read
// in (an undo log holds one: a write in another zone than earlier ones
// is refused).
func TestSavepointSessionState(t *testing.T) {
	e := newEnv(t)
	s1, s2 := e.newSchema("sps1"), e.newSchema("sps2")
	for _, s := range []string{s1, s2} {
		e.exec("CREATE TABLE "+s+".acct (id int PRIMARY KEY, n int)", "INSERT INTO "+s+".acct VALUES (1, 100)")
	}
	db := e.open("")
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("SET search_path TO " + s1 + ", public"); err != nil {
		t.Fatal(err)
	}
	var zone string
	if err := db.QueryRow("SHOW TimeZone").Scan(&zone); err != nil {
		t.Fatal(err)
	}
	other := "Asia/Tokyo"
	if zone == other {
		other = "America/New_York"
	}
	xid, err := e.global(func(ctx context.Context) error {
		err := e.suite().InLocalTx(ctx, t, db, "acct", "Update (1,100)>(1,101)\n",
			"SELECT n FROM acct WHERE id = 1 FOR UPDATE", // sps1.acct, found before the savepoint
			"SAVEPOINT a",
			"SET search_path TO "+s2+", public",
			"SET TimeZone = '"+other+"'",
			"UPDATE acct SET n = n + 50 WHERE id = 1", // sps2.acct, imaged in the other zone
			"ROLLBACK TO SAVEPOINT a",
			"UPDATE acct SET n = n + 1 WHERE id = 1", // sps1.acct again, in the session's zone
		)
		if err != nil {
			return err
		}
		if l := e.suite().UndoLog(e.t, xidOf(ctx)); l == nil || l.TimeZone != zone {
			t.Errorf("undo log zone %v, want %q", l, zone)
		}
		if a, b := e.value("SELECT n FROM "+s1+".acct"), e.value("SELECT n FROM "+s2+".acct"); a != "101" || b != "100" {
			t.Errorf("phase 1: %s.acct n = %s (want 101), %s.acct n = %s (want 100)", s1, a, s2, b)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) || e.finish(xid) != txc.GlobalRollbacked {
		t.Fatalf("err %v", err)
	}
	if a, b := e.value("SELECT n FROM "+s1+".acct"), e.value("SELECT n FROM "+s2+".acct"); a != "100" || b != "100" {
		t.Fatalf("after rollback: %s.acct n = %s, %s.acct n = %s, want 100 both", s1, a, s2, b)
	}
}

// TestSavepointOutsideAndRefused: a savepoint statement outside a local
// transaction runs as the server has it (PostgreSQL refuses it outside a
// transaction block); through Query it runs too, an error the server
// sends for it reaching the caller; a name the proxy could fold otherwise
// than the server (not ASCII) is refused before it runs.
func TestSavepointOutsideAndRefused(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_spq", kv, kvSeed)
	_, err := e.global(func(ctx context.Context) error {
		if _, err := e.db.ExecContext(ctx, "SAVEPOINT a"); err == nil || !strings.Contains(err.Error(), "transaction block") {
			return fmt.Errorf("SAVEPOINT outside a local transaction: %v, want the server's error", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.suite().RollsBack(t, tb, func(ctx context.Context) error {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `SAVEPOINT "é"`); !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "savepoint name") {
			return fmt.Errorf("a non-ASCII savepoint name: %v, want it refused", err)
		}
		query := func(q string) error {
			rows, err := tx.QueryContext(ctx, q)
			if err != nil {
				return err
			}
			rows.Close()
			return rows.Err()
		}
		if err := query("SAVEPOINT a"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+tb+" WHERE id = 1"); err != nil {
			return err
		}
		if err := query("ROLLBACK TO SAVEPOINT a"); err != nil {
			return err
		}
		if err := query("ROLLBACK TO SAVEPOINT nosuch"); err == nil || !strings.Contains(err.Error(), "nosuch") {
			return fmt.Errorf("ROLLBACK TO an unknown savepoint: %v, want the server's error", err)
		}
		if err := query("ROLLBACK TO SAVEPOINT a"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+tb+" SET n = 0 WHERE id = 2"); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		if got, want := e.suite().UndoSummary(e.t, xidOf(ctx)), "Update (2,20,b)>(2,0,b)\n"; got != want {
			t.Errorf("undo log:\n%swant:\n%s", got, want)
		}
		return nil
	})
}

// TestGORMNestedTransaction: GORM's nested Transaction (SAVEPOINT, and
// ROLLBACK TO SAVEPOINT when the inner function fails) inside a global
// transaction, also after an error the inner function caught (the
// aborted transaction goes on after the rollback to). Committed, the
// outer writes and the inner transaction that succeeded stay and the
// failed inner ones' are gone, the undo log holding the images of exactly
// those; rolled back globally, the table is as before.
func TestGORMNestedTransaction(t *testing.T) {
	e := newEnv(t)
	gdb, err := gorm.Open(gormpg.New(gormpg.Config{Conn: e.db}), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	tb := e.table("at_gorm_sp", kv, kvSeed)
	errInner := errors.New("inner fails")
	var log string
	work := func(ctx context.Context) error {
		err := gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Table(tb).Where("id = ?", 1).Update("n", gorm.Expr("n - ?", 5)).Error; err != nil {
				return err
			}
			err := tx.Transaction(func(tx2 *gorm.DB) error {
				if err := tx2.Table(tb).Where("id = ?", 1).Update("n", gorm.Expr("n * ?", 100)).Error; err != nil {
					return err
				}
				if err := tx2.Table(tb).Create(&ormAccount{ID: 8, N: 80, S: "h"}).Error; err != nil {
					return err
				}
				if err := tx2.Table(tb).Where("id = ?", 2).Delete(&ormAccount{}).Error; err != nil {
					return err
				}
				return errInner
			})
			if !errors.Is(err, errInner) {
				return fmt.Errorf("inner transaction: %v, want its error", err)
			}
			err = tx.Transaction(func(tx2 *gorm.DB) error {
				// A duplicate key: PostgreSQL aborts the transaction.
				return tx2.Table(tb).Create(&ormAccount{ID: 3, N: 1, S: "dup"}).Error
			})
			if err == nil {
				return errors.New("a duplicate key was inserted")
			}
			if err := tx.Table(tb).Where("id = ?", 3).Update("n", gorm.Expr("n + ?", 5)).Error; err != nil {
				return err
			}
			return tx.Transaction(func(tx2 *gorm.DB) error {
				return tx2.Table(tb).Create(&ormAccount{ID: 7, N: 70, S: "g"}).Error
			})
		})
		if err != nil {
			return err
		}
		log = e.suite().UndoSummary(e.t, xidOf(ctx))
		return nil
	}
	e.suite().RollsBack(t, tb, work)
	xid, err := e.global(work)
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	if want := "Update (1,10,a)>(1,5,a)\nUpdate (3,30,c)>(3,35,c)\nInsert >(7,70,g)\n"; log != want {
		t.Errorf("undo log:\n%swant:\n%s", log, want)
	}
	if got, want := e.dump(tb), "(1,5,a)\n(2,20,b)\n(3,35,c)\n(4,40,d)\n(7,70,g)\n"; got != want {
		t.Fatalf("committed:\n%s\nwant:\n%s", got, want)
	}
}
