package postgres

import (
	"context"
	"database/sql/driver"
	"slices"
	"strconv"
	"sync/atomic"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// updatePlan is UPDATE, with FROM and WITH (read-only) allowed.
//
// The before image is the target's rows the statement's own FROM and
// WHERE select, read with FOR UPDATE OF the target; the UPDATE then runs
// with RETURNING, which gives the after image. PostgreSQL has no gap
// locks: a row inserted by another transaction between the two could be
// updated without a before image, so the returned keys must be exactly
// the locked ones, or the local transaction is aborted.
type updatePlan struct {
	query string
	calls callees // see checkCalls
	nargs int
	rel   relRef
	stmt  *pg.UpdateStmt // as parsed, RETURNING included (the source of the image query)
	base  *pg.Node       // the UPDATE without RETURNING
	ret   string         // its RETURNING list (see writer)
	// retJoined is ret for the joined UPDATE (see joinedUpdate): a bare
	// * there would also expand to the sub-select's columns, so it is
	// the target's.
	retJoined string
	set       []string // assigned columns
	// exprs is the expression each column the statement sets whole is
	// set to, also from a row of several (SET (a, b) = (x, y) or ROW(x,
	// y) sets a to x); fromSelect holds the columns set from a row
	// sub-select (SET (a, b) = (SELECT …)).
	exprs      map[string]*pg.Node
	fromSelect map[string]bool
	texts      atomic.Pointer[updateTexts]
}

type updateTexts struct {
	t          *datasource.Table
	write      string // base with RETURNING every column
	keys       string // base with RETURNING the key (under a global lock)
	before     string
	beforeArgs []int
	newKey     []int // per pk column: index of its new value among the extra columns, or -1
	// joined is the UPDATE rewritten to read its before image itself
	// (empty when the plan cannot be rewritten so): see joinedUpdate.
	joined string
}

func (p *planner) update(s *pg.UpdateStmt) (datasource.Statement, error) {
	if s.Relation == nil {
		return nil, datasource.Unsupported(p.query, "UPDATE without a table")
	}
	if s.WhereClause.GetCurrentOfExpr() != nil {
		return nil, datasource.Unsupported(p.query, "UPDATE … WHERE CURRENT OF a cursor")
	}
	u := &updatePlan{query: p.query, nargs: p.nargs, calls: p.calls.written(s.Relation), rel: refOf(s.Relation), stmt: s, exprs: map[string]*pg.Node{}, fromSelect: map[string]bool{}}
	for _, t := range s.TargetList {
		rt := t.GetResTarget()
		if rt == nil {
			return nil, datasource.Unsupported(p.query, "an UPDATE SET entry of kind %s", nodeName(t))
		}
		u.set = append(u.set, rt.Name)
		if len(rt.Indirection) > 0 {
			continue
		}
		switch e, sub := assigned(rt.Val); {
		case sub:
			u.fromSelect[rt.Name] = true
		case e != nil:
			u.exprs[rt.Name] = e
		}
	}
	ret, base, err := p.withoutReturning(&pg.Node{Node: &pg.Node_UpdateStmt{UpdateStmt: s}}, &s.ReturningList)
	if err != nil {
		return nil, err
	}
	u.base, u.ret = base, ret
	if ret != "" {
		if u.retJoined, err = targetListText(starOf(s.ReturningList, u.rel.ref)); err != nil {
			return nil, datasource.Unsupported(p.query, "its RETURNING list cannot be rebuilt: %v", err)
		}
	}
	return u, nil
}

func (u *updatePlan) Kind() datasource.Kind { return datasource.Write }

func (u *updatePlan) LockKeys(context.Context, *datasource.Exec, []driver.NamedValue) error {
	return nil
}

func (u *updatePlan) Exec(ctx context.Context, x *datasource.Exec, args []driver.NamedValue, _ func() (driver.Result, error)) (driver.Result, error) {
	res, _, err := u.exec(ctx, x, args, &writer{stmt: u.query})
	return res, err
}

// Query runs the statement for the application to read its RETURNING
// rows (see datasource.Returner).
func (u *updatePlan) Query(ctx context.Context, x *datasource.Exec, args []driver.NamedValue) (driver.Rows, error) {
	_, rows, err := u.exec(ctx, x, args, &writer{stmt: u.query, asQuery: true, ret: u.ret})
	return rows, err
}

// exec runs the UPDATE in steps: metadata, refusals and the texts for
// this table, then one of three runs: under a global lock (keys only),
// the joined UPDATE that images its own rows, or a locked before image
// read first (key changes, UPDATE … FROM).
func (u *updatePlan) exec(ctx context.Context, x *datasource.Exec, args []driver.NamedValue, w *writer) (driver.Result, driver.Rows, error) {
	if err := datasource.CheckArgs(u.query, u.nargs, args); err != nil {
		return nil, nil, err
	}
	if err := checkCalls(ctx, x, u.query, u.calls); err != nil {
		return nil, nil, err
	}
	m, in, err := table(ctx, x, u.rel, true)
	if err != nil {
		return nil, nil, err
	}
	if err := datasource.RefuseWrite(datasource.TableWrite{Statement: u.query, Op: datasource.OpUpdate, Assigned: u.set, Undo: x.InGlobalTx()}, m); err != nil {
		return nil, nil, err
	}
	tx, err := u.textsFor(m, in)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case !x.InGlobalTx():
		return u.execLocked(ctx, x, m, tx, args, w)
	case tx.joined != "":
		return u.execJoined(ctx, x, m, tx, args, w)
	}
	return u.execImaged(ctx, x, m, tx, args, w)
}

