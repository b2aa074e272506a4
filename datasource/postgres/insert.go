package postgres

import (
	"context"
	"database/sql/driver"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// insertPlan is INSERT … VALUES / SELECT / DEFAULT VALUES, with ON
// CONFLICT DO NOTHING or DO UPDATE.
//
// The rows RETURNING gives are exactly the rows the statement inserted or
// updated, with every default, serial, identity and trigger-free value as
// stored: they are the after image. DO NOTHING skips rows without
// changing them, so they are not returned and need no image. DO UPDATE
// changes existing rows: their before image is read first, locked, by the
// arbiter key values of the new rows.
type insertPlan struct {
	query    string
	calls    callees // see checkCalls
	nargs    int
	rel      relRef
	relation *pg.RangeVar
	stmt     *pg.Node     // the INSERT without RETURNING
	ret      string       // its RETURNING list (see writer)
	cols     []string     // column list as written (nil: every column)
	values   [][]*pg.Node // VALUES rows (nil: INSERT … SELECT or DEFAULT VALUES)
	action   pg.OnConflictAction
	infer    *pg.InferClause
	setCols  []string // DO UPDATE SET columns

	texts atomic.Pointer[insertTexts]
}

// insertTexts are the statements of one plan on one table's metadata.
type insertTexts struct {
	t          *datasource.Table
	write      string // the INSERT with RETURNING every column
	keys       string // … with RETURNING the key (under a global lock)
	before     string // DO UPDATE: the before image, locked ("": no row gives its arbiter)
	beforeArgs []int
	// defaults: DO UPDATE of rows of which some leave an arbiter column
	// to its default (see arbiterValues).
	defaults bool
}

func (p *planner) insert(s *pg.InsertStmt) (datasource.Statement, error) {
	if s.Relation == nil {
		return nil, datasource.Unsupported(p.query, "INSERT without a table")
	}
	ip := &insertPlan{query: p.query, nargs: p.nargs, calls: p.calls.written(s.Relation), rel: refOf(s.Relation), relation: s.Relation, action: pg.OnConflictAction_ONCONFLICT_NONE}
	for _, c := range s.Cols {
		rt := c.GetResTarget()
		if rt == nil {
			return nil, datasource.Unsupported(p.query, "an INSERT column list entry of kind %s", nodeName(c))
		}
		ip.cols = append(ip.cols, rt.Name)
	}
	if sel := s.SelectStmt.GetSelectStmt(); sel != nil && len(sel.ValuesLists) > 0 {
		for _, l := range sel.ValuesLists {
			ip.values = append(ip.values, l.GetList().GetItems())
		}
	}
	if oc := s.OnConflictClause; oc != nil {
		ip.action, ip.infer = oc.Action, oc.Infer
		for _, t := range oc.TargetList {
			ip.setCols = append(ip.setCols, t.GetResTarget().GetName())
		}
		if ip.action == pg.OnConflictAction_ONCONFLICT_UPDATE {
			if ip.values == nil {
				return nil, datasource.Unsupported(p.query, "INSERT … SELECT … ON CONFLICT DO UPDATE: the rows it would update cannot be found before it runs")
			}
			if ip.infer == nil {
				return nil, datasource.Unsupported(p.query, "ON CONFLICT DO UPDATE without a conflict target")
			}
			if ip.infer.WhereClause != nil {
				return nil, datasource.Unsupported(p.query, "ON CONFLICT on a partial index")
			}
			for _, e := range ip.infer.IndexElems {
				ie := e.GetIndexElem()
				if ie == nil || ie.Name == "" || len(ie.Collation) > 0 || len(ie.Opclass) > 0 {
					return nil, datasource.Unsupported(p.query, "ON CONFLICT on an expression, collation or operator class")
				}
			}
		}
	}
	ret, stmt, err := p.withoutReturning(&pg.Node{Node: &pg.Node_InsertStmt{InsertStmt: s}}, &s.ReturningList)
	if err != nil {
		return nil, err
	}
	ip.stmt, ip.ret = stmt, ret
	return ip, nil
}

func (ip *insertPlan) Kind() datasource.Kind { return datasource.Write }

// refuse refuses the statement on m: DO UPDATE of a primary-key column,
// and what the hazard policy refuses.
func (ip *insertPlan) refuse(x *datasource.Exec, m *datasource.Table) error {
	w := datasource.TableWrite{Statement: ip.query, Op: datasource.OpInsert, Undo: x.InGlobalTx()}
	switch ip.action {
	case pg.OnConflictAction_ONCONFLICT_UPDATE:
		for _, c := range ip.setCols {
			if m.IsPK(c) {
				return datasource.Unsupported(ip.query, "ON CONFLICT DO UPDATE sets primary-key column %q", c)
			}
		}
		w.Op, w.Assigned = datasource.OpUpsert, ip.setCols
	case pg.OnConflictAction_ONCONFLICT_NOTHING:
		w.Op = datasource.OpInsertIgnore
	}
	return datasource.RefuseWrite(w, m)
}

func (ip *insertPlan) LockKeys(context.Context, *datasource.Exec, []driver.NamedValue) error {
	return nil
}

func (ip *insertPlan) Exec(ctx context.Context, x *datasource.Exec, args []driver.NamedValue, _ func() (driver.Result, error)) (driver.Result, error) {
	res, _, err := ip.exec(ctx, x, args, &writer{stmt: ip.query})
	return res, err
}

// Query runs the statement for the application to read its RETURNING
// rows (see datasource.Returner).
func (ip *insertPlan) Query(ctx context.Context, x *datasource.Exec, args []driver.NamedValue) (driver.Rows, error) {
	_, rows, err := ip.exec(ctx, x, args, &writer{stmt: ip.query, asQuery: true, ret: ip.ret})
	return rows, err
}

func (ip *insertPlan) exec(ctx context.Context, x *datasource.Exec, args []driver.NamedValue, w *writer) (driver.Result, driver.Rows, error) {
	if err := datasource.CheckArgs(ip.query, ip.nargs, args); err != nil {
		return nil, nil, err
	}
	if err := checkCalls(ctx, x, ip.query, ip.calls); err != nil {
		return nil, nil, err
	}
	m, in, err := table(ctx, x, ip.rel, true)
	if err != nil {
		return nil, nil, err
	}
	update := ip.action == pg.OnConflictAction_ONCONFLICT_UPDATE
	if err := ip.refuse(x, m); err != nil {
		return nil, nil, err
	}
	tx, err := ip.textsFor(m, in)
	if err != nil {
		return nil, nil, err
	}
	if !x.InGlobalTx() {
		// Under a global lock: no undo, only the written rows' locks.
		return w.runGuarded(ctx, x, m, tx.keys, args)
	}
	if !update {
		rows, err := w.run(ctx, x, tx.write, len(m.Columns), args)
		if err != nil {
			return nil, nil, err
		}
		x.Add(undo.Record{Table: m.Name, Kind: undo.Insert, After: rows, PK: m.PK, LockTable: m.LockName})
		return w.done(len(rows))
	}
	var before []undo.Row
	if tx.before != "" {
		if before, err = x.QueryArgs(ctx, tx.before, pick(args, tx.beforeArgs)); err != nil {
			return nil, nil, err
		}
		before = datasource.Dedupe(m.PK, before)
	}
	rows, err := w.run(ctx, x, tx.write, len(m.Columns)+1, args)
	if err != nil {
		return nil, nil, err
	}
	old := make(map[string]undo.Row, len(before))
	for _, b := range before {
		old[datasource.RowKey(m.PK, b)] = b
	}
	var flags map[string]bool
	if in.kind == "p" {
		if flags, err = insertedFlags(ctx, x, m, rows, old); err != nil {
			return nil, nil, poison(ctx, x, ip.query, err)
		}
	}
	var ub, ua, ins []undo.Row
	for _, r := range rows {
		flag, after := r[len(r)-1].Value, r[:len(r)-1]
		if b, ok := old[datasource.RowKey(m.PK, after)]; ok {
			ub, ua = append(ub, b), append(ua, after)
			continue
		}
		if flags != nil {
			flag = undo.Bool(flags[datasource.RowKey(m.PK, after)])
		}
		if flag.Kind() != undo.KindBool || !flag.Boolean() {
			return nil, nil, poison(ctx, x, ip.query, unimagedUpdate(m, after, tx.defaults))
		}
		ins = append(ins, after)
	}
	x.Add(updateRecord(m, ub, ua))
	x.Add(undo.Record{Table: m.Name, Kind: undo.Insert, After: ins, PK: m.PK, LockTable: m.LockName})
	return w.done(len(rows))
}

// unimagedUpdate is the error of an ON CONFLICT DO UPDATE that updated a
// row its before image did not hold: a row inserted concurrently with a
// key the statement gives (retry), or, when some new rows leave an
// arbiter column to its default, possibly a default that gave the key of
// an existing row (a sequence behind the keys written without it, a
// constant default), which a retry would meet again.
func unimagedUpdate(m *datasource.Table, row undo.Row, defaults bool) error {
	if defaults {
		return txc.Errorf(txc.CodeUnsupported,
			"datasource/postgres: ON CONFLICT DO UPDATE updated row (%s) of %s, which its before image did not hold: a new row left an arbiter column to its default and the default gave an existing row's key (or the row was inserted concurrently)", datasource.RowKey(m.PK, row), m.Name)
	}
	return txc.Errorf(txc.CodeLockConflict,
		"datasource/postgres: ON CONFLICT DO UPDATE updated row (%s) of %s, which was not there when its before image was read (inserted concurrently); retry", datasource.RowKey(m.PK, row), m.Name)
}

// textsFor builds (once per table metadata) the statements of the plan.
func (ip *insertPlan) textsFor(m *datasource.Table, in *tableInfo) (*insertTexts, error) {
	if tx := ip.texts.Load(); tx != nil && tx.t == m {
		return tx, nil
	}
	tx := &insertTexts{t: m}
	var err error
	if tx.write, tx.keys, err = writeTexts(ip.query, ip.stmt, m, ip.rel.ref); err != nil {
		return nil, err
	}
	if ip.action == pg.OnConflictAction_ONCONFLICT_UPDATE {
		// The inserted flag: a row ON CONFLICT updated carries the
		// updating transaction in xmax, a freshly inserted one 0.
		// RETURNING cannot read it on a partitioned table: see
		// insertedFlags.
		if in.kind == "p" {
			tx.write += ", NULL::bool"
		} else {
			tx.write += ", (" + quoteIdent(ip.rel.ref) + ".xmax::text = '0')"
		}
		key, err := ip.arbiter(in)
		if err != nil {
			return nil, err
		}
		for _, c := range key {
			if _, ok := m.Column(c); !ok {
				// Never given, computed from the row: a conflict
				// would be found only once the statement ran.
				return nil, datasource.Unsupported(ip.query, "ON CONFLICT DO UPDATE on generated column %q: the rows it would update cannot be looked up before it runs", c)
			}
		}
		cols := ip.cols
		if len(cols) == 0 {
			cols = m.AllColumns
		}
		refs := make([]*pg.Node, len(key))
		for i, c := range key {
			refs[i] = colRef(ip.rel.ref, c)
		}
		rows, err := ip.arbiterValues(key, cols)
		if err != nil {
			return nil, err
		}
		tx.defaults = len(rows) < len(ip.values)
		if len(rows) == 0 {
			// Every row leaves its arbiter to the default: none can be
			// looked up, and any row the statement updates fails it.
			ip.texts.Store(tx)
			return tx, nil
		}
		targets := make([]*pg.Node, len(m.Columns))
		for i, c := range m.Columns {
			targets[i] = target(colRef(ip.rel.ref, c), "")
		}
		rel := qualify(ip.relation, m)
		sel := &pg.SelectStmt{TargetList: targets, FromClause: []*pg.Node{{Node: &pg.Node_RangeVar{RangeVar: rel}}},
			WhereClause: rowIn(refs, rows), LockingClause: []*pg.Node{forUpdateOf(ip.rel.ref)}}
		tx.beforeArgs = renumber(sel)
		text, err := deparseChecked(selectNode(sel))
		if err != nil {
			return nil, txc.Errorf(txc.CodeUnsupported, "datasource/postgres: before image of %s: %v", datasource.Shorten(ip.query), err)
		}
		tx.before = text
	}
	ip.texts.Store(tx)
	return tx, nil
}

// arbiterValues returns, for each VALUES row that gives every arbiter
// column (of key, among the insert's columns cols) a constant or
// placeholder, those values: the keys the before image looks up. A row
// that leaves an arbiter column to its default (not in the column list,
// or DEFAULT) is left out: its key is known only once it is inserted
// (a sequence, gen_random_uuid()), and such a row can only conflict when
// the default gives an existing key (see exec). Any other value of an
// arbiter column is refused.
func (ip *insertPlan) arbiterValues(key, cols []string) ([][]*pg.Node, error) {
	var rows [][]*pg.Node
	for _, vals := range ip.values {
		row := make([]*pg.Node, 0, len(key))
		for _, c := range key {
			j := slices.Index(cols, c)
			switch {
			case j < 0 || (j < len(vals) && vals[j].GetSetToDefault() != nil):
				row = nil
			case j >= len(vals):
				return nil, datasource.Unsupported(ip.query, "ON CONFLICT DO UPDATE: the new rows have fewer values than columns")
			case !pure(vals[j], false):
				return nil, datasource.Unsupported(ip.query, "ON CONFLICT DO UPDATE: the value of arbiter column %q is not a constant, placeholder or DEFAULT", c)
			case row != nil:
				row = append(row, clone(vals[j]))
			}
			if row == nil {
				break
			}
		}
		if row != nil {
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// arbiter returns the columns of the unique key ON CONFLICT names. It
// refuses a conflict target whose rows the before image cannot look up
// (inexact: every unique index on the columns is an arbiter).
func (ip *insertPlan) arbiter(in *tableInfo) ([]string, error) {
	name := ip.infer.Conname
	var cols []string
	for _, e := range ip.infer.IndexElems {
		cols = append(cols, e.GetIndexElem().GetName())
	}
	var found []string
	for _, k := range in.keys {
		if name != "" && k.constraint != name && k.index != name || name == "" && (len(k.cols) != len(cols) || !sameSet(k.cols, cols)) {
			continue
		}
		if k.inexact {
			return nil, datasource.Unsupported(ip.query, "ON CONFLICT DO UPDATE on unique index %q, which is NULLS NOT DISTINCT or indexes a column under another collation than the column's: the rows it would update cannot be looked up before it runs", k.index)
		}
		if found == nil {
			found = k.cols
		}
	}
	switch {
	case found != nil:
		return found, nil
	case name != "":
		return nil, datasource.Unsupported(ip.query, "ON CONFLICT ON CONSTRAINT %q: no such unique constraint on a plain column list", name)
	}
	return nil, datasource.Unsupported(ip.query, "ON CONFLICT (%s): no unique key on exactly these columns", columnList("", cols))
}

func sameSet(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

// insertedFlags reads, for the rows an ON CONFLICT DO UPDATE on a
// partitioned table returned that its before image did not hold, whether
// the statement inserted them (xmax 0) or updated a row inserted
// concurrently since the before image was read. PostgreSQL refuses
// system columns in the RETURNING list of a partitioned table; a SELECT
// in the same transaction sees the same row versions.
func insertedFlags(ctx context.Context, x *datasource.Exec, m *datasource.Table, rows []undo.Row, old map[string]undo.Row) (map[string]bool, error) {
	var sb strings.Builder
	var args []any
	sb.WriteString("SELECT " + columnList("", m.PK) + ", (xmax::text = '0') FROM " + Dialect{}.QuoteTable(m.Name) + " WHERE (" + columnList("", m.PK) + ") IN (")
	n := 0
	for _, r := range rows {
		if _, ok := old[datasource.RowKey(m.PK, r)]; ok {
			continue
		}
		if n > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(")
		for j, c := range m.PK {
			v, _ := r.Get(c)
			expr, arg, err := (Dialect{}).Param(v, "$"+strconv.Itoa(len(args)+1))
			if err != nil {
				return nil, err
			}
			if j > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(expr)
			args = append(args, arg)
		}
		sb.WriteString(")")
		n++
	}
	out := map[string]bool{}
	if n == 0 {
		return out, nil
	}
	sb.WriteString(")")
	got, err := x.Query(ctx, sb.String(), args...)
	if err != nil {
		return nil, err
	}
	if len(got) != n {
		return nil, txc.Errorf(txc.CodeLockConflict, "datasource/postgres: ON CONFLICT DO UPDATE returned %d rows of %s that its before image lacked, but %d are there; retry", n, m.Name, len(got))
	}
	for _, r := range got {
		f := r[len(r)-1].Value
		out[datasource.RowKey(m.PK, r[:len(r)-1])] = f.Kind() == undo.KindBool && f.Boolean()
	}
	return out, nil
}
