package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/txcio/txc"
)

// TestIdentityAlwaysRollback: rows of a table whose key is GENERATED
// ALWAYS AS IDENTITY, deleted and updated in a global transaction, are
// restored by its rollback with their own ids (the rollback re-inserts
// them OVERRIDING SYSTEM VALUE), and the identity sequence is left where
// phase 1 left it: the next insert gets the id it would have got had the
// transaction committed. Ids drawn by rows the rolled-back transaction
// inserted stay drawn (a gap, as after any rolled-back insert). A column
// referenced by a foreign key that is an identity outside the key does
// not hold up the rollback of an UPDATE (its images leave it out).
func TestIdentityAlwaysRollback(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_idal", identityTwice, "INSERT INTO {t} (n) VALUES (1), (2), (3)", "ALTER TABLE {t} ADD UNIQUE (k)")
	e.table("at_idal_ch", "CREATE TABLE {t} (id int PRIMARY KEY, pk bigint REFERENCES "+tb+" (k))", "INSERT INTO {t} VALUES (1, 101)")
	seed := e.dump(tb)
	xid := e.rolledBackRun("DELETE FROM "+tb+" WHERE id IN (1, 3)", "UPDATE "+tb+" SET n = 20 WHERE id = 2")
	e.rolledBack(xid, tb, seed)
	var id, k int64
	if err := e.plain.QueryRow("INSERT INTO "+tb+" (n) VALUES (4) RETURNING id, k").Scan(&id, &k); err != nil {
		t.Fatal(err)
	}
	if id != 4 || k != 103 {
		t.Fatalf("the insert after the rollback got id %d, k %d; want 4, 103 (the sequences untouched)", id, k)
	}
	// A rolled-back insert leaves its ids drawn.
	seed = e.dump(tb)
	xid = e.rolledBackRun("INSERT INTO "+tb+" (n) VALUES (5), (6)", "DELETE FROM "+tb+" WHERE id = 4")
	e.rolledBack(xid, tb, seed)
	if err := e.plain.QueryRow("INSERT INTO "+tb+" (n) VALUES (7) RETURNING id, k").Scan(&id, &k); err != nil {
		t.Fatal(err)
	}
	if id != 7 || k != 106 {
		t.Fatalf("the insert after the second rollback got id %d, k %d; want 7, 106", id, k)
	}
}

// rolledBackRun runs statements through the proxy in a global transaction
// that then rolls back, and returns its XID.
func (e *env) rolledBackRun(stmts ...string) txc.XID {
	e.t.Helper()
	xid, err := e.global(func(ctx context.Context) error {
		for _, q := range stmts {
			if _, err := e.db.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		e.t.Fatalf("global run: %v", err)
	}
	return xid
}
