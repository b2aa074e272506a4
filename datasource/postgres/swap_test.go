package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestUniqueSwapRestored: under a DEFERRABLE unique constraint (checked at
// the end of each statement) one UPDATE can exchange or rotate values of
// a unique column, or of the primary key, between rows; writing them back
// one at a time would meet the constraint half-way. The rollback restores
// them exactly.
func TestUniqueSwapRestored(t *testing.T) {
	const uniq = "CREATE TABLE {T} (id int PRIMARY KEY, u text NOT NULL UNIQUE DEFERRABLE, n int)"
	const pkey = "CREATE TABLE {T} (id int PRIMARY KEY DEFERRABLE, u text NOT NULL, n int)"
	const later = "CREATE TABLE {T} (id int PRIMARY KEY, u text NOT NULL UNIQUE DEFERRABLE INITIALLY DEFERRED, n int)"
	const seed = "INSERT INTO {T} VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)"
	for _, c := range []struct{ name, def, stmt string }{
		{"swap", uniq, "UPDATE {T} SET u = CASE u WHEN 'a' THEN 'b' ELSE 'a' END, n = n + 1 WHERE id IN (1, 2)"},
		{"rotation", uniq, "UPDATE {T} SET u = CASE u WHEN 'a' THEN 'b' WHEN 'b' THEN 'c' ELSE 'a' END"},
		{"initially deferred", later, "UPDATE {T} SET u = CASE u WHEN 'a' THEN 'c' WHEN 'c' THEN 'a' ELSE u END"},
		{"upsert", uniq, "INSERT INTO {T} VALUES (1, 'b', 0), (2, 'a', 0) ON CONFLICT (id) DO UPDATE SET u = excluded.u"},
		{"primary key swap", pkey, "UPDATE {T} SET id = 3 - id WHERE id IN (1, 2)"},
		{"primary key rotation", pkey, "UPDATE {T} SET id = id % 3 + 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			tb := e.table("at_swap", c.def, seed)
			e.suite().ChangesThenRollsBack(t, tb, strings.ReplaceAll(c.stmt, "{T}", `"`+tb+`"`))
		})
	}
}

// TestRollbackFailingForGoodParks: a rollback that fails with the same
// persistent error every time (a CHECK constraint added after phase 1
// that the before image breaks) parks the transaction instead of being
// retried forever; once the cause is gone, a retry restores the rows.
func TestRollbackFailingForGoodParks(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_park", "CREATE TABLE {T} (id int PRIMARY KEY, n int)", "INSERT INTO {T} VALUES (1, 10), (2, 20)")
	before := e.dump(tb)
	var changed string
	xid, err := e.global(func(ctx context.Context) error {
		if _, err := e.db.ExecContext(ctx, `UPDATE "`+tb+`" SET n = n + 100`); err != nil {
			return err
		}
		changed = e.dump(tb)
		e.exec(`ALTER TABLE "` + tb + `" ADD CONSTRAINT big CHECK (n > 100)`)
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.parked(xid, tb, changed)
	e.exec(`ALTER TABLE "` + tb + `" DROP CONSTRAINT big`)
	e.retry(xid)
	e.rolledBack(xid, tb, before)
}
