package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/txcio/txc"
)

// TestCascadeShapes: the rows referential actions write are imaged and
// restored for a composite key whose ON DELETE SET NULL names some of its
// columns (PostgreSQL 15), a partitioned referencing table, and in a
// REPEATABLE READ local transaction.
func TestCascadeShapes(t *testing.T) {
	e := newEnv(t)
	parent := e.table("cs_p", "CREATE TABLE {t} (a int, b int, n int, PRIMARY KEY (a, b))", "INSERT INTO {t} VALUES (1, 1, 1), (1, 2, 2), (2, 1, 3)")
	sub := e.table("cs_s", "CREATE TABLE {t} (id int PRIMARY KEY, a int, b int, FOREIGN KEY (a, b) REFERENCES "+parent+" ON DELETE SET NULL (b))",
		"INSERT INTO {t} VALUES (10, 1, 1), (11, 1, 2), (12, 2, 1)")
	parted := e.table("cs_pt", "CREATE TABLE {t} (id int, a int, b int, PRIMARY KEY (id), FOREIGN KEY (a, b) REFERENCES "+parent+" ON DELETE CASCADE) PARTITION BY RANGE (id)")
	e.table("cs_pt1", "CREATE TABLE {t} PARTITION OF "+parted+" FOR VALUES FROM (0) TO (100)")
	e.table("cs_pt2", "CREATE TABLE {t} PARTITION OF "+parted+" FOR VALUES FROM (100) TO (200)", "INSERT INTO "+parted+" VALUES (1, 1, 1), (150, 1, 1), (151, 2, 1)")
	tables := []string{parent, sub, parted}
	dumps := func() string {
		var s string
		for _, tb := range tables {
			s += e.dump(tb) + "--\n"
		}
		return s
	}
	before := dumps()
	for _, level := range []sql.IsolationLevel{sql.LevelReadCommitted, sql.LevelRepeatableRead} {
		var changed string
		xid, err := e.global(func(ctx context.Context) error {
			tx, err := e.db.BeginTx(ctx, &sql.TxOptions{Isolation: level})
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+parent+" WHERE a = 1 AND b = 1"); err != nil {
				return err
			}
			if err := tx.Commit(); err != nil {
				return err
			}
			changed = dumps()
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("%v: %v", level, err)
		}
		if want := "(1,2,2)\n(2,1,3)\n--\n(10,1,)\n(11,1,2)\n(12,2,1)\n--\n(151,2,1)\n--\n"; changed != want {
			t.Fatalf("%v: after the DELETE:\n%s\nwant:\n%s", level, changed, want)
		}
		e.wait(xid, txc.GlobalRollbacked)
		if got := dumps(); got != before {
			t.Fatalf("%v: rolled back:\n%s\nbefore:\n%s", level, got, before)
		}
	}
}
