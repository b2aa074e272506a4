package mysql_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
)

// TestRawReachesDriver: datasource.Raw hands go-sql-driver's own
// connection to code that needs it outside a global transaction, and
// refuses inside one (what runs there is not imaged) without calling f.
func TestRawReachesDriver(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_raw", kv, kvSeed)
	ctx := context.Background()
	c, err := e.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = datasource.Raw(ctx, c, func(dc any) error {
		if typ := fmt.Sprintf("%T", dc); typ != "*mysql.mysqlConn" {
			return fmt.Errorf("Raw gave %s, want go-sql-driver's connection", typ)
		}
		_, err := dc.(driver.ExecerContext).ExecContext(ctx, "UPDATE "+tb+" SET n = 7 WHERE id = 1", nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := e.plain.QueryRow("SELECT n FROM " + tb + " WHERE id = 1").Scan(&n); err != nil || n != 7 {
		t.Fatalf("n = %d (%v) after the write through Raw", n, err)
	}
	before := e.dump(tb)
	called := false
	_, err = e.global(func(gctx context.Context) error {
		return datasource.Raw(gctx, c, func(any) error { called = true; return nil })
	})
	if !errors.Is(err, txc.ErrUnsupported) || called {
		t.Fatalf("Raw in a global transaction: %v (f called: %v)", err, called)
	}
	_, err = e.global(func(gctx context.Context) error {
		tx, err := c.BeginTx(gctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		return datasource.Raw(ctx, c, func(any) error { called = true; return nil })
	})
	if !errors.Is(err, txc.ErrUnsupported) || called {
		t.Fatalf("Raw in a local transaction of a global one: %v (f called: %v)", err, called)
	}
	if got := e.dump(tb); got != before {
		t.Fatalf("refused Raw changed rows:\n%s\nwant:\n%s", got, before)
	}
}
