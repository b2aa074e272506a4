package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/txcio/txc"
)

// TestRollbackKeepsReferencedRows: a rollback never deletes, nor changes
// the referenced key of, a row that rows written since its local commit
// reference (ON DELETE / ON UPDATE CASCADE would take them with it): it
// changes nothing and is retried until they are gone. Rows the same
// transaction wrote in another branch, or in the same record of a
// self-referencing table, do not hold it up.
func TestRollbackKeepsReferencedRows(t *testing.T) {
	e := newEnv(t)
	parent := e.table("at_par", "CREATE TABLE {t} (id int PRIMARY KEY, code text NOT NULL UNIQUE)", "INSERT INTO {t} VALUES (1, 'a')")
	child := e.table("at_chi", "CREATE TABLE {t} (id int PRIMARY KEY, pid int REFERENCES "+parent+"(id) ON DELETE CASCADE, code text REFERENCES "+parent+"(code))")
	count := func(q string) int {
		var n int
		if err := e.plain.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// An inserted parent that an outside writer's child references.
	xid, err := e.global(func(ctx context.Context) error {
		if _, err := e.db.ExecContext(ctx, "INSERT INTO "+parent+" VALUES (5, 'e')"); err != nil {
			return err
		}
		if _, err := e.plain.Exec("INSERT INTO " + child + " VALUES (1, 5, NULL)"); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbackRetrying)
	if count("SELECT count(*) FROM "+parent+" WHERE id = 5") != 1 || count("SELECT count(*) FROM "+child) != 1 {
		t.Fatal("the rollback deleted the referenced parent or its child")
	}
	e.exec("DELETE FROM " + child)
	e.wait(xid, txc.GlobalRollbacked)
	if count("SELECT count(*) FROM "+parent+" WHERE id = 5") != 0 {
		t.Fatal("the parent is still there after the rollback finished")
	}

	// A referenced unique key changed back.
	xid, err = e.global(func(ctx context.Context) error {
		if _, err := e.db.ExecContext(ctx, "UPDATE "+parent+" SET code = 'a2' WHERE id = 1"); err != nil {
			return err
		}
		if _, err := e.plain.Exec("INSERT INTO " + child + " VALUES (2, NULL, 'a2')"); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbackRetrying)
	if count("SELECT count(*) FROM "+child+" WHERE code = 'a2'") != 1 || count("SELECT count(*) FROM "+parent+" WHERE code = 'a2'") != 1 {
		t.Fatal("the rollback changed the referenced key under its child")
	}
	e.exec("DELETE FROM " + child)
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(parent); got != "(1,a)\n" {
		t.Fatalf("parent after the rollback:\n%s", got)
	}

	// Parent and child written by two branches of one transaction.
	xid, err = e.global(func(ctx context.Context) error {
		if _, err := e.db.ExecContext(ctx, "INSERT INTO "+parent+" VALUES (6, 'f')"); err != nil {
			return err
		}
		if _, err := e.db.ExecContext(ctx, "INSERT INTO "+child+" VALUES (3, 6, 'f')"); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(parent) + e.dump(child); got != "(1,a)\n" {
		t.Fatalf("after the rollback:\n%s", got)
	}

	// A self-referencing tree inserted by one statement.
	tree := e.table("at_tree", "CREATE TABLE {t} (id int PRIMARY KEY, up int REFERENCES {t}(id) ON DELETE CASCADE)", "INSERT INTO {t} VALUES (1, NULL)")
	xid, err = e.global(func(ctx context.Context) error {
		if _, err := e.db.ExecContext(ctx, "INSERT INTO "+tree+" VALUES (2, 1), (3, 2), (4, 3)"); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(tree); got != "(1,)\n" {
		t.Fatalf("tree after the rollback:\n%s", got)
	}
	if strings.Contains(e.dump(tree), "2") {
		t.Fatal("inserted tree rows left")
	}
}
