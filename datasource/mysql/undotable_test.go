package mysql_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	txcmysql "github.com/txcio/txc/datasource/mysql"
	"github.com/txcio/txc/datasource/undo"
	"github.com/txcio/txc/internal/dbtest"
)

// TestMissingUndoTable: a database opened without its undo-log table (and
// without WithCreateUndoTable) fails its first connection with a typed
// error naming the DDL, instead of failing every commit later; once the
// table exists, it works. A table dropped after that makes the commit
// fail, and the branch, reported PhaseOneFailed, leaves the global
// transaction rolled back at once with its row unlocked, not waiting for
// an RM to undo what never committed.
func TestMissingUndoTable(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_noundo", kv, kvSeed)
	undoName := dbtest.Table(t, e.plain, "txc_undo_missing")
	cfg, err := gomysql.ParseDSN(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := txcmysql.OpenDB(cfg, datasource.WithManager(e.rm), datasource.WithUndoTable(undoName), datasource.WithResourceID("mysql:noundo"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.PingContext(context.Background())
	var missing *undo.MissingTableError
	if !errors.As(err, &missing) || !errors.Is(err, txc.ErrInvalidArgument) || !strings.Contains(err.Error(), "CREATE TABLE") || !strings.Contains(err.Error(), undoName) {
		t.Fatalf("Ping without the undo table: %v", err)
	}
	if _, err := e.plain.Exec(missing.DDL); err != nil {
		t.Fatalf("the DDL the error names: %v", err)
	}
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatalf("Ping once the table exists: %v", err)
	}

	before := e.dump(tb)
	if _, err := e.plain.Exec("DROP TABLE " + undoName); err != nil {
		t.Fatal(err)
	}
	xid, err := e.global(func(ctx context.Context) error {
		_, err := db.ExecContext(ctx, "UPDATE "+tb+" SET n = 0 WHERE id = 1")
		return err
	})
	if err == nil || !strings.Contains(err.Error(), undoName) {
		t.Fatalf("commit without the undo table: %v", err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(tb); got != before {
		t.Fatalf("after the failed commit:\n%s\nwant:\n%s", got, before)
	}
	if err := e.tryGlobal("UPDATE " + tb + " SET n = 1 WHERE id = 1"); err != nil {
		t.Fatalf("the row stayed locked: %v", err)
	}
}
