package postgres_test

import (
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
	e.stmtsRollBack(tb, seed, "DELETE FROM "+tb+" WHERE id IN (1, 3)", "UPDATE "+tb+" SET n = 20 WHERE id = 2")
	var id, k int64
	if err := e.plain.QueryRow("INSERT INTO "+tb+" (n) VALUES (4) RETURNING id, k").Scan(&id, &k); err != nil {
		t.Fatal(err)
	}
	if id != 4 || k != 103 {
		t.Fatalf("the insert after the rollback got id %d, k %d; want 4, 103 (the sequences untouched)", id, k)
	}
	// A rolled-back insert leaves its ids drawn.
	seed = e.dump(tb)
	e.stmtsRollBack(tb, seed, "INSERT INTO "+tb+" (n) VALUES (5), (6)", "DELETE FROM "+tb+" WHERE id = 4")
	if err := e.plain.QueryRow("INSERT INTO "+tb+" (n) VALUES (7) RETURNING id, k").Scan(&id, &k); err != nil {
		t.Fatal(err)
	}
	if id != 7 || k != 106 {
		t.Fatalf("the insert after the second rollback got id %d, k %d; want 7, 106", id, k)
	}
}

// stmtsRollBack runs stmts through the proxy in a global transaction that
// then rolls back, and checks that table holds want (a dump) afterwards.
func (e *env) stmtsRollBack(table, want string, stmts ...string) {
	e.t.Helper()
	if err, st := e.rollbackOne(e.db, stmts...); err != nil || st != txc.GlobalRollbacked {
		e.t.Fatalf("global run: %v, %v", err, st)
	}
	if got := e.dump(table); got != want {
		e.t.Fatalf("rolled back:\n%s\nwant:\n%s", got, want)
	}
}
