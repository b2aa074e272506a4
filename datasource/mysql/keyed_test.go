package mysql_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/txcio/txc"
)

const (
	keyedOrders    = "CREATE TABLE {t} (id INT PRIMARY KEY, cust INT NOT NULL, status VARCHAR(10) NOT NULL, n INT NOT NULL)"
	keyedOrderRows = "INSERT INTO {t} VALUES (1, 1, 'new', 10), (2, 2, 'new', 20), (3, 1, 'paid', 30), (4, 3, 'new', 40), (5, 2, 'new', 50)"
	keyedCustomers = "CREATE TABLE {t} (id INT PRIMARY KEY, vip TINYINT NOT NULL)"
	keyedCustRows  = "INSERT INTO {t} VALUES (1, 1), (2, 0), (3, 1)"
)

// TestSubqueryWhere: a single-table UPDATE or DELETE whose WHERE reads
// through a subquery runs keyed (the rows its image locked, narrowed by
// key): committed, the tables equal the same statements run without the
// proxy; rolled back, they equal their state before.
func TestSubqueryWhere(t *testing.T) {
	e := newEnv(t, "")
	for _, c := range []struct {
		name  string
		stmts []string
		args  [][]any
	}{
		{"update in", []string{"UPDATE {o} SET status = 'vip', n = n + 1 WHERE cust IN (SELECT id FROM {c} WHERE vip = 1)"}, nil},
		{"update alias and argument", []string{"UPDATE {o} AS o SET o.n = o.n * ? WHERE o.status = ? AND EXISTS (SELECT 1 FROM {c} c WHERE c.id = o.cust AND c.vip = ?)"}, [][]any{{2, "new", 1}}},
		{"update comparison", []string{"UPDATE {o} SET n = 0 WHERE n > (SELECT MIN(n) FROM (SELECT n FROM {o} WHERE cust = 2) AS m)"}, nil},
		{"delete exists", []string{"DELETE FROM {o} WHERE EXISTS (SELECT 1 FROM {c} WHERE {c}.id = {o}.cust AND {c}.vip = 0)"}, nil},
		{"delete not in, then update", []string{"DELETE FROM {o} WHERE cust NOT IN (SELECT id FROM {c} WHERE vip = 1)", "UPDATE {o} SET n = n + 100 WHERE cust IN (SELECT id FROM {c})"}, nil},
		{"matches nothing", []string{"DELETE FROM {o} WHERE cust IN (SELECT id FROM {c} WHERE vip = 7)"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, cu := e.table("at_kord", keyedOrders, keyedOrderRows), e.table("at_kcust", keyedCustomers, keyedCustRows)
			po, pc := e.table("at_kord", keyedOrders, keyedOrderRows), e.table("at_kcust", keyedCustomers, keyedCustRows)
			sub := func(q, o, cu string) string { return strings.NewReplacer("{o}", o, "{c}", cu).Replace(q) }
			args := func(i int) []any {
				if c.args == nil {
					return nil
				}
				return c.args[i]
			}
			for i, q := range c.stmts {
				if _, err := e.plain.Exec(sub(q, po, pc), args(i)...); err != nil {
					t.Fatalf("plain: %v", err)
				}
			}
			want, before := e.dump(po), e.dump(o)
			run := func(ctx context.Context) error {
				for i, q := range c.stmts {
					if _, err := e.db.ExecContext(ctx, sub(q, o, cu), args(i)...); err != nil {
						return err
					}
				}
				return nil
			}
			xid, err := e.global(func(ctx context.Context) error {
				if err := run(ctx); err != nil {
					return err
				}
				return errRollback
			})
			if !errors.Is(err, errRollback) {
				t.Fatal(err)
			}
			e.wait(xid, txc.GlobalRollbacked)
			if got := e.dump(o); got != before {
				t.Fatalf("rolled back:\n%s\nwant:\n%s", got, before)
			}
			if _, err := e.global(run); err != nil {
				t.Fatal(err)
			}
			if got := e.dump(o); got != want {
				t.Fatalf("committed:\n%s\nwant, as without the proxy:\n%s", got, want)
			}
		})
	}
}

// TestSubqueryWhereDirtyWrite: a row a keyed UPDATE changed and someone
// changed again outside the global transaction is not overwritten by the
// rollback, which parks.
func TestSubqueryWhereDirtyWrite(t *testing.T) {
	e := newEnv(t, "")
	o, cu := e.table("at_kord", keyedOrders, keyedOrderRows), e.table("at_kcust", keyedCustomers, keyedCustRows)
	var changed string
	xid, err := e.global(func(ctx context.Context) error {
		if _, err := e.db.ExecContext(ctx, "UPDATE "+o+" SET n = n + 1 WHERE cust IN (SELECT id FROM "+cu+" WHERE vip = 1)"); err != nil {
			return err
		}
		if _, err := e.plain.Exec("UPDATE " + o + " SET n = 999 WHERE id = 1"); err != nil {
			return err
		}
		changed = e.dump(o)
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbackFailed)
	if got := e.dump(o); got != changed {
		t.Fatalf("the parked rollback wrote:\n%s\nwant the rows as left:\n%s", got, changed)
	}
}

// TestSubqueryWhereStillRefused: where the rows cannot be narrowed by key
// (ORDER BY … LIMIT, IGNORE, several tables, a primary key changed), a
// subquery in the WHERE is still refused before anything runs.
func TestSubqueryWhereStillRefused(t *testing.T) {
	e := newEnv(t, "")
	o, cu := e.table("at_kord", keyedOrders, keyedOrderRows), e.table("at_kcust", keyedCustomers, keyedCustRows)
	before := e.dump(o)
	for _, q := range []string{
		"UPDATE " + o + " SET n = 0 WHERE cust IN (SELECT id FROM " + cu + ") ORDER BY id LIMIT 1",
		"UPDATE IGNORE " + o + " SET n = 0 WHERE cust IN (SELECT id FROM " + cu + ")",
		"UPDATE " + o + " JOIN " + cu + " ON " + cu + ".id = " + o + ".cust SET " + o + ".n = 0 WHERE " + o + ".id IN (SELECT id FROM " + cu + ")",
		"UPDATE " + o + " SET id = id + 100 WHERE cust IN (SELECT id FROM " + cu + ")",
		"DELETE FROM " + o + " WHERE cust IN (SELECT id FROM " + cu + ") ORDER BY id LIMIT 1",
	} {
		_, err := e.global(func(ctx context.Context) error {
			_, err := e.db.ExecContext(ctx, q)
			return err
		})
		if !errors.Is(err, txc.ErrRefused) {
			t.Errorf("%s: %v, want a refusal before it ran", q, err)
		}
	}
	if got := e.dump(o); got != before {
		t.Fatalf("refused statements changed rows:\n%s", got)
	}
}