// execLocked runs the UPDATE under a global lock: no images, the global
// locks of the rows it writes checked (and, for a key change, of the
// rows it moves away from, before it runs; for referential actions, of
// the rows they write, before it runs).
func (u *updatePlan) execLocked(ctx context.Context, x *datasource.Exec, m *datasource.Table, tx *updateTexts, args []driver.NamedValue, w *writer) (driver.Result, driver.Rows, error) {
	if tx.newKey != nil || datasource.Cascading(datasource.OpUpdate, u.set, m) {
		old, err := x.QueryArgs(ctx, tx.before, pick(args, tx.beforeArgs))
		if err != nil {
			return nil, nil, err
		}
		old, _ = splitNewKeys(m, tx.newKey, old)
		if err := x.Guard(ctx, m.LockTable(), m.PK, old, false); err != nil {
			return nil, nil, err
		}
		if _, err := datasource.ImageCascades(ctx, x, u.query, u.roots(m, old)); err != nil {
			return nil, nil, err
		}
	}
	return w.runGuarded(ctx, x, m, tx.keys, args)
}

// roots are the rows the UPDATE is about to write, for ImageCascades.
func (u *updatePlan) roots(m *datasource.Table, before []undo.Row) []datasource.CascadeRoot {
	return []datasource.CascadeRoot{{Table: m, Op: datasource.OpUpdate, Assigned: u.set, Rows: before}}
}

// execJoined runs the joined UPDATE (see joinedUpdate), whose rows are
// each row before and after.
func (u *updatePlan) execJoined(ctx context.Context, x *datasource.Exec, m *datasource.Table, tx *updateTexts, args []driver.NamedValue, w *writer) (driver.Result, driver.Rows, error) {
	w.ret = u.retJoined
	rows, err := w.run(ctx, x, tx.joined, 2*len(m.Columns), args)
	if err != nil {
		return nil, nil, err
	}
	n := len(m.Columns)
	before, after := make([]undo.Row, len(rows)), make([]undo.Row, len(rows))
	for i, r := range rows {
		if len(r) != 2*n {
			return nil, nil, poison(ctx, x, u.query, txc.Errorf(txc.CodeInternal, "datasource/postgres: the UPDATE returned %d columns, want %d", len(r), 2*n))
		}
		b := r[:n:n]
		for k := range b {
			b[k].Name = m.Columns[k] // returned as txc_old_k
		}
		before[i], after[i] = b, r[n:]
	}
	x.Add(updateRecord(m, before, after))
	return w.done(len(rows))
}

