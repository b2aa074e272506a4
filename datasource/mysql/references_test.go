package mysql_test

import (
	"context"
	"errors"
	"testing"

	"github.com/txcio/txc"
)

// TestRollbackKeepsReferencedRows: a rollback (which runs with
// foreign_key_checks off) never deletes, nor changes the referenced key
// of, a row that rows written since its local commit reference: it
// changes nothing and is retried until they are gone. Rows the same
// transaction wrote in another branch, or in the same record of a
// self-referencing table, do not hold it up.
func TestRollbackKeepsReferencedRows(t *testing.T) {
	e := newEnv(t, "")
	parent := e.table("at_par", "CREATE TABLE {t} (id INT PRIMARY KEY, code VARCHAR(10) NOT NULL UNIQUE) ENGINE=InnoDB", "INSERT INTO {t} VALUES (1, 'a')")
	child := e.table("at_chi", "CREATE TABLE {t} (id INT PRIMARY KEY, pid INT, code VARCHAR(10), FOREIGN KEY (pid) REFERENCES "+parent+"(id) ON DELETE CASCADE, FOREIGN KEY (code) REFERENCES "+parent+"(code)) ENGINE=InnoDB")
	count := func(q string) int {
		var n int
		if err := e.plain.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	exec := func(q string) {
		if _, err := e.plain.Exec(q); err != nil {
			t.Fatal(err)
		}
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
	exec("DELETE FROM " + child)
	e.wait(xid, txc.GlobalRollbacked)
	if count("SELECT count(*) FROM "+parent+" WHERE id = 5") != 0 {
		t.Fatal("the parent is still there after the rollback finished")
	}

	// A referenced unique key changed back (checks off: it would orphan
	// the child).
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
	exec("DELETE FROM " + child)
	e.wait(xid, txc.GlobalRollbacked)
	if count("SELECT count(*) FROM "+parent+" WHERE code = 'a'") != 1 {
		t.Fatal("the key was not changed back")
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
	if count("SELECT count(*) FROM "+parent) != 1 || count("SELECT count(*) FROM "+child) != 0 {
		t.Fatal("rows left after the rollback")
	}

	// A self-referencing tree inserted by one statement.
	tree := e.table("at_tree", "CREATE TABLE {t} (id INT PRIMARY KEY, up INT, FOREIGN KEY (up) REFERENCES {t}(id) ON DELETE CASCADE) ENGINE=InnoDB", "INSERT INTO {t} VALUES (1, NULL)")
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
	if count("SELECT count(*) FROM "+tree) != 1 {
		t.Fatal("inserted tree rows left")
	}
}

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
