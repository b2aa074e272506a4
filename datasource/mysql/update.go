package mysql

import (
	"context"
	"database/sql/driver"
	"slices"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// updatePlan is UPDATE, single- or multi-table.
type updatePlan struct {
	query string
	nargs int
	refs  []tableRef
	clauses
	orderBy  []orderItem
	assigns  []assignment
	rowsMode rowsMode
	keyed    bool // its WHERE reads through a subquery: see keyed.go
}

type assignment struct {
	qual, col string
	expr      frag
	reads     []string // columns the expression reads
	pure      bool     // no function call, subquery or variable
}

func (p *planner) update(s *ast.UpdateStmt) (datasource.Statement, error) {
	if s.With != nil {
		return nil, datasource.Unsupported(p.query, "UPDATE with a WITH clause is not supported")
	}
	u := &updatePlan{query: p.query, nargs: p.nargs, refs: tables(s.TableRefs.TableRefs), rowsMode: p.rowsMode, orderBy: orderItems(s.Order)}
	if len(u.refs) == 0 {
		return nil, datasource.Unsupported(p.query, "UPDATE of no base table")
	}
	parts := []ast.Node{s.TableRefs, s.Order, s.Limit}
	for _, a := range s.List {
		parts = append(parts, subqueryOnly{a.Expr})
	}
	if err := p.choosesRowsDeterministically(parts...); err != nil {
		return nil, err
	}
	keyable := len(u.refs) == 1 && !s.MultipleTable && s.Order == nil && s.Limit == nil && !s.IgnoreErr
	var err error
	if u.keyed, err = p.whereKeyed(s.Where, keyable); err != nil {
		return nil, err
	}
	if u.clauses, err = p.rowClauses(s.TableRefs, s.Where, s.Order, s.Limit); err != nil {
		return nil, err
	}
	for _, a := range s.List {
		f, err := p.mustFragment(fragExpr, a.Expr)
		if err != nil {
			return nil, err
		}
		r := &reads{}
		a.Expr.Accept(r)
		u.assigns = append(u.assigns, assignment{qual: a.Column.Table.O, col: a.Column.Name.O, expr: f, reads: r.cols, pure: r.pure()})
	}
	return u, nil
}

// reads collects the columns an expression reads and whether it calls
// anything that may not give the same value twice.
type reads struct {
	cols   []string
	impure bool
}

func (r *reads) pure() bool { return !r.impure }

func (r *reads) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.ColumnNameExpr:
		r.cols = append(r.cols, x.Name.Name.O)
	case *ast.FuncCallExpr, *ast.SubqueryExpr, *ast.VariableExpr, *ast.AggregateFuncExpr, *ast.WindowFuncExpr, *ast.DefaultExpr:
		r.impure = true
	}
	return n, false
}
func (r *reads) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func (u *updatePlan) Kind() datasource.Kind { return datasource.Write }

func (u *updatePlan) LockKeys(context.Context, *datasource.Exec, []driver.NamedValue) error {
	return nil
}

type updTarget struct {
	i       int // index in refs
	assigns []int
	pkNew   []int // per pk column: index of the assignment that sets it, or -1
}

