package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
)

// The session TimeZone of the application's connections in these tests;
// the phase-2 pool (same DSN, no SET) keeps the server's default.
const (
	tzApp   = "Asia/Tokyo"
	tzOther = "America/New_York"
	tzThird = "Europe/Paris"
)

// tzTable creates a table whose images depend on the session TimeZone:
// timestamptz inside an array, a composite, an array of composites and a
// range (read as text in the session's zone), next to a top-level
// timestamptz (imaged in UTC). Seeded with rows 1 to 6. It returns the
// table's and the composite type's names.
func tzTable(e *env) (table, comp string) {
	e.t.Helper()
	comp = dbtest.Name("at_tzc")
	e.exec("CREATE TYPE " + comp + " AS (at timestamptz, n int)")
	e.t.Cleanup(func() { e.plain.Exec("DROP TYPE IF EXISTS " + comp + " CASCADE") })
	return e.table("at_tz", "CREATE TABLE {t} (id int PRIMARY KEY, ts timestamptz, arr timestamptz[], c "+comp+", ca "+comp+"[], r tstzrange, n int)",
		`INSERT INTO {t} SELECT i, '2024-01-01 00:00:00+00'::timestamptz + i * interval '7 hours 3 minutes',
 ARRAY['2024-06-30 23:59:59.5+02'::timestamptz + i * interval '1 day', '-infinity', NULL],
 ROW('2024-03-10 02:30:00.000001-05'::timestamptz + i * interval '1 hour', i)::`+comp+`,
 ARRAY[ROW('2000-01-01 00:00:00+00'::timestamptz - i * interval '1 minute', -i)::`+comp+`],
 tstzrange('2024-01-01 00:00:00+00'::timestamptz + i * interval '1 hour', '2024-01-02 12:00:00+05:30'),
 i FROM generate_series(1, 6) i`), comp
}

