package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/txcio/txc"
	txcmysql "github.com/txcio/txc/datasource/mysql"
)

// TestReturningAt: the word RETURNING is found outside strings, quoted
// names, comments and parentheses, in INSERT, REPLACE and DELETE only.
func TestReturningAt(t *testing.T) {
	for _, c := range []struct {
		q    string
		want []int
	}{
		{"INSERT INTO t (a) VALUES (1) RETURNING a", []int{29}},
		{"  /* x */ insert into t values (1) returning *", []int{35}},
		{"REPLACE t VALUES ('RETURNING', \"RETURNING\", `RETURNING`) RETURNING id", []int{57}},
		{"DELETE FROM t WHERE s = 'it''s \\' RETURNING' # RETURNING\n RETURNING id", []int{58}},
		{"INSERT INTO t SET returning = 1 RETURNING id", []int{18, 32}},
		{"INSERT INTO t (x) SELECT returning FROM (SELECT 1 returning) d -- RETURNING", []int{25}},
		{"INSERT INTO t SET a = @returning, b = t.returning", nil},
		{"UPDATE t SET a = 1 RETURNING a", nil},
		{"SELECT 1 RETURNING", nil},
		{"DELETE FROM t WHERE s = 'unterminated RETURNING", nil},
	} {
		if got := txcmysql.ReturningAt(c.q); !slices.Equal(got, c.want) {
			t.Errorf("%q: %v, want %v", c.q, got, c.want)
		}
	}
}

// TestReturning: MariaDB's INSERT, INSERT IGNORE, ON DUPLICATE KEY
// UPDATE, REPLACE, INSERT … SELECT and DELETE with a RETURNING list, run
// as a query in a global transaction, return the rows plain MariaDB
// returns, leave the table as plain MariaDB does when committed, and as
// it was when rolled back; run with Exec, they report the rows they
// wrote. A RETURNING list that could write, or take an argument, is
// refused.
func TestReturning(t *testing.T) {
	e := newEnv(t, "")
	const def = "CREATE TABLE {t} (id BIGINT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL, s VARCHAR(40) NOT NULL DEFAULT 'd')"
	const seed = "INSERT INTO {t} (id, n, s) VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, 'c')"
	for _, c := range []struct {
		q    string
		args []any
	}{
		{"INSERT INTO {t} (n) VALUES (5), (?) RETURNING id, n", []any{6}},
		{"INSERT INTO {t} (id, n, s) VALUES (50, 1, 'x RETURNING y') RETURNING id, n * 2 AS twice, CONCAT(s, '!')", nil},
		{"INSERT IGNORE INTO {t} (id, n) VALUES (1, 9), (60, 9) RETURNING id, n", nil},
		{"INSERT INTO {t} (id, n) VALUES (1, 99), (70, 7), (2, 20) ON DUPLICATE KEY UPDATE n = VALUES(n) RETURNING id, n", nil},
		{"INSERT INTO {t} (id, n) VALUES (1, 1), (DEFAULT, 2) ON DUPLICATE KEY UPDATE id = id RETURNING id, n", nil},
		{"REPLACE INTO {t} (id, n) VALUES (2, 22), (80, 8) RETURNING id, n, s", nil},
		{"INSERT INTO {t} (n) SELECT n + 100 FROM {t} WHERE id <= ? RETURNING id", []any{2}},
		{"DELETE FROM {t} WHERE id IN (1, 3) RETURNING id, n", nil},
		{"delete /* RETURNING */ from {t} where s = 'b' returning *", nil},
	} {
		t.Run(c.q, func(t *testing.T) {
			plain, proxied, rolled := e.table("at_rtp", def, seed), e.table("at_rtc", def, seed), e.table("at_rtr", def, seed)
			want, err := queryRows(context.Background(), e.plain, strings.ReplaceAll(c.q, "{t}", plain), c.args)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			xid, err := e.global(func(ctx context.Context) error {
				got, err = queryRows(ctx, e.db, strings.ReplaceAll(c.q, "{t}", proxied), c.args)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			e.wait(xid, txc.GlobalCommitted)
			if got != want {
				t.Fatalf("returned:\n%s\nplain MariaDB returns:\n%s", got, want)
			}
			if got, want := e.dump(proxied), e.dump(plain); got != want {
				t.Fatalf("committed:\n%s\nplain:\n%s", got, want)
			}
			before := e.dump(rolled)
			e.rollBack(func(ctx context.Context) error {
				_, err := queryRows(ctx, e.db, strings.ReplaceAll(c.q, "{t}", rolled), c.args)
				return err
			})
			if got := e.dump(rolled); got != before {
				t.Fatalf("rolled back:\n%s\nbefore:\n%s", got, before)
			}
		})
	}
	tb := e.table("at_rte", def, seed)
	e.rollBack(func(ctx context.Context) error {
		res, err := e.db.ExecContext(ctx, "INSERT INTO "+tb+" (n) VALUES (1), (2) RETURNING id")
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); n != 2 || err != nil {
			return fmt.Errorf("rows affected %d, %v", n, err)
		}
		return nil
	})
	for _, q := range []string{
		"INSERT INTO " + tb + " (n) VALUES (1) RETURNING NOW()",
		"INSERT INTO " + tb + " (n) VALUES (1) RETURNING id, (SELECT COUNT(*) FROM " + tb + ")",
		"INSERT INTO " + tb + " (n) VALUES (1) RETURNING id + ?",
		"UPDATE " + tb + " SET n = 1 RETURNING id",
	} {
		_, err := e.global(func(ctx context.Context) error {
			_, err := queryRows(ctx, e.db, q, nil)
			return err
		})
		if !errors.Is(err, txc.ErrRefused) {
			t.Errorf("%s: err = %v, want a refusal", q, err)
		}
	}
}

// queryRows runs q on db and returns its columns and rows as text.
func queryRows(ctx context.Context, db *sql.DB, q string, args []any) (string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for _, c := range cols {
		fmt.Fprintf(&sb, "%s %s|", c.Name(), c.DatabaseTypeName())
	}
	sb.WriteString("\n")
	vals := make([]any, len(cols))
	for i := range vals {
		vals[i] = new(any)
	}
	for rows.Next() {
		if err := rows.Scan(vals...); err != nil {
			return "", err
		}
		for _, v := range vals {
			fmt.Fprintf(&sb, "%#v|", *v.(*any))
		}
		sb.WriteString("\n")
	}
	return sb.String(), rows.Err()
}
