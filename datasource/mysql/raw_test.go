package mysql_test

import (
	"context"
	"database/sql/driver"
	"fmt"
	"testing"

	"github.com/txcio/txc/datasource"
)

// TestRawReachesDriver: datasource.Raw hands go-sql-driver's own
// connection to code that needs it outside a global transaction
// (dialecttest's RawRefusedInGlobal: it refuses inside one).
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
}
