package mysql

import (
	"context"
	"database/sql/driver"
	"math"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// insertPlan is INSERT, INSERT IGNORE, INSERT … ON DUPLICATE KEY UPDATE,
// REPLACE, and INSERT … SELECT.
type insertPlan struct {
	query    string
	nargs    int
	table    tableRef
	columns  []string // as written; empty: every column
	rows     [][]value
	conflict bool // IGNORE, ON DUPLICATE KEY UPDATE or REPLACE
	replace  bool
	upsert   bool     // ON DUPLICATE KEY UPDATE
	odku     []string // the columns it assigns, but for those assigned themselves (see selfAssigned)
	// odkuValues are the columns of odku assigned VALUES(themselves),
	// a no-op on some tables (see assignedColumns).
	odkuValues []string
	rowsMode   rowsMode
	sel        frag // INSERT … SELECT: the SELECT, with a shared lock
	// selVaries, for INSERT … SELECT, says why its SELECT may give other
	// rows to the proxy's read than to the insert (nil: it cannot): the
	// keys the proxy read would then not be the keys inserted, and the
	// after image could take rows that were there before for inserted
	// ones. It refuses the statement when the keys are not generated.
	selVaries error
}

// value is what an INSERT puts in one column of one row.
type value struct {
	kind valueKind
	f    frag    // valConst: the constant expression; valParam: "?" and its argument
	lit  literal // valConst: the literal it is, if one
}

type valueKind uint8

const (
	valDefault valueKind = iota // DEFAULT, or the column is not listed
	valNull                     // the literal NULL
	valConst                    // a constant expression (literals, operators)
	valParam                    // a placeholder
	valExpr                     // anything else: known only after the insert
)

func (p *planner) insert(s *ast.InsertStmt) (datasource.Statement, error) {
	refs := tables(s.Table.TableRefs)
	if len(refs) != 1 {
		return nil, datasource.Unsupported(p.query, "INSERT into %d tables", len(refs))
	}
	ip := &insertPlan{query: p.query, nargs: p.nargs, table: refs[0], conflict: s.IgnoreErr || s.IsReplace || len(s.OnDuplicate) > 0,
		replace: s.IsReplace, upsert: len(s.OnDuplicate) > 0, rowsMode: p.rowsMode}
	for _, a := range s.OnDuplicate {
		if selfAssigned(a, refs[0]) {
			continue
		}
		ip.odku = append(ip.odku, a.Column.Name.O)
		if valuesAssigned(a, refs[0]) {
			ip.odkuValues = append(ip.odkuValues, a.Column.Name.O)
		}
	}
	for _, c := range s.Columns {
		ip.columns = append(ip.columns, c.Name.O)
	}
	if s.Select != nil {
		if ip.conflict {
			return nil, datasource.Unsupported(p.query, "INSERT … SELECT with IGNORE, REPLACE or ON DUPLICATE KEY UPDATE")
		}
		sel, ok := s.Select.(*ast.SelectStmt)
		if !ok || sel.SelectIntoOpt != nil || sel.Kind != ast.SelectStmtKindSelect {
			return nil, datasource.Unsupported(p.query, "INSERT … SELECT from a %T", s.Select)
		}
		f, err := p.mustFragment(fragQuery, sel)
		if err != nil {
			return nil, err
		}
		if sel.LockInfo == nil {
			// The proxy reads the selected rows first; a shared lock
			// keeps the insert's own read equal to it.
			f.sql += " LOCK IN SHARE MODE"
		}
		ip.sel = f
		ip.selVaries = p.choosesRowsDeterministically(sel.With, sel.From, sel.Where, sel.Fields, sel.GroupBy, sel.Having, sel.OrderBy, sel.Limit)
		if ip.selVaries == nil && sel.Limit != nil {
			ip.selVaries = datasource.Unsupported(p.query, "INSERT … SELECT … LIMIT with keys not generated: the rows the limit keeps may differ between the proxy's read of the keys and the insert")
		}
		return ip, nil
	}
	for _, list := range s.Lists {
		row := make([]value, len(list))
		for i, e := range list {
			v, err := p.classify(e)
			if err != nil {
				return nil, err
			}
			row[i] = v
		}
		ip.rows = append(ip.rows, row)
	}
	return ip, nil
}

func (p *planner) classify(e ast.ExprNode) (value, error) {
	switch x := e.(type) {
	case *ast.DefaultExpr:
		if x.Name == nil {
			return value{kind: valDefault}, nil
		}
		return value{kind: valExpr}, nil
	case *test_driver.ParamMarkerExpr:
		return value{kind: valParam, f: frag{sql: "?", args: []int{p.args[x]}}}, nil
	case *test_driver.ValueExpr:
		if x.Datum.Kind() == test_driver.KindNull {
			return value{kind: valNull}, nil
		}
	}
	c := &constant{ok: true}
	e.Accept(c)
	if !c.ok {
		return value{kind: valExpr}, nil
	}
	f, err := p.mustFragment(fragExpr, e)
	if err != nil {
		return value{}, err
	}
	return value{kind: valConst, f: f, lit: literalOf(e)}, nil
}

// constant accepts literals, placeholders and operators only.
type constant struct{ ok bool }

func (c *constant) Enter(n ast.Node) (ast.Node, bool) {
	switch n.(type) {
	case *test_driver.ValueExpr, *test_driver.ParamMarkerExpr, *ast.UnaryOperationExpr, *ast.BinaryOperationExpr, *ast.ParenthesesExpr:
	default:
		c.ok = false
	}
	return n, !c.ok
}
func (c *constant) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func (ip *insertPlan) Kind() datasource.Kind { return datasource.Write }

// write describes the statement to the hazard policy; odku are the
// columns ON DUPLICATE KEY UPDATE assigns (see assignedColumns).
func (ip *insertPlan) write(x *datasource.Exec, odku []string) datasource.TableWrite {
	w := datasource.TableWrite{Statement: ip.query, Op: datasource.OpInsert, Assigned: odku, Undo: x.InGlobalTx()}
	switch {
	case ip.replace:
		w.Op = datasource.OpReplace
	case ip.upsert:
		w.Op = datasource.OpUpsert
	case ip.conflict:
		w.Op = datasource.OpInsertIgnore
	}
	return w
}

func (ip *insertPlan) LockKeys(context.Context, *datasource.Exec, []driver.NamedValue) error {
	return nil
}

// known reports whether v is known before the insert and not NULL.
func known(v value, args []driver.NamedValue) bool {
	switch v.kind {
	case valConst:
		return true
	case valParam:
		return args[v.f.args[0]].Value != nil
	}
	return false
}

// isNull reports whether v is an explicit NULL.
func isNull(v value, args []driver.NamedValue) bool {
	return v.kind == valNull || (v.kind == valParam && args[v.f.args[0]].Value == nil)
}

// zero reports whether v may be a zero (or empty) value, which MySQL
// turns into a generated value in an AUTO_INCREMENT column unless
// sql_mode has NO_AUTO_VALUE_ON_ZERO.
func zero(v value, args []driver.NamedValue) bool {
	if n, ok := storedInt(v, args); ok {
		return n == "0" // 0.4 is stored as 0 too
	}
	switch v.kind {
	case valConst:
		return true // an expression: its value is unknown here
	case valParam:
		switch a := args[v.f.args[0]].Value.(type) {
		case float64:
			return math.Abs(a) < 1 // ±0.5, halfway, may be stored as 0
		case string, []byte:
			return true // not a plain number: how the server reads it is not known here
		}
	}
	return false
}

// generates reports whether v makes an auto-increment column generate.
func generates(v value, args []driver.NamedValue) bool {
	switch v.kind {
	case valDefault, valNull:
		return true
	case valParam:
		return args[v.f.args[0]].Value == nil
	}
	return false
}

// Exec runs the INSERT in steps: the table and the new rows' values,
// checks before running (keys known, hazards, conflicts), then either the
// plain path (no row can meet an existing one: run, then the after image
// by the keys given or generated) or the conflict path (the rows the new
// ones may meet, imaged before and after, compared with the rows the
// server says it touched).
func (ip *insertPlan) Exec(ctx context.Context, x *datasource.Exec, args []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	if err := start(ctx, x, ip.query, ip.nargs, args); err != nil {
		return nil, err
	}
	m, err := x.Table(ctx, ip.table.schema, ip.table.name)
	if err != nil {
		return nil, err
	}
	if m, err = withColumns(ctx, x, ip.query, ip.table, m, append(slices.Clone(ip.columns), ip.odku...)); err != nil {
		return nil, err
	}
	cols, pos := ip.columnsOf(m)
	if !ip.sel.empty() {
		if err := datasource.RefuseWrite(ip.write(x, nil), m); err != nil {
			return nil, err
		}
		return ip.execSelect(ctx, x, m, cols, pos, args, run)
	}
	for _, r := range ip.rows {
		if len(r) != len(cols) {
			return nil, txc.Errorf(txc.CodeInvalidArgument, "datasource/mysql: a row of %d values for %d columns: %s", len(r), len(cols), datasource.Shorten(ip.query))
		}
	}
	// v returns what row r puts in column col.
	v := func(r int, col string) value {
		if i := pos(col); i >= 0 {
			return ip.rows[r][i]
		}
		return value{kind: valDefault}
	}
	k, err := ip.check(ctx, x, m, v, args)
	if err != nil {
		return nil, err
	}
	if !ip.conflict || (k.nGen == len(ip.rows) && len(m.Unique) == 0) {
		return ip.execPlain(ctx, x, m, k, v, args, run)
	}
	return ip.execConflict(ctx, x, m, k, v, args, run)
}

// columnsOf returns the columns the statement's values go to, and the
// position of a column among them (-1: not given).
func (ip *insertPlan) columnsOf(m *datasource.Table) ([]string, func(col string) int) {
	cols := ip.columns
	if len(cols) == 0 {
		cols = m.AllColumns
	}
	return cols, func(col string) int {
		for i, c := range cols {
			if strings.EqualFold(c, col) {
				return i
			}
		}
		return -1
	}
}

// newKeys is what check learned of the new rows' primary keys.
type newKeys struct {
	auto   bool     // the primary key is the auto-increment column
	nGen   int      // rows whose key is generated
	nKnown int      // rows whose key is given
	odku   []string // the columns ON DUPLICATE KEY UPDATE assigns (see assignedColumns)
}

// mixed reports whether some rows give their keys and others have them
// generated.
func (k newKeys) mixed() bool { return k.nGen > 0 && k.nKnown > 0 }

// check refuses, before the statement runs, new rows whose keys cannot
// be known as the server will store them, a write the hazard policy
// refuses, and conflicts that cannot all be found.
func (ip *insertPlan) check(ctx context.Context, x *datasource.Exec, m *datasource.Table, v func(int, string) value, args []driver.NamedValue) (newKeys, error) {
	k := newKeys{auto: m.AutoIncrement != "" && len(m.PK) == 1 && strings.EqualFold(m.PK[0], m.AutoIncrement)}
	if k.auto {
		for r := range ip.rows {
			if pv := v(r, m.PK[0]); known(pv, args) && zero(pv, args) {
				return k, datasource.Unsupported(ip.query, "AUTO_INCREMENT column %q is given 0 or a value that may be 0, which the server stores as 0 or replaces with a generated key depending on sql_mode; omit the column or pass NULL to generate", m.PK[0])
			}
		}
	}
	if err := ip.halfwayKeys(m, v, args); err != nil {
		return k, err
	}
	k.odku = ip.assignedColumns(m)
	if err := datasource.RefuseWrite(ip.write(x, k.odku), m); err != nil {
		return k, err
	}
	if ip.conflict {
		if err := ip.checkConflict(m, k.odku, v, k.auto, args); err != nil {
			return k, err
		}
		if err := ip.repeatedKey(ctx, x, m, v, args); err != nil {
			return k, err
		}
	}
	for r := range ip.rows {
		allKnown := true
		for _, c := range m.PK {
			allKnown = allKnown && known(v(r, c), args)
		}
		switch {
		case allKnown:
			k.nKnown++
		case k.auto && generates(v(r, m.PK[0]), args):
			k.nGen++
		}
	}
	if k.nKnown+k.nGen < len(ip.rows) {
		return k, datasource.Unsupported(ip.query, "the primary key of an inserted row is an expression known only after the insert")
	}
	if k.mixed() && !ip.mixable(m) {
		return k, datasource.Unsupported(ip.query, "one INSERT mixes given and generated auto-increment keys (only IGNORE, ON DUPLICATE KEY UPDATE and REPLACE into a table without other unique keys, under innodb_autoinc_lock_mode 0 or 1, may)")
	}
	return k, nil
}

// execPlain runs an INSERT none of whose rows can meet an existing one,
// and reads the after image by the keys given or generated.
func (ip *insertPlan) execPlain(ctx context.Context, x *datasource.Exec, m *datasource.Table, k newKeys, v func(int, string) value, args []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	res, err := run()
	if err != nil {
		return nil, err
	}
	w := ip.write(x, k.odku)
	if k.nGen > 0 {
		keys, err := generated(res, m, int64(len(ip.rows)))
		if err != nil {
			return nil, err
		}
		after, err := insertedRows(ctx, x, m, w, func(t *datasource.Table) ([]undo.Row, error) {
			return afterImage(ctx, x, t, keys)
		})
		if err != nil {
			return nil, err
		}
		return res, ip.inserted(ctx, x, m, after, len(keys))
	}
	after, err := insertedRows(ctx, x, m, w, func(t *datasource.Table) ([]undo.Row, error) {
		q := &query{}
		q.add("SELECT " + allColumns("", t) + " FROM " + Dialect{}.QuoteTable(t.Name) + " WHERE ")
		ip.keyTerms(q, t, t.PK, len(ip.rows), v, args)
		q.add(" FOR UPDATE")
		return tableRows(ctx, x, t, q, 0, false)
	})
	if err != nil {
		return nil, err
	}
	return res, ip.inserted(ctx, x, m, after, len(ip.rows))
}

// execConflict runs an IGNORE, ON DUPLICATE KEY UPDATE or REPLACE: the
// rows that hold any of the new rows' unique keys, imaged before and
// after, are compared into undo records.
func (ip *insertPlan) execConflict(ctx context.Context, x *datasource.Exec, m *datasource.Table, k newKeys, v func(int, string) value, args []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	pred := ip.metRows(m, v, args)
	before, err := ip.readMet(ctx, x, m, pred)
	if err != nil {
		return nil, err
	}
	res, err := run()
	if err != nil {
		return nil, err
	}
	var gen []undo.Row
	if k.mixed() {
		if gen, err = ip.mixedGenerated(res, m, k.nGen, v, args); err != nil {
			return nil, err
		}
	}
	after, err := ip.readMet(ctx, x, m, pred, gen...)
	if err != nil {
		return nil, err
	}
	d := diffRecords(x, m, before, after)
	if err := ip.counted(res, d); err != nil {
		return nil, err
	}
	return res, nil
}

// metRows is the condition on the rows that hold any of the new rows'
// unique keys (the primary key included) known before the insert.
func (ip *insertPlan) metRows(m *datasource.Table, v func(int, string) value, args []driver.NamedValue) *query {
	pred := &query{}
	terms := 0
	for _, key := range append([][]string{m.PK}, m.Unique...) {
		rows := ip.knownRows(key, v, args)
		if len(rows) == 0 {
			continue
		}
		if terms > 0 {
			pred.add(" OR ")
		}
		terms++
		pred.add("(")
		ip.keyTermsRows(pred, m, key, rows, v, args)
		pred.add(")")
	}
	return pred
}

// readMet reads and locks the rows pred selects, with the rows of
// generated keys gen (see withGenerated), and checks their global locks.
func (ip *insertPlan) readMet(ctx context.Context, x *datasource.Exec, m *datasource.Table, pred *query, gen ...undo.Row) ([]undo.Row, error) {
	q := &query{}
	q.add("SELECT " + allColumns("", m) + " FROM " + Dialect{}.QuoteTable(m.Name) + " WHERE " + pred.String() + " FOR UPDATE")
	q.args = append([]any(nil), pred.args...)
	rows, err := tableRows(ctx, x, m, q, 0, false)
	if err != nil {
		return nil, err
	}
	if rows, err = ip.withGenerated(ctx, x, m, rows, gen); err != nil {
		return nil, err
	}
	if err := x.Guard(ctx, m.Name, m.PK, rows, false); err != nil {
		return nil, err
	}
	return rows, nil
}

// counted checks that the rows the server says the statement touched are
// the rows the images show: a key stored differently from how it was
// looked up (rounded, clamped, truncated, generated), or two rows of the
// statement meeting each other, shows here.
func (ip *insertPlan) counted(res driver.Result, d diffCounts) error {
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	var ok bool
	switch {
	case ip.replace:
		ok = n == int64(d.ins+d.del+2*(d.upd+d.same))
	case ip.upsert:
		lo := int64(d.ins + 2*d.upd)
		ok = d.del == 0 && (n == lo || (ip.rowsMode != rowsChanged && n > lo && n <= lo+int64(d.same)))
	default: // IGNORE
		ok = d.del == 0 && d.upd == 0 && n == int64(d.ins)
	}
	if !ok {
		return txc.Errorf(txc.CodeUnsupported, "datasource/mysql: the statement affected %d rows but its images show %d inserted, %d deleted, %d updated and %d unchanged rows (a key stored differently from its literal, or rows of one statement meeting each other): %s",
			n, d.ins, d.del, d.upd, d.same, datasource.Shorten(ip.query))
	}
	return nil
}

// checkConflict refuses an IGNORE / ON DUPLICATE KEY UPDATE / REPLACE
// whose conflicts cannot all be found before it runs: every unique key
// (the primary key included) of every row must be known exactly as the
// server will store it, or (a non-primary key) hold an explicit NULL in
// a nullable column, which meets no row.
// odku are the columns ON DUPLICATE KEY UPDATE assigns (see assignedColumns).
func (ip *insertPlan) checkConflict(m *datasource.Table, odku []string, v func(int, string) value, auto bool, args []driver.NamedValue) error {
	mt := meta(m)
	for _, c := range odku {
		if m.IsPK(c) {
			return datasource.Unsupported(ip.query, "ON DUPLICATE KEY UPDATE assigns primary-key column %q", c)
		}
		for _, key := range m.Unique {
			for _, k := range key {
				if strings.EqualFold(k, c) {
					return datasource.Unsupported(ip.query, "ON DUPLICATE KEY UPDATE assigns column %q of a unique key", c)
				}
			}
		}
	}
	for r := range ip.rows {
		pkKnown := true
		for _, c := range m.PK {
			pkKnown = pkKnown && known(v(r, c), args)
		}
		gen := !pkKnown && auto && generates(v(r, m.PK[0]), args)
		if !pkKnown && !gen {
			return datasource.Unsupported(ip.query, "the primary key of an inserted row is not known before the insert, so the row it may meet cannot be found")
		}
		// A row with a generated key in a table without other unique
		// keys meets no row, and is found by the key generated (as GORM
		// inserts a new associated row, with ON DUPLICATE KEY UPDATE).
		anyKnown := pkKnown || (gen && len(m.Unique) == 0)
		for _, key := range m.Unique {
			all, null := true, false
			for _, c := range key {
				cv := v(r, c)
				all = all && known(cv, args)
				null = null || (isNull(cv, args) && mt.types[strings.ToLower(c)].nullable)
			}
			switch {
			case all:
				anyKnown = true
			case null:
			default:
				return datasource.Unsupported(ip.query, "unique key (%s) of an inserted row is not known before the insert (a DEFAULT, an expression or a generated column), so the row it may meet cannot be found", strings.Join(key, ", "))
			}
		}
		if !anyKnown {
			return datasource.Unsupported(ip.query, "an inserted row has no unique key known before the insert, so it cannot be found after it")
		}
		for _, key := range append([][]string{m.PK}, m.Unique...) {
			for _, c := range key {
				cv := v(r, c)
				if !known(cv, args) {
					continue
				}
				lo, hi, isInt := mt.types[strings.ToLower(c)].intRange()
				if !isInt {
					continue
				}
				if s, ok := storedInt(cv, args); !ok || !fitsInt(s, lo, hi) {
					return datasource.Unsupported(ip.query, "the value of integer key column %q is not an integer, decimal or string literal or argument (nor a float argument off the halfway point between two integers) within the column's range, so the key the server stores (rounded or clamped) may differ from the one looked up", c)
				}
			}
		}
	}
	return nil
}

// inserted records rows as inserted, after checking there are want.
func (ip *insertPlan) inserted(ctx context.Context, x *datasource.Exec, m *datasource.Table, after []undo.Row, want int) error {
	if len(after) != want {
		return txc.Errorf(txc.CodeUnsupported, "datasource/mysql: %d rows inserted but %d found by their keys: %s", want, len(after), datasource.Shorten(ip.query))
	}
	if err := x.Guard(ctx, m.Name, m.PK, after, false); err != nil {
		return err
	}
	x.Add(undo.Record{Table: m.Name, Kind: undo.Insert, After: after, PK: m.PK})
	return nil
}

// keyTerms appends "(key) IN ((…), …)" for every row's values of key of
// table m, each as the column stores it (see storedTerm).
func (ip *insertPlan) keyTerms(q *query, m *datasource.Table, key []string, n int, v func(int, string) value, args []driver.NamedValue) {
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	ip.keyTermsRows(q, m, key, rows, v, args)
}

// keyTermsRows is keyTerms for the rows numbered rows.
func (ip *insertPlan) keyTermsRows(q *query, m *datasource.Table, key []string, rows []int, v func(int, string) value, args []driver.NamedValue) {
	types := meta(m).types
	if len(key) == 1 {
		q.add(columns("", key))
	} else {
		q.add("(" + columns("", key) + ")")
	}
	q.add(" IN (")
	for i, r := range rows {
		if i > 0 {
			q.add(", ")
		}
		if len(key) > 1 {
			q.add("(")
		}
		for j, c := range key {
			if j > 0 {
				q.add(", ")
			}
			storedTerm(q, types[strings.ToLower(c)], v(r, c), args)
		}
		if len(key) > 1 {
			q.add(")")
		}
	}
	q.add(")")
}

// generated returns the keys of n rows inserted with generated
// auto-increment values, from the first one (LAST_INSERT_ID) and the
// increment: InnoDB gives one statement consecutive values.
func generated(res driver.Result, m *datasource.Table, n int64) ([]undo.Row, error) {
	first, err := res.LastInsertId()
	if err != nil {
		return nil, txc.Errorf(txc.CodeUnsupported, "datasource/mysql: generated keys unknown: %v", err)
	}
	affected, err := rowsAffected(res)
	if err != nil {
		return nil, err
	}
	if affected != n {
		return nil, txc.Errorf(txc.CodeUnsupported, "datasource/mysql: %d rows affected for %d rows inserted with generated keys", affected, n)
	}
	keys := make([]undo.Row, n)
	for i := range keys {
		keys[i] = undo.Row{{Name: m.PK[0], Value: undo.Int(first + int64(i)*m.AutoIncrementStep)}}
	}
	return keys, nil
}

// execSelect runs INSERT … SELECT: the SELECT first (with a shared lock)
// to learn the keys of the rows, unless they are generated.
func (ip *insertPlan) execSelect(ctx context.Context, x *datasource.Exec, m *datasource.Table, cols []string, pos func(string) int, args []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	auto := m.AutoIncrement != "" && len(m.PK) == 1 && strings.EqualFold(m.PK[0], m.AutoIncrement) && pos(m.PK[0]) < 0
	if auto {
		if !m.AutoIncrementBulkConsecutive {
			return nil, datasource.Unsupported(ip.query, "INSERT … SELECT with generated keys under innodb_autoinc_lock_mode=2 (keys may not be consecutive)")
		}
		res, err := run()
		if err != nil {
			return nil, err
		}
		n, err := rowsAffected(res)
		if err != nil || n == 0 {
			return res, err
		}
		keys, err := generated(res, m, n)
		if err != nil {
			return nil, err
		}
		after, err := afterImage(ctx, x, m, keys)
		if err != nil {
			return nil, err
		}
		return res, ip.inserted(ctx, x, m, after, len(keys))
	}
	if ip.selVaries != nil {
		return nil, ip.selVaries
	}
	idx := make([]int, len(m.PK))
	for k, c := range m.PK {
		if idx[k] = pos(c); idx[k] < 0 {
			return nil, datasource.Unsupported(ip.query, "INSERT … SELECT that does not list primary-key column %q", c)
		}
	}
	q := &query{}
	q.frag(ip.sel, args)
	src, err := x.Query(ctx, q.String(), q.args...)
	if err != nil {
		return nil, err
	}
	keys := make([]undo.Row, len(src))
	for r, row := range src {
		if len(row) != len(cols) {
			return nil, txc.Errorf(txc.CodeInvalidArgument, "datasource/mysql: the SELECT gives %d columns for %d: %s", len(row), len(cols), datasource.Shorten(ip.query))
		}
		key := make(undo.Row, len(m.PK))
		for k, c := range m.PK {
			key[k] = undo.Column{Name: c, Value: row[idx[k]].Value}
		}
		keys[r] = key
	}
	res, err := run()
	if err != nil {
		return nil, err
	}
	n, err := rowsAffected(res)
	if err != nil {
		return nil, err
	}
	if n != int64(len(keys)) {
		return nil, txc.Errorf(txc.CodeUnsupported, "datasource/mysql: INSERT … SELECT inserted %d rows but its SELECT gave %d: %s", n, len(keys), datasource.Shorten(ip.query))
	}
	after, err := afterImage(ctx, x, m, keys)
	if err != nil {
		return nil, err
	}
	return res, ip.inserted(ctx, x, m, after, len(keys))
}
