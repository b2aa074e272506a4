package mysql_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	gormmysql "gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tm"
)

// TestSavepoints: SAVEPOINT, ROLLBACK TO SAVEPOINT and RELEASE SAVEPOINT
// in a global transaction. After a ROLLBACK TO the undo log holds the
// images of exactly the changes that remain: a global rollback restores
// the table exactly (a record of an undone insert or delete would park
// it as a dirty write), a commit leaves what the statements leave run
// plainly.
func TestSavepoints(t *testing.T) {
	e := newEnv(t, "")
	scripts := []dbtest.SavepointScript{
		{Name: "reused name replaces the older savepoint", Log: "Update (4,40,d)>(4,41,d)\n", Stmts: []string{
			"SAVEPOINT a",
			"SAVEPOINT b",
			"UPDATE {t} SET n = n + 1 WHERE id = 1",
			"SAVEPOINT A", // names are case-insensitive: a, now after b
			"UPDATE {t} SET n = n + 1 WHERE id = 2",
			"ROLLBACK TO SAVEPOINT a", // undoes id 2 only
			"UPDATE {t} SET n = n + 1 WHERE id = 3",
			"ROLLBACK TO SAVEPOINT b", // undoes ids 1 and 3, drops a
			"!ROLLBACK TO SAVEPOINT a",
			"UPDATE {t} SET n = n + 1 WHERE id = 4",
		}},
		{Name: "reused name released", Log: "Update (1,10,a)>(1,11,a)\nUpdate (3,30,c)>(3,31,c)\nUpdate (4,40,d)>(4,41,d)\n", Stmts: []string{
			"SAVEPOINT a",
			"UPDATE {t} SET n = n + 1 WHERE id = 1",
			"SAVEPOINT a",
			"UPDATE {t} SET n = n + 1 WHERE id = 2",
			"ROLLBACK TO SAVEPOINT a",
			"RELEASE SAVEPOINT a", // the only a
			"UPDATE {t} SET n = n + 1 WHERE id = 3",
			"!ROLLBACK TO SAVEPOINT a",
			"UPDATE {t} SET n = n + 1 WHERE id = 4",
		}},
	}
	for _, c := range scripts {
		t.Run(c.Name, func(t *testing.T) { e.suite().SavepointCase(t, c.Log, c.Stmts...) })
	}
}

