package postgres

import (
	"context"
	"database/sql/driver"
	"sync/atomic"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// deletePlan is DELETE, with USING and WITH (read-only) allowed. It runs
// once, with RETURNING every column: the rows returned are exactly the
// rows deleted, as they were, which is the before image.
type deletePlan struct {
	query string
	nargs int
	rel   relRef
	stmt  *pg.Node // the DELETE without RETURNING
	ret   string   // its RETURNING list (see writer)
	texts atomic.Pointer[deleteTexts]
}

type deleteTexts struct {
	t           *datasource.Table
	write, keys string
}

func (p *planner) delete(s *pg.DeleteStmt) (datasource.Statement, error) {
	if s.Relation == nil {
		return nil, datasource.Unsupported(p.query, "DELETE without a table")
	}
	if s.WhereClause.GetCurrentOfExpr() != nil {
		return nil, datasource.Unsupported(p.query, "DELETE … WHERE CURRENT OF a cursor")
	}
	d := &deletePlan{query: p.query, nargs: p.nargs, rel: refOf(s.Relation)}
	ret, stmt, err := p.withoutReturning(&pg.Node{Node: &pg.Node_DeleteStmt{DeleteStmt: s}}, &s.ReturningList)
	if err != nil {
		return nil, err
	}
	d.stmt, d.ret = stmt, ret
	return d, nil
}

func (d *deletePlan) Kind() datasource.Kind { return datasource.Write }

func (d *deletePlan) LockKeys(context.Context, *datasource.Exec, []driver.NamedValue) error {
	return nil
}

func (d *deletePlan) Exec(ctx context.Context, x *datasource.Exec, args []driver.NamedValue, _ func() (driver.Result, error)) (driver.Result, error) {
	res, _, err := d.exec(ctx, x, args, &writer{stmt: d.query})
	return res, err
}

// Query runs the statement for the application to read its RETURNING
// rows (see datasource.Returner).
func (d *deletePlan) Query(ctx context.Context, x *datasource.Exec, args []driver.NamedValue) (driver.Rows, error) {
	_, rows, err := d.exec(ctx, x, args, &writer{stmt: d.query, asQuery: true, ret: d.ret})
	return rows, err
}

func (d *deletePlan) exec(ctx context.Context, x *datasource.Exec, args []driver.NamedValue, w *writer) (driver.Result, driver.Rows, error) {
	if err := datasource.CheckArgs(d.query, d.nargs, args); err != nil {
		return nil, nil, err
	}
	m, _, err := table(ctx, x, d.rel, true)
	if err != nil {
		return nil, nil, err
	}
	if err := datasource.RefuseWrite(datasource.TableWrite{Statement: d.query, Op: datasource.OpDelete, Undo: x.InGlobalTx()}, m); err != nil {
		return nil, nil, err
	}
	tx := d.texts.Load()
	if tx == nil || tx.t != m {
		tx = &deleteTexts{t: m}
		if tx.write, err = rebuild(d.query, d.stmt, m, columnList(d.rel.ref, m.Columns)); err != nil {
			return nil, nil, err
		}
		if tx.keys, err = rebuild(d.query, d.stmt, m, columnList(d.rel.ref, m.PK)); err != nil {
			return nil, nil, err
		}
		d.texts.Store(tx)
	}
	if !x.InGlobalTx() {
		return w.runGuarded(ctx, x, m, tx.keys, args)
	}
	rows, err := w.run(ctx, x, tx.write, len(m.Columns), args)
	if err != nil {
		return nil, nil, err
	}
	x.Add(undo.Record{Table: m.Name, Kind: undo.Delete, Before: rows, PK: m.PK, LockTable: m.LockName})
	return w.done(len(rows))
}
