package mysql_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	gormmysql "gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/txcio/txc"
)

type gormAccount struct {
	ID      int64 `gorm:"primaryKey;autoIncrement"`
	Owner   string
	Balance int64
}

// TestGORMOverProxy: GORM (gorm.io/driver/mysql with Conn: db; on MariaDB
// with INSERT … RETURNING, its default, or without) creates, updates and
// deletes through the proxy, reading generated keys back; a rolled-back
// global transaction leaves the table as it was, a committed one as GORM
// wrote it.
func TestGORMOverProxy(t *testing.T) {
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableWithReturning=%v", disable), func(t *testing.T) { gormOverProxy(t, disable) })
	}
}

func gormOverProxy(t *testing.T, disableWithReturning bool) {
	e := newEnv(t, "parseTime=true")
	tb := e.table("at_gorm", "CREATE TABLE {t} (id BIGINT AUTO_INCREMENT PRIMARY KEY, owner VARCHAR(20) NOT NULL, balance BIGINT NOT NULL)",
		"INSERT INTO {t} (owner, balance) VALUES ('ann', 100), ('bob', 50)")
	g, err := gorm.Open(gormmysql.New(gormmysql.Config{Conn: e.db, DisableWithReturning: disableWithReturning}), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	work := func(ctx context.Context) error {
		return g.WithContext(ctx).Table(tb).Transaction(func(tx *gorm.DB) error {
			if err := tx.Table(tb).Where("owner = ?", "ann").Update("balance", gorm.Expr("balance - ?", 30)).Error; err != nil {
				return err
			}
			if err := tx.Table(tb).Where("owner = ?", "bob").Update("balance", gorm.Expr("balance + ?", 30)).Error; err != nil {
				return err
			}
			cy := gormAccount{Owner: "cy", Balance: 1}
			if err := tx.Table(tb).Create(&cy).Error; err != nil {
				return err
			}
			var id int64
			if err := tx.Table(tb).Where("owner = ?", "cy").Select("id").Scan(&id).Error; err != nil || cy.ID != id || id == 0 {
				return fmt.Errorf("created id %d, stored %d (%v)", cy.ID, id, err)
			}
			return tx.Table(tb).Where("owner = ?", "bob").Delete(&gormAccount{}).Error
		})
	}
	e.suite().RollsBackThenCommits(t, tb, work)
	var accts []gormAccount
	if err := g.Table(tb).Order("id").Find(&accts).Error; err != nil {
		t.Fatal(err)
	}
	if len(accts) != 2 || accts[0].Owner != "ann" || accts[0].Balance != 70 || accts[1].Owner != "cy" {
		t.Fatalf("accounts %+v", accts)
	}
}

// TestGORMOverProxyXA: the same GORM code on a table without a primary
// key (refused in AT mode) and with INSERT … RETURNING allowed, the
// proxy in XA mode: a rolled-back global transaction leaves the table as
// it was, a committed one as GORM wrote it, and no branch stays prepared.
func TestGORMOverProxyXA(t *testing.T) {
	e := newEnv(t, "parseTime=true")
	tb := e.table("xa_gorm", "CREATE TABLE {t} (id BIGINT NOT NULL DEFAULT 0, owner VARCHAR(20) NOT NULL, balance BIGINT NOT NULL)",
		"INSERT INTO {t} (id, owner, balance) VALUES (1, 'ann', 100), (2, 'bob', 50)")
	g, err := gorm.Open(gormmysql.New(gormmysql.Config{Conn: e.openXA()}), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	work := func(ctx context.Context) error {
		return g.WithContext(ctx).Table(tb).Transaction(func(tx *gorm.DB) error {
			if err := tx.Table(tb).Where("owner = ?", "ann").Update("balance", gorm.Expr("balance - ?", 30)).Error; err != nil {
				return err
			}
			if err := tx.Table(tb).Where("owner = ?", "bob").Update("balance", gorm.Expr("balance + ?", 30)).Error; err != nil {
				return err
			}
			return tx.Table(tb).Create(&gormAccount{ID: 3, Owner: "cy", Balance: 1}).Error
		})
	}
	seed := e.dump(tb)
	xid, err := e.global(func(ctx context.Context) error {
		if err := work(ctx); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	e.waitNoPrepared(xid)
	if got := e.dump(tb); got != seed {
		t.Fatalf("after rollback:\n%s\nwant:\n%s", got, seed)
	}
	if xid, err = e.global(work); err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	e.waitNoPrepared(xid)
	want := "id=1 owner=\"ann\" balance=70 \nid=2 owner=\"bob\" balance=80 \nid=3 owner=\"cy\" balance=1 \n"
	if got := e.dump(tb); got != want {
		t.Fatalf("after commit:\n%s\nwant:\n%s", got, want)
	}
}