// TestSavepointClearsFailure: a statement that ran but could not be
// undone exactly fails its local transaction; a ROLLBACK TO a savepoint
// set before it undoes it and the transaction goes on, one set after it
// does not.
func TestSavepointClearsFailure(t *testing.T) {
	e := newEnv(t, "")
	// Two rows meeting one existing row through different unique keys:
	// caught by the affected-rows check after the statement ran.
	dt := e.table("at_spf", "CREATE TABLE {t} (id INT PRIMARY KEY, n INT, d DECIMAL(5,1) UNIQUE)", "INSERT INTO {t} VALUES (1, 1, 1.2)")
	poison := "INSERT INTO " + dt + " (id, n, d) VALUES (1, 0, 5.0), (9, 0, 1.2) ON DUPLICATE KEY UPDATE n = n + 100"
	seed := e.dump(dt)
	xid, err := e.global(func(ctx context.Context) error {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := dbtest.Script(ctx, tx, dt, []string{"UPDATE {t} SET n = n + 1 WHERE id = 1", "SAVEPOINT a", "!" + poison,
			"!UPDATE {t} SET n = n + 1 WHERE id = 1", // refused: the transaction can only roll back
			"ROLLBACK TO SAVEPOINT a"}); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		xid, _ := tm.XIDFromContext(ctx)
		if got, want := e.suite().UndoSummary(e.t, xid), "Update (1,1,1.2)>(1,2,1.2)\n"; got != want {
			t.Errorf("undo log:\n%swant:\n%s", got, want)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(dt); got != seed {
		t.Fatalf("rolled back:\n%sseed:\n%s", got, seed)
	}
	// The failure came before the savepoint: it stays.
	_, err = e.global(func(ctx context.Context) error {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := dbtest.Script(ctx, tx, dt, []string{"UPDATE {t} SET n = n + 1 WHERE id = 1", "!" + poison, "SAVEPOINT b", "ROLLBACK TO SAVEPOINT b"}); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE "+dt+" SET n = n + 1 WHERE id = 1")
		if !errors.Is(err, txc.ErrRolledBack) {
			return fmt.Errorf("a statement after the rollback to a savepoint set after the failure: %v, want it refused", err)
		}
		if err := tx.Commit(); err == nil {
			return errors.New("the failed local transaction committed")
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if got := e.dump(dt); got != seed {
		t.Fatalf("after the failed transaction:\n%sseed:\n%s", got, seed)
	}
}

// TestSavepointRefusedAndOutside: a savepoint name the proxy could
// compare otherwise than the server (MariaDB takes `é` for `e`) is
// refused before it runs; outside a local transaction a savepoint
// statement runs as the server has it (SAVEPOINT does nothing in
// autocommit, ROLLBACK TO finds no savepoint).
func TestSavepointRefusedAndOutside(t *testing.T) {
	e := newEnv(t, "")
	for _, q := range []string{"SAVEPOINT `é`", "ROLLBACK TO SAVEPOINT `a b`", "RELEASE SAVEPOINT `a-b`"} {
		_, err := e.global(func(ctx context.Context) error {
			tx, err := e.db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			_, err = tx.ExecContext(ctx, q)
			return err
		})
		if !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "savepoint name") {
			t.Errorf("%s: %v, want a refusal naming the savepoint name", q, err)
		}
	}
	_, err := e.global(func(ctx context.Context) error {
		if _, err := e.db.ExecContext(ctx, "SAVEPOINT a"); err != nil {
			return fmt.Errorf("SAVEPOINT in autocommit: %w", err)
		}
		if _, err := e.db.ExecContext(ctx, "ROLLBACK TO SAVEPOINT a"); err == nil || !strings.Contains(err.Error(), "does not exist") {
			return fmt.Errorf("ROLLBACK TO in autocommit: %v, want the server's error", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGORMNestedTransaction: GORM's nested Transaction (SAVEPOINT, and
// ROLLBACK TO SAVEPOINT when the inner function fails) inside a global
// transaction. Committed, the outer writes and the inner transaction
// that succeeded stay and the failed inner one's are gone, the undo log
// holding the images of exactly those; rolled back globally, the table is
// as before.
func TestGORMNestedTransaction(t *testing.T) {
	e := newEnv(t, "parseTime=true")
	tb := e.table("at_gorm_sp", "CREATE TABLE {t} (id BIGINT AUTO_INCREMENT PRIMARY KEY, owner VARCHAR(20) NOT NULL, balance BIGINT NOT NULL)",
		"INSERT INTO {t} (owner, balance) VALUES ('ann', 100), ('bob', 50)")
	g, err := gorm.Open(gormmysql.New(gormmysql.Config{Conn: e.db, DisableWithReturning: true}), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	errInner := errors.New("inner fails")
	var log string
	work := func(ctx context.Context) error {
		err := g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Table(tb).Where("owner = ?", "ann").Update("balance", gorm.Expr("balance - ?", 30)).Error; err != nil {
				return err
			}
			err := tx.Transaction(func(tx2 *gorm.DB) error {
				// ann again: the outer update's after image is read at
				// commit, from the row as the rollback to left it.
				if err := tx2.Table(tb).Where("owner = ?", "ann").Update("balance", gorm.Expr("balance - ?", 1000)).Error; err != nil {
					return err
				}
				if err := tx2.Table(tb).Create(&gormAccount{Owner: "dan", Balance: 5}).Error; err != nil {
					return err
				}
				if err := tx2.Table(tb).Where("owner = ?", "bob").Delete(&gormAccount{}).Error; err != nil {
					return err
				}
				return errInner
			})
			if !errors.Is(err, errInner) {
				return fmt.Errorf("inner transaction: %v, want its error", err)
			}
			if err := tx.Table(tb).Where("owner = ?", "bob").Update("balance", gorm.Expr("balance + ?", 30)).Error; err != nil {
				return err
			}
			return tx.Transaction(func(tx2 *gorm.DB) error {
				return tx2.Table(tb).Create(&gormAccount{Owner: "cy", Balance: 1}).Error
			})
		})
		if err != nil {
			return err
		}
		xid, _ := tm.XIDFromContext(ctx)
		log = e.suite().UndoSummary(e.t, xid)
		return nil
	}
	e.suite().RollsBack(t, tb, work)
	var cy gormAccount
	xid, err := e.global(work)
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	if err := g.Table(tb).Where("owner = ?", "cy").First(&cy).Error; err != nil {
		t.Fatal(err)
	}
	want := "Update (1,ann,100)>(1,ann,70)\nUpdate (2,bob,50)>(2,bob,80)\n" + fmt.Sprintf("Insert >(%d,cy,1)\n", cy.ID)
	if log != want {
		t.Errorf("undo log:\n%swant:\n%s", log, want)
	}
	var accts []gormAccount
	if err := g.Table(tb).Order("id").Find(&accts).Error; err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(accts); got != fmt.Sprintf("[{1 ann 70} {2 bob 80} {%d cy 1}]", cy.ID) {
		t.Fatalf("accounts %s", got)
	}
}
