package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	txcpg "github.com/txcio/txc/datasource/postgres"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tm"
)

// TestCommitWithUndoInsert: the undo log's insert and COMMIT go to the
// server together. A failed insert leaves nothing committed and the
// connection usable; a COMMIT that fails (a deferred constraint) leaves
// nothing committed, and the global rollback then finds no undo log and
// finishes; a good one commits rows and log together.
func TestCommitWithUndoInsert(t *testing.T) {
	e := newEnv(t)
	schema := dbtest.Name("txc_commit")
	e.exec("CREATE SCHEMA " + schema)
	t.Cleanup(func() { e.plain.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
	// Another undo table under the resource ID of e.db is refused: the
	// rollbacks of the ID would look for undo logs in e.db's table.
	cfg, err := pgx.ParseConfig(dbtest.PostgresDSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := txcpg.OpenDB(cfg, datasource.WithManager(e.rm), datasource.WithUndoSchema(schema)); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("a second undo table under one resource ID: %v, want InvalidArgument", err)
	}
	db := e.open("", datasource.WithUndoSchema(schema), datasource.WithResourceID("test-commit-"+schema))
	db.SetMaxOpenConns(1) // every step on one connection: it must stay usable
	tb := e.table("at_commit", "CREATE TABLE {t} (id int PRIMARY KEY, n int NOT NULL, s text NOT NULL, CONSTRAINT {t}_s UNIQUE (s) DEFERRABLE INITIALLY DEFERRED)",
		"INSERT INTO {t} VALUES (1, 10, 'a'), (2, 20, 'b')")
	orig := e.dump(tb)
	update := func(ctx context.Context, stmts ...string) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				tx.Rollback()
				return err
			}
		}
		return tx.Commit()
	}

	// A first global transaction creates this test's undo table.
	xid, err := e.global(func(ctx context.Context) error { return update(ctx, "UPDATE "+tb+" SET n = n WHERE id = 1") })
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)

	// The insert fails: a trigger on this test's undo table refuses it.
	e.exec(`CREATE FUNCTION `+schema+`.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'undo insert refused by test'; END $$`,
		`CREATE TRIGGER refuse BEFORE INSERT ON `+schema+`.txc_undo_log FOR EACH ROW EXECUTE FUNCTION `+schema+`.refuse()`)
	xid, err = e.global(func(ctx context.Context) error {
		return update(ctx, "UPDATE "+tb+" SET n = 0 WHERE id = 1")
	})
	if err == nil || !strings.Contains(err.Error(), "undo insert refused by test") {
		t.Fatalf("commit with a refused undo insert: %v", err)
	}
	// The trigger refuses the rollback's finished marker too.
	e.exec("DROP TRIGGER refuse ON " + schema + ".txc_undo_log")
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(tb); got != orig {
		t.Fatalf("rows after the refused insert:\n%s", got)
	}

	// The COMMIT fails: the deferred unique constraint is checked there.
	xid, err = e.global(func(ctx context.Context) error {
		return update(ctx, "UPDATE "+tb+" SET s = 'b' WHERE id = 1")
	})
	if err == nil || !strings.Contains(err.Error(), "23505") {
		t.Fatalf("commit violating a deferred constraint: %v", err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(tb); got != orig {
		t.Fatalf("rows after the failed commit:\n%s", got)
	}

	// The connection is still good, and a commit commits rows and log.
	xid, err = e.global(func(ctx context.Context) error {
		if err := update(ctx, "UPDATE "+tb+" SET n = 11 WHERE id = 1", "UPDATE "+tb+" SET s = 'x' WHERE id = 2"); err != nil {
			return err
		}
		var logs int
		if err := e.plain.QueryRow("SELECT count(*) FROM "+schema+".txc_undo_log WHERE xid = $1", string(xidOf(ctx))).Scan(&logs); err != nil {
			return err
		}
		if logs != 1 {
			t.Errorf("%d undo logs after the local commit, want 1", logs)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(tb); got != orig {
		t.Fatalf("rows after the rollback:\n%s", got)
	}
	// Committed: the coordinator counts the branch committed at the
	// decision and notifies the RM, which deletes the undo row a moment
	// later.
	xid, err = e.global(func(ctx context.Context) error {
		return update(ctx, "UPDATE "+tb+" SET n = 12 WHERE id = 1")
	})
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	logs := func() int {
		var n int
		if err := e.plain.QueryRow("SELECT count(*) FROM "+schema+".txc_undo_log WHERE xid = $1", string(xid)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); logs() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d undo rows left after the commit finished", logs())
		}
	}
	var n int
	if err := db.QueryRow("SELECT n FROM " + tb + " WHERE id = 1").Scan(&n); err != nil || n != 12 {
		t.Fatalf("n = %d (%v) after the commit", n, err)
	}
}

func xidOf(ctx context.Context) txc.XID {
	xid, _ := tm.XIDFromContext(ctx)
	return xid
}
