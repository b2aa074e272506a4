package dialecttest

import (
	"context"
	"errors"
	"testing"

	"github.com/txcio/txc"
)

// referencedRowsKept: a rollback never deletes, nor changes the referenced
// key of, a row that rows written since its local commit reference (ON
// DELETE / ON UPDATE CASCADE would take them with it; MySQL's rollback runs
// with foreign_key_checks off and would orphan them): it changes nothing
// and is retried until they are gone. Rows the same transaction wrote in
// another branch, or in the same record of a self-referencing table, do
// not hold it up.
func referencedRowsKept(t *testing.T, e *Env) {
	parent := e.Table("dt_par", "CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, code VARCHAR(10) NOT NULL UNIQUE)", "INSERT INTO {t} (id, code) VALUES (1, 'a')")
	child := e.Table("dt_chi", "CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, pid INT, code VARCHAR(10), "+
		"FOREIGN KEY (pid) REFERENCES "+parent+" (id) ON DELETE CASCADE, FOREIGN KEY (code) REFERENCES "+parent+" (code))")
	seed, none := e.Dump(parent), e.Dump(child)
	r := references{t: t, e: e}

	// An inserted parent that an outside writer's child references.
	xid := r.rollBack([]string{"INSERT INTO " + parent + " (id, code) VALUES (5, 'e')"}, "INSERT INTO "+child+" (id, pid, code) VALUES (1, 5, NULL)")
	e.Coordinator.Wait(t, xid, txc.GlobalRollbackRetrying)
	if r.count("SELECT count(*) FROM "+parent+" WHERE id = 5") != 1 || r.count("SELECT count(*) FROM "+child) != 1 {
		t.Fatal("the rollback deleted the referenced parent or its child")
	}
	r.plain("DELETE FROM " + child)
	e.Coordinator.Wait(t, xid, txc.GlobalRollbacked)
	if r.count("SELECT count(*) FROM "+parent+" WHERE id = 5") != 0 {
		t.Fatal("the parent is still there after the rollback finished")
	}

	// A referenced unique key changed back.
	xid = r.rollBack([]string{"UPDATE " + parent + " SET code = 'a2' WHERE id = 1"}, "INSERT INTO "+child+" (id, pid, code) VALUES (2, NULL, 'a2')")
	e.Coordinator.Wait(t, xid, txc.GlobalRollbackRetrying)
	if r.count("SELECT count(*) FROM "+child+" WHERE code = 'a2'") != 1 || r.count("SELECT count(*) FROM "+parent+" WHERE code = 'a2'") != 1 {
		t.Fatal("the rollback changed the referenced key under its child")
	}
	r.plain("DELETE FROM " + child)
	e.Coordinator.Wait(t, xid, txc.GlobalRollbacked)
	if r.count("SELECT count(*) FROM "+parent+" WHERE code = 'a'") != 1 {
		t.Fatal("the key was not changed back")
	}
	if got := e.Dump(parent); got != seed {
		t.Fatalf("parent after the rollback:\n%s\nwant:\n%s", got, seed)
	}

	// Parent and child written by two branches of one transaction.
	xid = r.rollBack([]string{"INSERT INTO " + parent + " (id, code) VALUES (6, 'f')", "INSERT INTO " + child + " (id, pid, code) VALUES (3, 6, 'f')"}, "")
	e.Coordinator.Wait(t, xid, txc.GlobalRollbacked)
	if r.count("SELECT count(*) FROM "+parent) != 1 || r.count("SELECT count(*) FROM "+child) != 0 {
		t.Fatal("rows left after the rollback")
	}
	if got := e.Dump(parent) + e.Dump(child); got != seed+none {
		t.Fatalf("after the rollback:\n%s\nwant:\n%s", got, seed+none)
	}

	// A self-referencing tree inserted by one statement.
	tree := e.Table("dt_tree", "CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, up INT, FOREIGN KEY (up) REFERENCES {t} (id) ON DELETE CASCADE)",
		"INSERT INTO {t} (id, up) VALUES (1, NULL)")
	treeSeed := e.Dump(tree)
	xid = r.rollBack([]string{"INSERT INTO " + tree + " (id, up) VALUES (2, 1), (3, 2), (4, 3)"}, "")
	e.Coordinator.Wait(t, xid, txc.GlobalRollbacked)
	if r.count("SELECT count(*) FROM "+tree) != 1 {
		t.Fatal("inserted tree rows left")
	}
	if got := e.Dump(tree); got != treeSeed {
		t.Fatalf("tree after the rollback:\n%s\nwant:\n%s", got, treeSeed)
	}
}

// references runs the steps of referencedRowsKept.
type references struct {
	t *testing.T
	e *Env
}

// rollBack runs a global transaction that writes proxied through the
// proxy, each statement its own local transaction, then outside (unless
// empty) without it: a row written since the branches' local commits. It
// rolls back and returns the XID.
func (r references) rollBack(proxied []string, outside string) txc.XID {
	r.t.Helper()
	xid, err := r.e.Coordinator.Global(func(ctx context.Context) error {
		for _, q := range proxied {
			if _, err := r.e.Proxy.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		if outside != "" {
			if _, err := r.e.Plain.Exec(outside); err != nil {
				return err
			}
		}
		return ErrRollback
	})
	if !errors.Is(err, ErrRollback) {
		r.t.Fatal(err)
	}
	return xid
}

func (r references) count(q string) int {
	r.t.Helper()
	var n int
	if err := r.e.Plain.QueryRow(q).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

func (r references) plain(q string) {
	r.t.Helper()
	if _, err := r.e.Plain.Exec(q); err != nil {
		r.t.Fatal(err)
	}
}