// execImaged reads and locks the before image (with each row's new key),
// runs the UPDATE, matches its rows to the before image and records them.
func (u *updatePlan) execImaged(ctx context.Context, x *datasource.Exec, m *datasource.Table, tx *updateTexts, args []driver.NamedValue, w *writer) (driver.Result, driver.Rows, error) {
	before, err := x.QueryArgs(ctx, tx.before, pick(args, tx.beforeArgs))
	if err != nil {
		return nil, nil, err
	}
	before, newKeys := splitNewKeys(m, tx.newKey, before)
	cascades, err := datasource.ImageCascades(ctx, x, u.query, u.roots(m, before))
	if err != nil {
		return nil, nil, err
	}
	rows, err := w.run(ctx, x, tx.write, len(m.Columns), args)
	if err != nil {
		return nil, nil, err
	}
	after, err := u.matchAfter(m, before, newKeys, rows)
	if err != nil {
		return nil, nil, poison(ctx, x, u.query, err)
	}
	if tx.newKey == nil {
		x.Add(updateRecord(m, before, after))
		return u.recorded(ctx, x, cascades, w, len(rows))
	}
	var del, ins, ub, ua []undo.Row
	for i := range before {
		if datasource.RowKey(m.PK, before[i]) == datasource.RowKey(m.PK, after[i]) {
			ub, ua = append(ub, before[i]), append(ua, after[i])
		} else {
			del, ins = append(del, before[i]), append(ins, after[i])
		}
	}
	// Undone newest first: updates restored, new keys deleted, old rows
	// re-inserted (so swapped keys never collide).
	x.Add(undo.Record{Table: m.Name, Kind: undo.Delete, Before: del, PK: m.PK, LockTable: m.LockName})
	x.Add(undo.Record{Table: m.Name, Kind: undo.Insert, After: ins, PK: m.PK, LockTable: m.LockName})
	x.Add(updateRecord(m, ub, ua))
	return u.recorded(ctx, x, cascades, w, len(rows))
}

// recorded adds the records of the rows the UPDATE's referential
// actions wrote (see datasource.Cascades.Record) and returns what the
// statement returns; a failure aborts the local transaction.
func (u *updatePlan) recorded(ctx context.Context, x *datasource.Exec, cascades *datasource.Cascades, w *writer, n int) (driver.Result, driver.Rows, error) {
	if err := cascades.Record(ctx, x); err != nil {
		return nil, nil, poison(ctx, x, u.query, err)
	}
	return w.done(n)
}

// splitNewKeys returns the before image read with the new-key columns
// newKey describes (see updateTexts) without them, and the key each row
// gets (its own when no key column is assigned; newKey nil: none is, and
// rows a join repeats are dropped).
func splitNewKeys(m *datasource.Table, newKey []int, before []undo.Row) (rows, keys []undo.Row) {
	if newKey == nil {
		before = datasource.Dedupe(m.PK, before)
		return before, before
	}
	keys = make([]undo.Row, len(before))
	for i, r := range before {
		extra := r[len(m.Columns):]
		key := make(undo.Row, len(m.PK))
		for k, c := range m.PK {
			if e := newKey[k]; e >= 0 {
				key[k] = undo.Column{Name: c, Value: extra[e].Value}
			} else {
				v, _ := r.Get(c)
				key[k] = undo.Column{Name: c, Value: v}
			}
		}
		keys[i] = key
		before[i] = r[:len(m.Columns)]
	}
	return before, keys
}

// matchAfter returns, for each row of before, the row the UPDATE returned
// with its new key: the UPDATE must have written exactly the rows locked.
func (u *updatePlan) matchAfter(m *datasource.Table, before, newKeys, rows []undo.Row) ([]undo.Row, error) {
	byKey := make(map[string]undo.Row, len(rows))
	for _, r := range rows {
		byKey[datasource.RowKey(m.PK, r)] = r
	}
	after := make([]undo.Row, len(before))
	for i := range before {
		a, ok := byKey[datasource.RowKey(m.PK, newKeys[i])]
		if !ok {
			return nil, txc.Errorf(txc.CodeUnsupported,
				"datasource/postgres: row (%s) of %s was locked for the UPDATE but not updated (a volatile condition?)", datasource.RowKey(m.PK, before[i]), m.Name)
		}
		after[i] = a
	}
	if len(rows) != len(before) {
		return nil, txc.Errorf(txc.CodeLockConflict,
			"datasource/postgres: the UPDATE changed %d rows of %s but its before image locked %d (rows inserted or changed concurrently, or a volatile condition); retry", len(rows), m.Name, len(before))
	}
	return after, nil
}