func (u *updatePlan) Exec(ctx context.Context, x *datasource.Exec, args []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	if err := start(ctx, x, u.query, u.nargs, args); err != nil {
		return nil, err
	}
	metas, err := u.tables(ctx, x)
	if err != nil {
		return nil, err
	}
	targets, err := u.targets(metas, x.InGlobalTx())
	if err != nil {
		return nil, err
	}
	if err := u.keyChanges(targets); err != nil {
		return nil, err
	}
	if len(u.refs) == 1 {
		if err := totalOrder(u.query, !u.limit.empty(), u.orderBy, u.refs[0].ref(), metas[0]); err != nil {
			return nil, err
		}
	}
	befores, newKeys, err := u.beforeImages(ctx, x, metas, targets, args)
	if err != nil {
		return nil, err
	}
	var cascades *datasource.Cascades
	if slices.ContainsFunc(targets, func(t *updTarget) bool { return len(metas[t.i].Hazards.Cascades) > 0 }) {
		if cascades, err = datasource.ImageCascades(ctx, x, u.query, u.roots(metas, targets, befores)); err != nil {
			return nil, err
		}
	}
	if u.keyed {
		res, err := u.execKeyed(ctx, x, metas[targets[0].i], befores[0], args)
		if err != nil {
			return nil, err
		}
		return res, cascades.Record(ctx, x)
	}
	res, err := run()
	if err != nil {
		return nil, err
	}
	n, err := rowsAffected(res)
	if err != nil {
		return nil, err
	}
	if len(targets) == 1 && targets[0].pkNew == nil && x.InGlobalTx() && cascades == nil {
		return u.deferAfter(x, metas[targets[0].i], befores[0], n, res)
	}
	matched, changed, err := u.record(ctx, x, metas, targets, befores, newKeys)
	if err != nil {
		return nil, err
	}
	if err := u.counted(n, matched, changed); err != nil {
		return nil, err
	}
	return res, cascades.Record(ctx, x)
}

// roots are the rows each target is about to update, with the columns
// its assignments set (see datasource.ImageCascades).
func (u *updatePlan) roots(metas []*datasource.Table, targets []*updTarget, befores [][]undo.Row) []datasource.CascadeRoot {
	roots := make([]datasource.CascadeRoot, len(targets))
	for ti, t := range targets {
		r := datasource.CascadeRoot{Table: metas[t.i], Op: datasource.OpUpdate, Rows: befores[ti]}
		for _, ai := range t.assigns {
			r.Assigned = append(r.Assigned, u.assigns[ai].col)
		}
		roots[ti] = r
	}
	return roots
}

// tables loads the metadata of the statement's tables (of a single-table
// statement, with the columns it assigns).
func (u *updatePlan) tables(ctx context.Context, x *datasource.Exec) ([]*datasource.Table, error) {
	metas, err := loadTables(ctx, x, u.refs)
	if err != nil {
		return nil, err
	}
	if len(u.refs) == 1 {
		cols := make([]string, len(u.assigns))
		for i, a := range u.assigns {
			cols[i] = a.col
		}
		if metas[0], err = withColumns(ctx, x, u.query, u.refs[0], metas[0], cols); err != nil {
			return nil, err
		}
	}
	return metas, nil
}

// targets groups the assignments by the table they write, and refuses a
// table written under two names or a write the hazard policy refuses
// (imaged: for a rollback).
func (u *updatePlan) targets(metas []*datasource.Table, imaged bool) ([]*updTarget, error) {
	var targets []*updTarget
	byRef := map[int]*updTarget{}
	for ai, a := range u.assigns {
		i, col, err := resolve(u.query, u.refs, metas, a.qual, a.col)
		if err != nil {
			return nil, err
		}
		t := byRef[i]
		if t == nil {
			t = &updTarget{i: i}
			byRef[i] = t
			targets = append(targets, t)
		}
		t.assigns = append(t.assigns, ai)
		if metas[i].IsPK(col) {
			if t.pkNew == nil {
				t.pkNew = make([]int, len(metas[i].PK))
				for k := range t.pkNew {
					t.pkNew[k] = -1
				}
			}
			for k, c := range metas[i].PK {
				if strings.EqualFold(c, col) {
					t.pkNew[k] = ai
				}
			}
		}
	}
	for i, t := range targets {
		for _, o := range targets[:i] {
			if metas[o.i].Name == metas[t.i].Name {
				return nil, datasource.Unsupported(u.query, "table %s is written under two names (%s, %s): one row would get two undo records", metas[t.i].Name, u.refs[o.i].ref(), u.refs[t.i].ref())
			}
		}
		var assigned []string
		for _, ai := range t.assigns {
			assigned = append(assigned, u.assigns[ai].col)
		}
		if err := datasource.RefuseWrite(datasource.TableWrite{Statement: u.query, Op: datasource.OpUpdate, Assigned: assigned, Undo: imaged}, metas[t.i]); err != nil {
			return nil, err
		}
	}
	return targets, nil
}