// zonedConn returns a connection of the proxy pinned for the test whose
// session TimeZone was set, outside any global transaction, to tz, and
// checks that the phase-2 pool's connections (fresh ones of the same DSN,
// as the plain pool's) are in another zone.
func zonedConn(e *env, tz string) *sql.Conn {
	e.t.Helper()
	c, err := e.db.Conn(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	if _, err := c.ExecContext(context.Background(), "SET TimeZone = '"+tz+"'"); err != nil {
		e.t.Fatal(err)
	}
	var app, fresh string
	if err := c.QueryRowContext(context.Background(), "SHOW TimeZone").Scan(&app); err != nil {
		e.t.Fatal(err)
	}
	if err := e.plain.QueryRow("SHOW TimeZone").Scan(&fresh); err != nil {
		e.t.Fatal(err)
	}
	if app != tz || fresh == tz {
		e.t.Fatalf("session TimeZone %q, fresh connections' %q: the test needs %q on the application's side only", app, fresh, tz)
	}
	return c
}

// execAll runs statements in tx, failing the test on error.
func execAll(t *testing.T, ctx context.Context, tx *sql.Tx, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// rolledBackExactly waits for xid to end and checks that it rolled back
// with no undo row left and the table as dumped before (e's test fails).
func rolledBackExactly(e *env, xid txc.XID, table, want string) {
	e.t.Helper()
	if st := e.wait(xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed, txc.GlobalTimeoutRollbackFailed); st != txc.GlobalRollbacked {
		e.t.Fatalf("transaction %s ended %v, want Rollbacked (a dirty write reported for rows nothing else wrote?)", xid, st)
	}
	if n := e.undoRows(xid); n != 0 {
		e.t.Fatalf("%d undo rows left", n)
	}
	if got := e.dump(table); got != want {
		e.t.Fatalf("not restored:\nwant\n%s\ngot\n%s", want, got)
	}
}

// TestRollbackInPhaseOneTimeZone: rows with timestamptz inside arrays,
// composites and ranges, written by a session in another TimeZone than
// the rollback's, are restored exactly: the undo log records the phase-1
// zone and the rollback reads the rows in it (without it, the rollback
// reads the rows as other text and reports a dirty write).
func TestRollbackInPhaseOneTimeZone(t *testing.T) {
	e := newEnv(t)
	tb, comp := tzTable(e)
	want := e.dump(tb)
	c := zonedConn(e, tzApp)
	xid, err := e.global(func(ctx context.Context) error {
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		execAll(t, ctx, tx,
			// Joined UPDATE; a zone-less literal is read in the session's zone.
			"UPDATE "+tb+" SET arr = arr || '2025-05-05 05:05:05'::timestamptz, c = ROW((c).at + interval '1 hour', (c).n + 10), r = tstzrange(lower(r), '2030-01-01'), n = n + 1 WHERE id IN (1, 2)",
			// A key change: before image first, then the write.
			"UPDATE "+tb+" SET id = id + 100, ts = '2026-02-02 02:02:02' WHERE id = 3",
			"DELETE FROM "+tb+" WHERE id = 4",
			"INSERT INTO "+tb+" VALUES (7, now(), ARRAY[now(), '1999-12-31 23:59:59'], ROW(now(), 7), ARRAY[ROW('2001-01-01', 7)::"+comp+"], tstzrange(now(), NULL), 7)",
			"INSERT INTO "+tb+" (id, arr, n) VALUES (5, '{\"2020-02-29 12:00:00\"}', 0) ON CONFLICT (id) DO UPDATE SET arr = excluded.arr || "+tb+".arr, n = excluded.n",
		)
		// A write whose RETURNING rows the application reads.
		var id int
		if err := tx.QueryRowContext(ctx, "UPDATE "+tb+" SET ca = ca || ROW('2011-11-11 11:11:11', 6)::"+comp+" WHERE id = 6 RETURNING id").Scan(&id); err != nil || id != 6 {
			t.Fatalf("UPDATE … RETURNING: id %d, %v", id, err)
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		// A write in a local transaction of its own (autocommit).
		if _, err := c.ExecContext(ctx, "UPDATE "+tb+" SET arr = arr || '2027-07-07 07:07:07'::timestamptz WHERE id = 1"); err != nil {
			t.Fatal(err)
		}
		if got := e.dump(tb); got == want {
			t.Fatal("the global transaction changed nothing")
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	rolledBackExactly(e, xid, tb, want)
}

// TestRollbackTimeZoneChangedInTransaction: a local transaction that
// changes its session's TimeZone. Before its first write, the next write
// probes the session again and its undo log records the new zone; after a
// write, a write in another zone is refused before it runs (one undo log
// holds one zone) and the rows imaged before still roll back exactly.
func TestRollbackTimeZoneChangedInTransaction(t *testing.T) {
	t.Run("between writes", func(t *testing.T) {
		e := newEnv(t)
		tb, _ := tzTable(e)
		want := e.dump(tb)
		c := zonedConn(e, tzApp)
		xid, err := e.global(func(ctx context.Context) error {
			tx, err := c.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			execAll(t, ctx, tx, "UPDATE "+tb+" SET arr = arr || now(), c = ROW((c).at, 99) WHERE id = 1",
				"SET TIME ZONE '"+tzOther+"'")
			for _, q := range []string{
				"UPDATE " + tb + " SET arr = arr || now() WHERE id = 2",
				"DELETE FROM " + tb + " WHERE id = 3",
				"INSERT INTO " + tb + " (id, arr) VALUES (8, ARRAY[now()])",
			} {
				_, err := tx.ExecContext(ctx, q)
				if !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "TimeZone changed") || !strings.Contains(err.Error(), "refused") {
					t.Fatalf("%s after SET TIME ZONE: err = %v, want a refusal naming the TimeZone change", q, err)
				}
			}
			// set_config back to the zone the rows were imaged in: writes
			// are accepted again.
			execAll(t, ctx, tx, "SELECT pg_catalog.set_config('TimeZone', '"+tzApp+"', false)",
				"UPDATE "+tb+" SET arr = '{}' WHERE id = 2")
			for _, set := range []string{"SET TimeZone = '" + tzThird + "'", "RESET TIME ZONE", "SET LOCAL TIME ZONE '" + tzOther + "'"} {
				execAll(t, ctx, tx, set)
				if _, err := tx.ExecContext(ctx, "DELETE FROM "+tb+" WHERE id = 3"); !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "TimeZone changed") {
					t.Fatalf("DELETE after %s: err = %v, want a refusal naming the TimeZone change", set, err)
				}
			}
			execAll(t, ctx, tx, "SET TIME ZONE '"+tzApp+"'", "DELETE FROM "+tb+" WHERE id = 3")
			if err := tx.Commit(); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		rolledBackExactly(e, xid, tb, want)
	})

	t.Run("before the first write", func(t *testing.T) {
		e := newEnv(t)
		tb, _ := tzTable(e)
		want := e.dump(tb)
		c := zonedConn(e, tzApp)
		xid, err := e.global(func(ctx context.Context) error {
			// The locking read probes the table in Tokyo's zone; SET TIME
			// ZONE drops the probe, so the UPDATE's undo log records
			// New York's.
			tx, err := c.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT id FROM "+tb+" WHERE id <= 2 FOR UPDATE) l").Scan(&n); err != nil {
				return err
			}
			// A write of no rows images nothing: it does not bind the
			// local transaction to Tokyo's zone.
			execAll(t, ctx, tx, "SELECT id FROM "+tb+" WHERE id = 1 FOR UPDATE",
				"UPDATE "+tb+" SET n = 0 WHERE id = 1000",
				"SET TIME ZONE '"+tzOther+"'",
				"UPDATE "+tb+" SET arr = arr || '2025-01-01 00:00:00'::timestamptz, r = tstzrange('2025-01-01', NULL) WHERE id = 1")
			if err := tx.Commit(); err != nil {
				return err
			}
			// A second local transaction, begun in New York's zone,
			// moves to Paris's through set_config before it writes.
			tx, err = c.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			execAll(t, ctx, tx, "SELECT id FROM "+tb+" WHERE id = 2 FOR UPDATE",
				"SELECT pg_catalog.set_config('TimeZone', '"+tzThird+"', false)",
				"DELETE FROM "+tb+" WHERE id = 2",
				"UPDATE "+tb+" SET c = ROW('2025-07-01 12:00:00', 3), ca = '{}' WHERE id = 3",
				"INSERT INTO "+tb+" (id, arr, c) VALUES (9, ARRAY['2025-07-01 12:00:00'::timestamptz], ROW('2025-07-01 12:00:00', 9))")
			if err := tx.Commit(); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		rolledBackExactly(e, xid, tb, want)
	})
}
