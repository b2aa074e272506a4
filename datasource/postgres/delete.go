package postgres

import (
	"context"
	"database/sql/driver"
	"sync/atomic"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// deletePlan is DELETE, with USING and WITH (read-only) allowed. It runs
// once, with RETURNING every column: the rows returned are exactly the
// rows deleted, as they were, which is the before image.
type deletePlan struct {
	query string
	calls callees // see checkCalls
	nargs int
	rel   relRef
	stmt  *pg.Node // the DELETE without RETURNING
	ret   string   // its RETURNING list (see writer)
	texts atomic.Pointer[deleteTexts]
}

type deleteTexts struct {
	t           *datasource.Table
	write, keys string
	// before locks and images the rows the DELETE deletes, first, when
	// referential actions write other rows (see execCascading).
	before     string
	beforeArgs []int
}

func (p *planner) delete(s *pg.DeleteStmt) (datasource.Statement, error) {
	if s.Relation == nil {
		return nil, datasource.Unsupported(p.query, "DELETE without a table")
	}
	if s.WhereClause.GetCurrentOfExpr() != nil {
		return nil, datasource.Unsupported(p.query, "DELETE … WHERE CURRENT OF a cursor")
	}
	d := &deletePlan{query: p.query, nargs: p.nargs, calls: p.calls.written(s.Relation), rel: refOf(s.Relation)}
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
	if err := checkCalls(ctx, x, d.query, d.calls); err != nil {
		return nil, nil, err
	}
	m, _, err := table(ctx, x, d.rel, true)
	if err != nil {
		return nil, nil, err
	}
	if err := datasource.RefuseWrite(datasource.TableWrite{Statement: d.query, Op: datasource.OpDelete, Undo: x.InGlobalTx()}, m); err != nil {
		return nil, nil, err
	}
	tx, err := d.textsFor(m)
	if err != nil {
		return nil, nil, err
	}
	if datasource.Cascading(datasource.OpDelete, nil, m) {
		return d.execCascading(ctx, x, m, tx, args, w)
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

// textsFor returns the DELETE's texts for m, built once per table
// metadata.
func (d *deletePlan) textsFor(m *datasource.Table) (*deleteTexts, error) {
	if tx := d.texts.Load(); tx != nil && tx.t == m {
		return tx, nil
	}
	tx := &deleteTexts{t: m}
	var err error
	if tx.write, tx.keys, err = writeTexts(d.query, d.stmt, m, d.rel.ref); err != nil {
		return nil, err
	}
	if datasource.Cascading(datasource.OpDelete, nil, m) {
		s := d.stmt.GetDeleteStmt()
		targets := make([]*pg.Node, len(m.Columns))
		for i, c := range m.Columns {
			targets[i] = target(colRef(d.rel.ref, c), "")
		}
		if tx.before, tx.beforeArgs, err = lockedRead(d.query, s.Relation, m, d.rel.ref, targets, s.UsingClause, s.WhereClause, s.WithClause); err != nil {
			return nil, err
		}
	}
	d.texts.Store(tx)
	return tx, nil
}

// execCascading runs a DELETE whose rows foreign keys with referential
// actions reference: it locks and images the rows first, then the rows
// the actions may write (datasource.ImageCascades), runs the DELETE,
// checks that it deleted exactly the rows locked, and records them all.
// Under a global lock it checks the global locks of them all instead.
func (d *deletePlan) execCascading(ctx context.Context, x *datasource.Exec, m *datasource.Table, tx *deleteTexts, args []driver.NamedValue, w *writer) (driver.Result, driver.Rows, error) {
	before, err := x.QueryArgs(ctx, tx.before, pick(args, tx.beforeArgs))
	if err != nil {
		return nil, nil, err
	}
	before = datasource.Dedupe(m.PK, before)
	cascades, err := datasource.ImageCascades(ctx, x, d.query, []datasource.CascadeRoot{{Table: m, Op: datasource.OpDelete, Rows: before}})
	if err != nil {
		return nil, nil, err
	}
	if !x.InGlobalTx() {
		return w.runGuarded(ctx, x, m, tx.keys, args)
	}
	rows, err := w.run(ctx, x, tx.write, len(m.Columns), args)
	if err != nil {
		return nil, nil, err
	}
	if err := sameRows(m, before, rows); err != nil {
		return nil, nil, poison(ctx, x, d.query, err)
	}
	x.Add(undo.Record{Table: m.Name, Kind: undo.Delete, Before: rows, PK: m.PK, LockTable: m.LockName})
	if err := cascades.Record(ctx, x); err != nil {
		return nil, nil, poison(ctx, x, d.query, err)
	}
	return w.done(len(rows))
}

// sameRows checks that a write returned exactly the rows locked before
// it ran, as they were.
func sameRows(m *datasource.Table, locked, returned []undo.Row) error {
	byKey := make(map[string]undo.Row, len(locked))
	for _, r := range locked {
		byKey[datasource.RowKey(m.PK, r)] = r
	}
	for _, r := range returned {
		if l, ok := byKey[datasource.RowKey(m.PK, r)]; !ok || !l.Equal(r) {
			return txc.Errorf(txc.CodeUnsupported, "datasource/postgres: the statement wrote row (%s) of %s other than its before image locked it (a volatile condition?)", datasource.RowKey(m.PK, r), m.Name)
		}
	}
	if len(returned) != len(locked) {
		return txc.Errorf(txc.CodeUnsupported, "datasource/postgres: the statement wrote %d rows of %s but its before image locked %d (a volatile condition?)", len(returned), m.Name, len(locked))
	}
	return nil
}
