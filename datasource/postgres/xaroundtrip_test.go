package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	txcpg "github.com/txcio/txc/datasource/postgres"
)

// countingConn counts the writes to a server connection: each is one
// round trip's request here (pgx sends a statement, a batch or a
// pipeline in one write).
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// countedConfig is the server's configuration with the writes of its
// connections counted in writes.
func (e *xaEnv) countedConfig(writes *atomic.Int64) *pgx.ConnConfig {
	e.t.Helper()
	return countedConfig(e.t, e.dsn, writes)
}

// countedConfig is the configuration of dsn with the writes of its
// connections counted in writes.
func countedConfig(t testing.TB, dsn string, writes *atomic.Int64) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var d net.Dialer
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, writes}, nil
	}
	return cfg
}

// openCounted opens the proxy in XA mode on one connection whose writes
// are counted.
func (e *xaEnv) openCounted(writes *atomic.Int64) *sql.DB {
	e.t.Helper()
	return openCounted(e.t, e.countedConfig(writes), datasource.WithManager(e.rm), datasource.WithMode(datasource.XA))
}

// openCounted opens the proxy on cfg (see countedConfig) with opts, one
// connection, closed when the test ends.
func openCounted(t testing.TB, cfg *pgx.ConnConfig, opts ...datasource.Option) *sql.DB {
	t.Helper()
	db, err := txcpg.OpenDB(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestXARoundTrips: the first statement of a branch goes with its BEGIN
// (one round trip, with or without arguments) and behaves as it would
// alone.
func TestXARoundTrips(t *testing.T) {
	e := newXAEnv(t)
	var writes atomic.Int64
	db := e.openCounted(&writes)

	// Each case commits a global transaction whose branch runs one
	// statement; the first run of a text with arguments also prepares it
	// (a round trip of its own), so only later runs are counted.
	t.Run("FirstStatementWithBegin", func(t *testing.T) {
		e.t = t
		tbl := e.table("CREATE TABLE %s (id INT, v INT)", "INSERT INTO %s VALUES (1, 10), (1, 20), (2, 30)")
		withArgs := "UPDATE " + tbl + " SET v = v + 1 WHERE id = $1"
		for _, tc := range []struct {
			name, query string
			args        []any
			count       bool
		}{
			{"arguments, new text", withArgs, []any{1}, false},
			{"arguments", withArgs, []any{1}, true},
			{"no arguments", "UPDATE " + tbl + " SET v = v + 1 WHERE id = 1", nil, true},
		} {
			var sent, affected int64
			xid, err := e.global(func(ctx context.Context) error {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				defer tx.Rollback()
				before := writes.Load()
				res, err := tx.ExecContext(ctx, tc.query, tc.args...)
				if err != nil {
					return err
				}
				sent = writes.Load() - before
				if affected, err = res.RowsAffected(); err != nil {
					return err
				}
				return tx.Commit()
			})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			e.wait(xid, txc.GlobalCommitted)
			e.waitNoPrepared(xid)
			if tc.count && sent != 1 {
				t.Errorf("%s: BEGIN and the first statement took %d requests, want 1", tc.name, sent)
			}
			if affected != 2 {
				t.Errorf("%s: %d rows affected, want 2", tc.name, affected)
			}
		}
		var sum int
		if err := e.plain.QueryRow("SELECT SUM(v) FROM " + tbl + " WHERE id = 1").Scan(&sum); err != nil || sum != 36 {
			t.Fatalf("sum %d (%v), want 36", sum, err)
		}
	})

	// A first statement the server refuses leaves the branch begun and
	// failed: Commit fails, nothing is prepared, the global rolls back.
	t.Run("FirstStatementFails", func(t *testing.T) {
		e.t = t
		tbl := e.table("CREATE TABLE %s (id INT PRIMARY KEY, v INT)", "INSERT INTO %s VALUES (1, 10)")
		for _, args := range [][]any{{1, 11}, nil} {
			q := "INSERT INTO " + tbl + " VALUES ($1, $2)"
			if args == nil {
				q = "INSERT INTO " + tbl + " VALUES (1, 11)"
			}
			var execErr, commitErr error
			xid, err := e.global(func(ctx context.Context) error {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				_, execErr = tx.ExecContext(ctx, q, args...)
				commitErr = tx.Commit()
				return commitErr
			})
			var pe *pgconn.PgError
			if !errors.As(execErr, &pe) || pe.Code != "23505" {
				t.Fatalf("args %v: first statement: %v, want a unique violation", args, execErr)
			}
			if !errors.Is(commitErr, txc.ErrRolledBack) || err == nil {
				t.Fatalf("args %v: commit: %v (global %v)", args, commitErr, err)
			}
			e.wait(xid, txc.GlobalRollbacked)
			if n := e.prepared(xid); n != 0 || e.value(tbl, 1) != 10 {
				t.Fatalf("args %v: %d prepared, v = %d", args, n, e.value(tbl, 1))
			}
		}
	})

	// BeginTx's isolation level and read-only flag reach the BEGIN sent
	// with the first statement.
	t.Run("TxOptions", func(t *testing.T) {
		e.t = t
		tbl := e.table("CREATE TABLE %s (id INT, v INT)", "INSERT INTO %s VALUES (1, 10)")
		var level string
		var roErr error
		_, err := e.global(func(ctx context.Context) error {
			tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = $1", 11); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, "SELECT current_setting('transaction_isolation')").Scan(&level); err != nil {
				return err
			}
			if err := tx.Commit(); err != nil {
				return err
			}
			ro, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
			if err != nil {
				return err
			}
			defer ro.Rollback()
			_, roErr = ro.ExecContext(ctx, "UPDATE "+tbl+" SET v = $1", 12)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var pe *pgconn.PgError
		if level != "serializable" || !errors.As(roErr, &pe) || pe.Code != "25006" {
			t.Fatalf("isolation %q, read-only update: %v", level, roErr)
		}
	})
}