func (u *updatePlan) textsFor(m *datasource.Table, in *tableInfo) (*updateTexts, error) {
	if tx := u.texts.Load(); tx != nil && tx.t == m {
		return tx, nil
	}
	keyChange := slices.ContainsFunc(u.set, m.IsPK)
	tx := &updateTexts{t: m}
	var err error
	if tx.write, tx.keys, err = writeTexts(u.query, u.base, m, u.rel.ref); err != nil {
		return nil, err
	}
	s := u.stmt
	targets := make([]*pg.Node, 0, len(m.Columns)+len(m.PK))
	for _, c := range m.Columns {
		targets = append(targets, target(colRef(u.rel.ref, c), ""))
	}
	if keyChange {
		if len(s.FromClause) > 0 {
			return nil, datasource.Unsupported(u.query, "an UPDATE … FROM that changes a primary key")
		}
		tx.newKey = make([]int, len(m.PK))
		extra := 0
		for k, c := range m.PK {
			tx.newKey[k] = -1
			if !slices.Contains(u.set, c) {
				continue
			}
			if u.fromSelect[c] {
				return nil, datasource.Unsupported(u.query, "the new value of primary-key column %q comes from a sub-select (SET (…) = (SELECT …)): the rows' new keys cannot be computed before it runs (set the key with an expression, SET (…) = (…))", c)
			}
			e, ok := u.exprs[c]
			if !ok || !pure(e, true) {
				return nil, datasource.Unsupported(u.query, "the new value of primary-key column %q is not made of columns, constants and operators", c)
			}
			cast, err := castTo(clone(e), in.types[c])
			if err != nil {
				return nil, txc.Errorf(txc.CodeUnsupported, "datasource/postgres: %v", err)
			}
			targets = append(targets, target(cast, "txc_new_"+strconv.Itoa(k)))
			tx.newKey[k] = extra
			extra++
		}
	}
	if !keyChange && len(s.FromClause) == 0 && !datasource.Cascading(datasource.OpUpdate, u.set, m) {
		j, err := u.joinedUpdate(m)
		if err != nil {
			return nil, txc.Errorf(txc.CodeUnsupported, "datasource/postgres: rewriting %s: %v", datasource.Shorten(u.query), err)
		}
		tx.joined = j
		u.texts.Store(tx)
		return tx, nil
	}
	if tx.before, tx.beforeArgs, err = lockedRead(u.query, s.Relation, m, u.rel.ref, targets, s.FromClause, s.WhereClause, s.WithClause); err != nil {
		return nil, err
	}
	u.texts.Store(tx)
	return tx, nil
}

// lockedRead is the text of the read that locks and images the rows of
// m a write of rel (referred to as ref) with the other FROM items from,
// where and with writes: SELECT targets FROM rel, from… WHERE where FOR
// UPDATE OF ref, with the indexes of the statement's arguments it takes.
func lockedRead(query string, rel *pg.RangeVar, m *datasource.Table, ref string, targets, from []*pg.Node, where *pg.Node, with *pg.WithClause) (string, []int, error) {
	sel := &pg.SelectStmt{
		TargetList:    targets,
		FromClause:    append([]*pg.Node{{Node: &pg.Node_RangeVar{RangeVar: qualify(rel, m)}}}, cloneList(from)...),
		WhereClause:   clone(where),
		LockingClause: []*pg.Node{forUpdateOf(ref)},
	}
	if with != nil {
		sel.WithClause = clone(with)
	}
	args := renumber(sel)
	text, err := deparseChecked(selectNode(sel))
	if err != nil {
		return "", nil, txc.Errorf(txc.CodeUnsupported, "datasource/postgres: before image of %s: %v", datasource.Shorten(query), err)
	}
	return text, args, nil
}

