package mysql

import (
	"context"
	"database/sql/driver"
	"reflect"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// A single-table UPDATE or DELETE (no ORDER BY, LIMIT or IGNORE) whose
// WHERE reads through a subquery runs keyed: the before image locks the
// rows the WHERE chooses (SELECT … FOR UPDATE, the subquery read as of
// the image), and the statement that runs is the application's, rebuilt
// with its WHERE narrowed to those rows' keys: WHERE (<where>) AND (pk)
// IN (…). The subquery's rows are not locked, so the statement's own
// reading of it may choose fewer of the locked rows than the image did
// (never others): the images then show those rows unchanged (UPDATE) or
// still there (DELETE), and the server's row count is checked against
// what the images show.

// whereKeyed checks the WHERE of an UPDATE or DELETE for a deterministic
// choice of rows; keyable allows a subquery in it, reported by sub.
func (p *planner) whereKeyed(where ast.Node, keyable bool) (sub bool, err error) {
	if v := reflect.ValueOf(where); where == nil || (v.Kind() == reflect.Pointer && v.IsNil()) {
		return false, nil
	}
	w := &purity{keyed: keyable}
	where.Accept(w)
	if w.bad != "" {
		return false, datasource.Unsupported(p.query, "the rows it writes are chosen with %s", w.bad)
	}
	return w.sub, nil
}

// execKeyed runs a keyed single-table UPDATE whose before image is
// before (see above), reads its after image and records it.
func (u *updatePlan) execKeyed(ctx context.Context, x *datasource.Exec, m *datasource.Table, before []undo.Row, args []driver.NamedValue) (driver.Result, error) {
	if len(before) == 0 {
		return driver.RowsAffected(0), nil
	}
	q := &query{}
	q.add("UPDATE ").frag(u.from, args).add(" SET ")
	for i, a := range u.assigns {
		if i > 0 {
			q.add(", ")
		}
		if a.qual != "" {
			q.add(quoteIdent(a.qual) + ".")
		}
		q.add(quoteIdent(a.col)+" = ").frag(a.expr, args)
	}
	q.add(" WHERE (").frag(u.where, args).add(") AND ")
	if err := q.keyIn(u.refs[0].ref(), m, before); err != nil {
		return nil, err
	}
	res, err := x.ExecArgs(ctx, q.String(), q.args...)
	if err != nil {
		return nil, err // the server undid the statement
	}
	after, n, err := u.keyedAfter(ctx, x, m, before, res)
	if err != nil {
		x.Fail(err)
		return nil, err
	}
	x.Add(undo.Record{Table: m.Name, Kind: undo.Update, Before: before, After: after, PK: m.PK})
	return driver.RowsAffected(n), nil
}

// keyedAfter reads the after image of a keyed UPDATE and checks the
// server's row count against it: the changed rows exactly (changed
// rows counted), or between the changed and the imaged ones (found rows
// counted: the statement may have matched fewer rows than the image).
func (u *updatePlan) keyedAfter(ctx context.Context, x *datasource.Exec, m *datasource.Table, before []undo.Row, res driver.Result) ([]undo.Row, int64, error) {
	n, err := rowsAffected(res)
	if err != nil {
		return nil, 0, err
	}
	after, err := afterImage(ctx, x, m, before)
	if err != nil {
		return nil, 0, err
	}
	if after, err = pairAfter(m, before, after); err != nil {
		return nil, 0, err
	}
	changed := 0
	for r := range before {
		if !before[r].Equal(after[r]) {
			changed++
		}
	}
	ok := n >= int64(changed) && n <= int64(len(before))
	if u.rowsMode == rowsChanged {
		ok = n == int64(changed)
	}
	if !ok {
		return nil, 0, txc.Errorf(txc.CodeUnsupported, "datasource/mysql: the UPDATE affected %d rows but its images show %d locked and %d changed: %s", n, len(before), changed, datasource.Shorten(u.query))
	}
	return after, n, nil
}

// execKeyed runs a keyed single-table DELETE whose before image is before
// (see above) and records the rows it deleted.
func (d *deletePlan) execKeyed(ctx context.Context, x *datasource.Exec, m *datasource.Table, before []undo.Row, args []driver.NamedValue) (driver.Result, error) {
	if len(before) == 0 {
		return driver.RowsAffected(0), nil
	}
	ref := d.refs[0].ref()
	q := &query{}
	q.add("DELETE "+quoteIdent(ref)+" FROM ").frag(d.from, args).add(" WHERE (").frag(d.where, args).add(") AND ")
	if err := q.keyIn(ref, m, before); err != nil {
		return nil, err
	}
	res, err := x.ExecArgs(ctx, q.String(), q.args...)
	if err != nil {
		return nil, err // the server undid the statement
	}
	deleted, err := d.keyedDeleted(ctx, x, m, before, res)
	if err != nil {
		x.Fail(err)
		return nil, err
	}
	x.Add(undo.Record{Table: m.Name, Kind: undo.Delete, Before: deleted, PK: m.PK})
	return driver.RowsAffected(int64(len(deleted))), nil
}

// keyedDeleted returns the rows of before a keyed DELETE removed (those
// no longer there), checked against the server's count.
func (d *deletePlan) keyedDeleted(ctx context.Context, x *datasource.Exec, m *datasource.Table, before []undo.Row, res driver.Result) ([]undo.Row, error) {
	n, err := rowsAffected(res)
	if err != nil {
		return nil, err
	}
	left, err := afterImage(ctx, x, m, before)
	if err != nil {
		return nil, err
	}
	there := make(map[string]bool, len(left))
	for _, r := range left {
		there[datasource.RowKey(m.PK, r)] = true
	}
	var deleted []undo.Row
	for _, r := range before {
		if !there[datasource.RowKey(m.PK, r)] {
			deleted = append(deleted, r)
		}
	}
	if n != int64(len(deleted)) {
		return nil, txc.Errorf(txc.CodeUnsupported, "datasource/mysql: the DELETE removed %d rows but %d of the %d it locked are gone: %s", n, len(deleted), len(before), datasource.Shorten(d.query))
	}
	return deleted, nil
}