// keyChanges refuses a primary-key change whose new value cannot be
// computed from the old row before the statement runs.
func (u *updatePlan) keyChanges(targets []*updTarget) error {
	for _, t := range targets {
		if t.pkNew == nil {
			continue
		}
		if u.keyed {
			return datasource.Unsupported(u.query, "an UPDATE whose WHERE reads through a subquery may not change a primary key")
		}
		if len(u.refs) > 1 {
			return datasource.Unsupported(u.query, "a multi-table UPDATE that changes a primary key")
		}
		// MySQL evaluates a single-table SET list left to right: a key's
		// new value is computed here from the old row, so it must not
		// read a column assigned before it, nor call anything.
		for _, ai := range t.pkNew {
			if ai < 0 {
				continue
			}
			a := u.assigns[ai]
			if !a.pure {
				return datasource.Unsupported(u.query, "the new value of primary-key column %q calls a function or reads a variable", a.col)
			}
			for _, r := range a.reads {
				for _, prev := range u.assigns[:ai] {
					if strings.EqualFold(prev.col, r) {
						return datasource.Unsupported(u.query, "the new value of primary-key column %q reads column %q assigned before it", a.col, r)
					}
				}
			}
		}
	}
	return nil
}

// beforeImages reads and locks the rows each target will write (with,
// for a key change, each row's new key) and checks their global locks.
func (u *updatePlan) beforeImages(ctx context.Context, x *datasource.Exec, metas []*datasource.Table, targets []*updTarget, args []driver.NamedValue) (befores, newKeys [][]undo.Row, err error) {
	befores, newKeys = make([][]undo.Row, len(targets)), make([][]undo.Row, len(targets))
	for ti, t := range targets {
		m := metas[t.i]
		q := &query{}
		q.add("SELECT " + allColumns(u.refs[t.i].ref(), m))
		extra := 0
		for k, ai := range t.pkNew {
			if ai >= 0 {
				q.add(", (").frag(u.assigns[ai].expr, args).add(") AS " + quoteIdent("txc_new_"+strconv.Itoa(k)))
				extra++
			}
		}
		q.add(" FROM ").frag(u.from, args)
		if !u.where.empty() {
			q.add(" WHERE ").frag(u.where, args)
		}
		if !u.order.empty() {
			q.add(" ").frag(u.order, args)
		}
		if !u.limit.empty() {
			q.add(" ").frag(u.limit, args)
		}
		q.add(" FOR UPDATE")
		rows, err := tableRows(ctx, x, m, q, extra, len(u.refs) > 1)
		if err != nil {
			return nil, nil, err
		}
		if t.pkNew != nil {
			keys := make([]undo.Row, len(rows))
			for r, row := range rows {
				extra := row[len(m.Columns):]
				key := make(undo.Row, len(m.PK))
				e := 0
				for k, c := range m.PK {
					if t.pkNew[k] >= 0 {
						key[k] = undo.Column{Name: c, Value: extra[e].Value}
						e++
					} else {
						v, _ := row.Get(c)
						key[k] = undo.Column{Name: c, Value: v}
					}
				}
				keys[r] = key
				rows[r] = row[:len(m.Columns)]
			}
			newKeys[ti] = keys
		} else {
			rows = datasource.Dedupe(m.PK, rows)
		}
		befores[ti] = rows
		if err := x.Guard(ctx, m.Name, m.PK, rows, false); err != nil {
			return nil, nil, err
		}
	}
	return befores, newKeys, nil
}

