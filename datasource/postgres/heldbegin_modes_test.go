package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
)

// TestHeldBeginFirstStatementModes: whatever the first statement of
// a local transaction whose BEGIN is held back, and whatever pgx's query
// exec mode (the folded BEGIN goes in a batch, which each mode sends
// differently), the write runs inside the transaction: another session
// does not see it before the commit, and the global rollback undoes it.
func TestHeldBeginFirstStatementModes(t *testing.T) {
	e := newEnv(t)
	var db *sql.DB
	var outside *sql.Stmt // prepared on db before the transaction
	firsts := []struct {
		name string
		run  func(ctx context.Context, tx *sql.Tx, tbl string) error
	}{
		{"update", func(ctx context.Context, tx *sql.Tx, tbl string) error {
			_, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = 0 WHERE id = 1")
			return err
		}},
		{"update args", func(ctx context.Context, tx *sql.Tx, tbl string) error {
			_, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = $1 WHERE id = $2", 0, 1)
			return err
		}},
		{"delete", func(ctx context.Context, tx *sql.Tx, tbl string) error {
			_, err := tx.ExecContext(ctx, "DELETE FROM "+tbl+" WHERE id = 2")
			return err
		}},
		{"insert", func(ctx context.Context, tx *sql.Tx, tbl string) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO "+tbl+" VALUES (3, 3)")
			return err
		}},
		{"upsert", func(ctx context.Context, tx *sql.Tx, tbl string) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO "+tbl+" VALUES (1, 7) ON CONFLICT (id) DO UPDATE SET v = excluded.v")
			return err
		}},
		{"insert returning", func(ctx context.Context, tx *sql.Tx, tbl string) error {
			var id int
			return tx.QueryRowContext(ctx, "INSERT INTO "+tbl+" VALUES ($1, 3) RETURNING id", 3).Scan(&id)
		}},
		{"prepared outside", func(ctx context.Context, tx *sql.Tx, tbl string) error {
			_, err := tx.StmtContext(ctx, outside).ExecContext(ctx, 0, 1)
			return err
		}},
		{"for update then write", func(ctx context.Context, tx *sql.Tx, tbl string) error {
			var v int
			if err := tx.QueryRowContext(ctx, "SELECT v FROM "+tbl+" WHERE id = 1 FOR UPDATE").Scan(&v); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = 0 WHERE id = 1")
			return err
		}},
		{"savepoint then write", func(ctx context.Context, tx *sql.Tx, tbl string) error {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT a"); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = 0 WHERE id = 1")
			return err
		}},
		{"refused merge then write", func(ctx context.Context, tx *sql.Tx, tbl string) error {
			// PostgreSQL 15: MERGE is refused after serverVersion sent the BEGIN.
			_, _ = tx.ExecContext(ctx, "MERGE INTO "+tbl+" t USING (VALUES (1, 5)) s(id, v) ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v")
			_, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = 0 WHERE id = 1")
			return err
		}},
	}
	for _, mode := range []string{"cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol"} {
		db = e.open("default_query_exec_mode=" + mode)
		db.SetMaxOpenConns(1)
		for i, f := range firsts {
			t.Run(mode+"/"+f.name, func(t *testing.T) {
				tbl := e.table(fmt.Sprintf("hbr_%d", i), "CREATE TABLE {T} (id INT PRIMARY KEY, v INT)", "INSERT INTO {T} VALUES (1, 100), (2, 100)")
				orig := e.dump(tbl)
				var err error
				if outside, err = db.Prepare("UPDATE " + tbl + " SET v = $1 WHERE id = $2"); err != nil {
					t.Fatal(err)
				}
				defer outside.Close()
				xid, err := e.global(func(ctx context.Context) error {
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					defer tx.Rollback()
					if err := f.run(ctx, tx, tbl); err != nil {
						return err
					}
					if got := e.dump(tbl); got != orig {
						t.Errorf("another session sees the first write before the commit (it ran outside the transaction): %q", got)
					}
					if err := tx.Commit(); err != nil {
						return err
					}
					return errRollback
				})
				if !errors.Is(err, errRollback) {
					t.Fatalf("got %v", err)
				}
				e.rolledBack(xid, tbl, orig)
			})
		}
	}
}
