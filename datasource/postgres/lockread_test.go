package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestLockingReadRunsOnce: a SELECT … FOR UPDATE in a global transaction
// runs on the server once (its rows' keys are read with the rows the
// application gets, so no row can start to match between a key read and
// a second run), and the application gets exactly the columns and rows
// the plain statement gives.
func TestLockingReadRunsOnce(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_lockonce", kv, kvSeed)
	seq := tb + "_calls"
	e.exec("CREATE SEQUENCE " + seq)
	t.Cleanup(func() { e.plain.Exec("DROP SEQUENCE IF EXISTS " + seq) })

	// What the plain driver returns, as text, for each query.
	read := func(ctx context.Context, q interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}, query string, args ...any) (string, error) {
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return "", err
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		types, _ := rows.ColumnTypes()
		var sb strings.Builder
		fmt.Fprintf(&sb, "%q", cols)
		for _, ct := range types {
			fmt.Fprintf(&sb, " %s/%v", ct.DatabaseTypeName(), ct.ScanType())
		}
		n := 0
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return "", err
			}
			fmt.Fprintf(&sb, "\n%#v", vals)
			n++
		}
		fmt.Fprintf(&sb, "\n%d rows", n)
		return sb.String(), rows.Err()
	}
	queries := []struct {
		q    string
		args []any
	}{
		{"SELECT * FROM " + tb + " WHERE id <= $1 ORDER BY 1 FOR UPDATE", []any{2}},
		{"SELECT n, s, n * 2 FROM " + tb + " WHERE id IN ($1, $2) ORDER BY 3 DESC FOR NO KEY UPDATE", []any{3, 1}},
		{"SELECT FROM " + tb + " WHERE id = $1 FOR UPDATE", []any{4}},
		{"SELECT a.id, b.id FROM " + tb + " a JOIN " + tb + " b ON b.id = a.id + 1 ORDER BY a.id LIMIT 2 FOR UPDATE OF a", nil},
		{"SELECT s FROM " + tb + " WHERE id > $1 FOR SHARE", []any{100}}, // no rows
	}
	for _, c := range queries {
		want, err := read(context.Background(), e.plain, c.q, c.args...)
		if err != nil {
			t.Fatalf("%s: plain: %v", c.q, err)
		}
		var got string
		if _, err := e.global(func(ctx context.Context) error {
			tx, err := e.db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			got, err = read(ctx, tx, c.q, c.args...)
			return err
		}); err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		if got != want {
			t.Fatalf("%s:\ngot  %s\nwant %s", c.q, got, want)
		}
	}

	// A volatile condition is evaluated once per row the read scans: the
	// statement ran once.
	e.exec("SELECT setval('" + seq + "', 1, false)")
	q := "SELECT id FROM " + tb + " WHERE id <= 2 AND nextval('" + seq + "') > 0 ORDER BY id FOR UPDATE"
	var ids []int
	if _, err := e.global(func(ctx context.Context) error {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids, []int{1, 2}) {
		t.Fatalf("rows %v", ids)
	}
	var calls int64
	if err := e.plain.QueryRow("SELECT last_value FROM " + seq).Scan(&calls); err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Fatalf("the condition ran %d times for 2 rows: the locking read ran more than once", calls)
	}

	// Run with Exec: once too, and the driver's count of rows.
	e.exec("SELECT setval('" + seq + "', 1, false)")
	var affected int64
	if _, err := e.global(func(ctx context.Context) error {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		res, err := tx.ExecContext(ctx, q)
		if err != nil {
			return err
		}
		affected, err = res.RowsAffected()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.plain.QueryRow("SELECT last_value FROM " + seq).Scan(&calls); err != nil {
		t.Fatal(err)
	}
	plain, err := e.plain.Exec(q)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := plain.RowsAffected()
	if calls != 2 || affected != want {
		t.Fatalf("Exec: the condition ran %d times for 2 rows, %d rows affected (plain: %d)", calls, affected, want)
	}
}
