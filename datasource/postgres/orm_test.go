package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jmoiron/sqlx"
	gormpg "gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/txcio/txc"
)

// ormAccount is the GORM model of the kv tables: keys are given by the
// application.
type ormAccount struct {
	ID int64  `gorm:"column:id;primaryKey;autoIncrement:false"`
	N  int64  `gorm:"column:n"`
	S  string `gorm:"column:s"`
}

// TestGORM: GORM's postgres driver over the proxy (Conn: the proxied
// *sql.DB): creates, updates with expressions and deletes in a global
// transaction commit as they would plainly, and roll back to exactly the
// rows before.
func TestGORM(t *testing.T) {
	e := newEnv(t)
	gdb, err := gorm.Open(gormpg.New(gormpg.Config{Conn: e.db}), &gorm.Config{Logger: logger.Discard, SkipDefaultTransaction: false})
	if err != nil {
		t.Fatal(err)
	}
	work := func(ctx context.Context, tb string) error {
		return gdb.WithContext(ctx).Table(tb).Transaction(func(tx *gorm.DB) error {
			if err := tx.Table(tb).Create(&ormAccount{ID: 7, N: 70, S: "g"}).Error; err != nil {
				return err
			}
			if err := tx.Table(tb).Where("id = ?", 1).Update("n", gorm.Expr("n - ?", 5)).Error; err != nil {
				return err
			}
			if err := tx.Table(tb).Where("n > ?", 35).Delete(&ormAccount{}).Error; err != nil {
				return err
			}
			var got ormAccount
			return tx.Table(tb).Clauses(clause.Locking{Strength: "UPDATE"}).First(&got, 2).Error
		})
	}
	tb := e.table("at_gorm", kv, kvSeed)
	seed := e.dump(tb)
	xid, err := e.global(func(ctx context.Context) error {
		if err := work(ctx, tb); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(tb); got != seed {
		t.Fatalf("rolled back:\n%s\nwant:\n%s", got, seed)
	}
	xid, err = e.global(func(ctx context.Context) error { return work(ctx, tb) })
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	if got, want := e.dump(tb), "(1,5,a)\n(2,20,b)\n(3,30,c)\n"; got != want {
		t.Fatalf("committed:\n%s\nwant:\n%s", got, want)
	}
}

// ormSerial is a GORM model whose key the database generates: GORM
// creates it with INSERT … RETURNING through QueryContext and reads the
// key back.
type ormSerial struct {
	ID int64 `gorm:"column:id;primaryKey"`
	N  int64 `gorm:"column:n"`
}

// TestGORMGeneratedKeys: GORM's Create of rows whose keys the database
// generates (single and batch), in a global transaction, gets the keys
// back, commits, and rolls back to exactly the rows before.
func TestGORMGeneratedKeys(t *testing.T) {
	e := newEnv(t)
	gdb, err := gorm.Open(gormpg.New(gormpg.Config{Conn: e.db}), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	tb := e.table("at_gormser", serial, "INSERT INTO {t} (n) VALUES (1)")
	var ids []int64
	work := func(ctx context.Context) error {
		ids = nil
		return gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			one := ormSerial{N: 10}
			if err := tx.Table(tb).Create(&one).Error; err != nil {
				return err
			}
			batch := []ormSerial{{N: 20}, {N: 30}}
			if err := tx.Table(tb).Create(&batch).Error; err != nil {
				return err
			}
			ids = append(ids, one.ID, batch[0].ID, batch[1].ID)
			return nil
		})
	}
	seed := e.dump(tb, "id", "n")
	xid, err := e.global(func(ctx context.Context) error {
		if err := work(ctx); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if fmt.Sprint(ids) != "[2 3 4]" {
		t.Fatalf("generated keys read back: %v, want [2 3 4]", ids)
	}
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(tb, "id", "n"); got != seed {
		t.Fatalf("rolled back:\n%s\nwant:\n%s", got, seed)
	}
	xid, err = e.global(work)
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	if fmt.Sprint(ids) != "[5 6 7]" {
		t.Fatalf("generated keys read back: %v, want [5 6 7]", ids)
	}
	if got, want := e.dump(tb, "id", "n"), "(1,1)\n(5,10)\n(6,20)\n(7,30)\n"; got != want {
		t.Fatalf("committed:\n%s\nwant:\n%s", got, want)
	}
}

// TestSQLX: sqlx over the proxy, named and positional statements in a
// global transaction, rolled back then committed.
func TestSQLX(t *testing.T) {
	e := newEnv(t)
	xdb := sqlx.NewDb(e.db, "pgx")
	tb := e.table("at_sqlx", kv, kvSeed)
	work := func(ctx context.Context) error {
		tx, err := xdb.BeginTxx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.NamedExecContext(ctx, "INSERT INTO "+tb+" (id, n, s) VALUES (:id, :n, :s)", ormAccount{ID: 9, N: 90, S: "x"}); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind("UPDATE "+tb+" SET s = s || ? WHERE id IN (?, ?)"), "!", 1, 2); err != nil {
			return err
		}
		var ids []int64
		if err := tx.SelectContext(ctx, &ids, "SELECT id FROM "+tb+" WHERE id >= $1 ORDER BY id FOR UPDATE", 3); err != nil {
			return err
		}
		if len(ids) != 3 {
			return errors.New("test: the locking read saw the wrong rows")
		}
		return tx.Commit()
	}
	e.suite().RollsBackThenCommits(t, tb, work)
	if got, want := e.dump(tb), "(1,10,a!)\n(2,20,b!)\n(3,30,c)\n(4,40,d)\n(9,90,x)\n"; got != want {
		t.Fatalf("committed:\n%s\nwant:\n%s", got, want)
	}
}
