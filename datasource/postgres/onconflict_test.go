package postgres_test

import (
	"context"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
)

// TestOnConflictDefaultKeyCollision: an ON CONFLICT DO UPDATE whose new
// rows leave the arbiter to its default runs (see the statement case
// insert/on-conflict-default-key), but when the default gives the key of
// an existing row, which the before image could not look up, the row it
// updated has no before image: the statement fails with ErrUnsupported
// saying so, its local transaction rolls back, and the table is as it was.
// Two defaults: a sequence behind keys written without it (also on a
// partitioned table, whose RETURNING cannot read xmax), a constant.
func TestOnConflictDefaultKeyCollision(t *testing.T) {
	e := newEnv(t)
	lagging := e.table("at_ocd", serial, "INSERT INTO {t} (id, n) VALUES (1, 1), (2, 2)")
	constant := e.table("at_occ", kv, kvSeed, "INSERT INTO {t} (id, n) VALUES (5, 50)")
	part := e.table("at_ocp", "CREATE TABLE {t} (id bigserial PRIMARY KEY, n int) PARTITION BY RANGE (id)")
	e.table("at_ocp1", "CREATE TABLE {t} PARTITION OF "+part+" FOR VALUES FROM (0) TO (1000)", "INSERT INTO "+part+" (id, n) VALUES (1, 1)")
	for _, c := range []struct{ table, q string }{
		{lagging, "INSERT INTO " + lagging + " (n) VALUES (9) ON CONFLICT (id) DO UPDATE SET n = excluded.n"},
		{lagging, "INSERT INTO " + lagging + " (id, n) VALUES (3, 3), (DEFAULT, 9) ON CONFLICT (id) DO UPDATE SET n = excluded.n"},
		{constant, "INSERT INTO " + constant + " (id, n) VALUES (9, 9) ON CONFLICT (s) DO UPDATE SET n = 0"},
		{part, "INSERT INTO " + part + " (n) VALUES (9) ON CONFLICT (id) DO UPDATE SET n = excluded.n"},
	} {
		seed := e.dump(c.table)
		err, st := e.rollbackOne(e.db, c.q)
		wantRanAndFailed(t, err, "the default gave an existing row's key")
		if st != txc.GlobalRollbacked {
			t.Fatalf("%s: %v", c.q, st)
		}
		if got := e.dump(c.table); got != seed {
			t.Fatalf("%s: rolled back:\n%s\nwant:\n%s", c.q, got, seed)
		}
	}
	// Once the sequence has passed the keys written without it, the same
	// statement inserts, commits and rolls back.
	e.exec("SELECT setval(pg_get_serial_sequence('" + part + "', 'id'), 10)")
	seed := e.dump(part)
	e.stmtsRollBack(part, seed, "INSERT INTO "+part+" (n) VALUES (9), (10) ON CONFLICT (id) DO UPDATE SET n = excluded.n")
	if _, err := e.global(func(ctx context.Context) error {
		_, err := e.db.ExecContext(ctx, "INSERT INTO "+part+" AS x (id, n) VALUES (1, 5), (DEFAULT, 11) ON CONFLICT (id) DO UPDATE SET n = x.n + excluded.n")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := e.dump(part), "(1,6)\n(13,11)\n"; got != want {
		t.Fatalf("committed:\n%s\nwant:\n%s", got, want)
	}
}

// TestOnConflictInexactArbiterRefused: an ON CONFLICT DO UPDATE whose
// arbiter is NULLS NOT DISTINCT, or indexes its column under another
// (nondeterministic) collation than the column's, updated a row the
// before image's lookup by the columns' equality did not find (NULL,
// 'A' for 'a'): the statement ran and then failed as a concurrent
// insert to retry, which failed the same way every time. It is refused
// before it runs; the same upsert on an exact key still rolls back.
func TestOnConflictInexactArbiterRefused(t *testing.T) {
	e := newEnv(t)
	coll := dbtest.Name("at_ci")
	e.exec("CREATE COLLATION " + coll + " (provider = icu, locale = 'und-u-ks-level2', deterministic = false)")
	t.Cleanup(func() { e.plain.Exec("DROP COLLATION IF EXISTS " + coll + " CASCADE") })
	nnd := e.table("at_ocnnd", "CREATE TABLE {t} (id int PRIMARY KEY, u int CONSTRAINT {t}_u UNIQUE NULLS NOT DISTINCT, n int)", "INSERT INTO {t} VALUES (1, NULL, 1)")
	ci := e.table("at_occi", "CREATE TABLE {t} (id int PRIMARY KEY, s text, n int)", "CREATE UNIQUE INDEX {t}_s ON {t} (s COLLATE "+coll+")",
		"INSERT INTO {t} VALUES (1, 'a', 1)")
	for _, c := range []struct{ table, q string }{
		{nnd, "INSERT INTO " + nnd + " VALUES (2, NULL, 2) ON CONFLICT (u) DO UPDATE SET n = 9"},
		{nnd, "INSERT INTO " + nnd + " VALUES (2, NULL, 2) ON CONFLICT ON CONSTRAINT " + nnd + "_u DO UPDATE SET n = 9"},
		{ci, "INSERT INTO " + ci + " VALUES (2, 'A', 2) ON CONFLICT (s) DO UPDATE SET n = 9"},
	} {
		seed := e.dump(c.table)
		err, _ := e.rollbackOne(e.db, c.q)
		wantRefused(t, err, "the rows it would update cannot be looked up before it runs")
		if got := e.dump(c.table); got != seed {
			t.Fatalf("%s: changed:\n%s", c.q, got)
		}
	}
	e.stmtsRollBack(nnd, e.dump(nnd), "INSERT INTO "+nnd+" VALUES (1, 5, 5) ON CONFLICT (id) DO UPDATE SET n = 9")
}