// joinedUpdate rewrites a single-table UPDATE that keeps its keys so that
// one statement locks, images and updates the rows:
//
//	UPDATE t x SET … FROM (SELECT x.c1, … FROM t x WHERE <where> FOR UPDATE OF x) txc_old (txc_old_0, …)
//	WHERE x.pk = txc_old.txc_old_k RETURNING txc_old.txc_old_0, …, x.c1, …
//
// The sub-select locks exactly the rows the user's WHERE selects and
// returns them as they are once locked; the UPDATE changes exactly those
// rows (joined by primary key, one to one), from the same values; and
// RETURNING gives each row before and after. PostgreSQL 15 has no
// RETURNING OLD, which this stands in for.
func (u *updatePlan) joinedUpdate(m *datasource.Table) (string, error) {
	s := u.stmt
	const old = "txc_old"
	// The sub-select's columns get names of their own, so that the
	// user's unqualified column names still mean the target's columns.
	alias := &pg.Alias{Aliasname: old}
	inner := make([]*pg.Node, len(m.Columns))
	oldCol := make([]string, len(m.Columns))
	for i, c := range m.Columns {
		inner[i] = target(colRef(u.rel.ref, c), "")
		oldCol[i] = "txc_old_" + strconv.Itoa(i)
		alias.Colnames = append(alias.Colnames, str(oldCol[i]))
	}
	pkOld := func(c string) string { return oldCol[slices.Index(m.Columns, c)] }
	sub := &pg.SelectStmt{
		TargetList:    inner,
		FromClause:    []*pg.Node{{Node: &pg.Node_RangeVar{RangeVar: qualify(s.Relation, m)}}},
		WhereClause:   clone(s.WhereClause),
		LockingClause: []*pg.Node{forUpdateOf(u.rel.ref)},
	}
	var join []*pg.Node
	for _, c := range m.PK {
		join = append(join, pg.MakeAExprNode(pg.A_Expr_Kind_AEXPR_OP, []*pg.Node{str("=")}, colRef(u.rel.ref, c), colRef(old, pkOld(c)), -1))
	}
	where := join[0]
	if len(join) > 1 {
		where = pg.MakeBoolExprNode(pg.BoolExprType_AND_EXPR, join, -1)
	}
	ret := make([]*pg.Node, 0, 2*len(m.Columns))
	for _, c := range oldCol {
		ret = append(ret, target(colRef(old, c), ""))
	}
	for _, c := range m.Columns {
		ret = append(ret, target(colRef(u.rel.ref, c), ""))
	}
	up := &pg.UpdateStmt{
		Relation:   qualify(s.Relation, m),
		TargetList: cloneList(s.TargetList),
		FromClause: []*pg.Node{{Node: &pg.Node_RangeSubselect{RangeSubselect: &pg.RangeSubselect{
			Subquery: selectNode(sub), Alias: alias}}}},
		WhereClause:   where,
		ReturningList: ret,
	}
	if s.WithClause != nil {
		up.WithClause = clone(s.WithClause)
	}
	return deparseChecked(&pg.Node{Node: &pg.Node_UpdateStmt{UpdateStmt: up}})
}

// starOf returns a copy of a target list with each bare * made ref.*.
func starOf(list []*pg.Node, ref string) []*pg.Node {
	out := cloneList(list)
	for _, n := range out {
		cr := n.GetResTarget().GetVal().GetColumnRef()
		if cr != nil && len(cr.Fields) == 1 && cr.Fields[0].GetAStar() != nil {
			cr.Fields = []*pg.Node{str(ref), cr.Fields[0]}
		}
	}
	return out
}

// assigned returns the expression a SET entry's value gives its column:
// the value itself, or, in a multiple-column assignment from a row
// (SET (a, b) = (x, y), or ROW(x, y)), the row's member for the column;
// sub is set for a multiple-column assignment from a sub-select. Anything
// else (a row of the wrong length, which PostgreSQL refuses) gives nil.
func assigned(val *pg.Node) (e *pg.Node, sub bool) {
	ma := val.GetMultiAssignRef()
	if ma == nil {
		return val, false
	}
	if ma.Source.GetSubLink() != nil {
		return nil, true
	}
	if row := ma.Source.GetRowExpr(); row != nil && ma.Colno >= 1 && int(ma.Colno) <= len(row.Args) && int(ma.Ncolumns) == len(row.Args) {
		return row.Args[ma.Colno-1], false
	}
	return nil, false
}
