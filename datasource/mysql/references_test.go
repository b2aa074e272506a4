package mysql_test

import (
	"context"
	"errors"
	"testing"

	"github.com/txcio/txc"
)

// TestBinaryPrimaryKey: rows keyed by bytes that are not UTF-8 get lock
// keys the protocol carries (txc.RowKey escapes them), commit and roll
// back.
func TestBinaryPrimaryKey(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_bin", "CREATE TABLE {t} (id VARBINARY(8) PRIMARY KEY, n INT NOT NULL)", "INSERT INTO {t} VALUES (0xFFFE, 1), (0x00C3, 2)")
	seed := e.dump(tb)
	xid, err := e.global(func(ctx context.Context) error {
		if _, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 10"); err != nil {
			return err
		}
		if _, err := e.db.ExecContext(ctx, "INSERT INTO "+tb+" VALUES (?, 3)", []byte{0x80}); err != nil {
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
	xid, err = e.global(func(ctx context.Context) error {
		_, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 10 WHERE id = ?", []byte{0xff, 0xfe})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	var n int
	if err := e.plain.QueryRow("SELECT n FROM " + tb + " WHERE id = 0xFFFE").Scan(&n); err != nil || n != 11 {
		t.Fatalf("n = %d, %v; want 11", n, err)
	}
}