// record reads the after images of the targets and adds their undo
// records (a key change as delete + insert + update); it returns the rows
// matched and changed, for the count check.
func (u *updatePlan) record(ctx context.Context, x *datasource.Exec, metas []*datasource.Table, targets []*updTarget, befores, newKeys [][]undo.Row) (matched, changed int, err error) {
	for ti, t := range targets {
		m := metas[t.i]
		before := befores[ti]
		keys := before
		if t.pkNew != nil {
			keys = newKeys[ti]
		}
		after, err := afterImage(ctx, x, m, keys)
		if err != nil {
			return 0, 0, err
		}
		after, err = pairAfter(m, keys, after)
		if err != nil {
			return 0, 0, err
		}
		matched += len(before)
		for r := range before {
			if !before[r].Equal(after[r]) {
				changed++
			}
		}
		if t.pkNew == nil {
			x.Add(undo.Record{Table: m.Name, Kind: undo.Update, Before: before, After: after, PK: m.PK})
			continue
		}
		var del, ins, ub, ua []undo.Row
		for r := range before {
			if datasource.RowKey(m.PK, before[r]) == datasource.RowKey(m.PK, after[r]) {
				ub, ua = append(ub, before[r]), append(ua, after[r])
			} else {
				del, ins = append(del, before[r]), append(ins, after[r])
			}
		}
		x.Add(undo.Record{Table: m.Name, Kind: undo.Delete, Before: del, PK: m.PK})
		x.Add(undo.Record{Table: m.Name, Kind: undo.Insert, After: ins, PK: m.PK})
		x.Add(undo.Record{Table: m.Name, Kind: undo.Update, Before: ub, After: ua, PK: m.PK})
		if err := x.Guard(ctx, m.Name, m.PK, ins, false); err != nil {
			return 0, 0, err
		}
	}
	return matched, changed, nil
}

// counted checks the server's count of the rows an UPDATE wrote against
// its images' count: rows it wrote that the image did not select show
// here.
func (u *updatePlan) counted(n int64, matched, changed int) error {
	var ok bool
	switch u.rowsMode {
	case rowsChanged:
		ok = n == int64(changed)
	case rowsFound:
		ok = n == int64(matched)
	default:
		ok = n == int64(changed) || n == int64(matched)
	}
	if !ok {
		return txc.Errorf(txc.CodeUnsupported, "datasource/mysql: the UPDATE affected %d rows but its images show %d matched and %d changed: %s", n, matched, changed, datasource.Shorten(u.query))
	}
	return nil
}

// deferAfter records a single-table UPDATE that keeps its rows' keys
// without reading its after image now: the local transaction reads it at
// commit, one query per table for all such statements (see
// datasource.Exec.AddDeferred), and checks the server's row count then.
// More rows written than selected is known now and fails now.
func (u *updatePlan) deferAfter(x *datasource.Exec, m *datasource.Table, before []undo.Row, n int64, res driver.Result) (driver.Result, error) {
	if n > int64(len(before)) {
		return nil, u.counted(n, len(before), len(before))
	}
	read := func(ctx context.Context, x *datasource.Exec, keys []undo.Row) ([]undo.Row, error) {
		return afterImage(ctx, x, m, keys)
	}
	check := func(after []undo.Row) error {
		changed := 0
		for r := range before {
			if !before[r].Equal(after[r]) {
				changed++
			}
		}
		return u.counted(n, len(before), changed)
	}
	x.AddDeferred(undo.Record{Table: m.Name, Kind: undo.Update, Before: before, PK: m.PK}, read, check)
	return res, nil
}

// subqueryOnly walks an expression for subqueries only (a SET value may
// call anything: the after image reads what it wrote).
type subqueryOnly struct{ ast.ExprNode }

func (s subqueryOnly) Accept(v ast.Visitor) (ast.Node, bool) {
	if s.ExprNode == nil {
		return s, true
	}
	w, ok := v.(*purity)
	if !ok {
		return s.ExprNode.Accept(v)
	}
	f := &subqueryFinder{}
	s.ExprNode.Accept(f)
	if f.found && w.bad == "" {
		w.bad = "a subquery in a SET value (its rows are read from a snapshot by the image but current by the statement)"
	}
	return s, true
}

type subqueryFinder struct{ found bool }

func (f *subqueryFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch n.(type) {
	case *ast.SubqueryExpr, *ast.SelectStmt, *ast.SetOprStmt:
		f.found = true
	}
	return n, f.found
}
func (f *subqueryFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }
