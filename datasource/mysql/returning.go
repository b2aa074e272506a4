package mysql

import (
	"context"
	"database/sql/driver"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// MariaDB's INSERT, REPLACE and DELETE take a RETURNING list (INSERT …
// RETURNING id is how GORM reads generated keys back on MariaDB), which
// the TiDB parser does not know. A text that does not parse is searched
// for a RETURNING keyword outside strings, comments and parentheses
// (returningAt); where the text before it parses as one INSERT or
// DELETE and the text after it as a select list, the statement is
// planned without it, and run: as the application's whole text when it
// reads the rows (Query: they are read in full, and their number is the
// count the plan checks its images against, as MariaDB reports none with
// RETURNING), or without the list when it does not (Exec: the server's
// own counts).

// returning recognizes query as a statement with a RETURNING list, or
// reports (ok false) that it is not one.
func (d Dialect) returning(query string) (st datasource.Statement, ok bool, err error) {
	for _, at := range returningAt(query) {
		prefix, list := strings.TrimRight(query[:at], " \t\r\n"), query[at+len("RETURNING"):]
		if stmts, err := parse(prefix); err != nil || len(stmts) != 1 {
			continue
		}
		sel, err := parse("SELECT " + list)
		if err != nil || len(sel) != 1 {
			continue
		}
		s, isSelect := sel[0].(*ast.SelectStmt)
		if !isSelect || s.From != nil || s.Where != nil || s.GroupBy != nil || s.Having != nil || s.OrderBy != nil || s.Limit != nil || s.LockInfo != nil || s.SelectIntoOpt != nil {
			continue
		}
		st, err := d.returningPlan(query, prefix, list, s)
		return st, true, err
	}
	return nil, false, nil
}

// returningPlan plans query: prefix, RETURNING and list (parsed: the
// fields of sel).
func (d Dialect) returningPlan(query, prefix, list string, sel *ast.SelectStmt) (datasource.Statement, error) {
	if len(markers(sel)) > 0 {
		return nil, datasource.Unsupported(query, "a placeholder in its RETURNING list")
	}
	w := &sideEffects{}
	sel.Accept(w)
	if w.bad != "" {
		return nil, datasource.Unsupported(query, "its RETURNING list has %s, which could write what no image holds", w.bad)
	}
	st, err := d.Recognize(prefix)
	if err != nil {
		return nil, err
	}
	inner, names := unchecked(st)
	switch p := inner.(type) {
	case *insertPlan:
	case *deletePlan:
		if p.keyed || len(p.refs) > 1 {
			return nil, datasource.Unsupported(query, "a DELETE … RETURNING whose WHERE reads through a subquery, or of several tables")
		}
	default:
		return nil, datasource.Unsupported(query, "RETURNING is taken by INSERT and DELETE only")
	}
	return checkingViews(&returningStmt{inner: inner, full: query, prefix: prefix, list: list}, query, names), nil
}

// sideEffects walks a RETURNING list for what could write or read
// another table: functions outside the deterministic ones (stored
// functions among them), variable assignments, subqueries.
type sideEffects struct{ bad string }

func (s *sideEffects) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.SubqueryExpr, *ast.ExistsSubqueryExpr:
		s.bad = "a subquery"
	case *ast.FuncCallExpr:
		if !deterministic[x.FnName.L] {
			s.bad = "function " + strings.ToUpper(x.FnName.O)
		}
	case *ast.VariableExpr:
		if x.Value != nil {
			s.bad = "an assignment to @" + x.Name
		}
	}
	return n, s.bad != ""
}

func (s *sideEffects) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// returningStmt is an INSERT or DELETE with a RETURNING list: inner is
// the plan of prefix, the statement without it; list is the text of the
// list.
type returningStmt struct {
	inner              datasource.Statement
	full, prefix, list string
}

var _ datasource.Returner = (*returningStmt)(nil)

func (r *returningStmt) Kind() datasource.Kind { return datasource.Write }

func (r *returningStmt) LockKeys(context.Context, *datasource.Exec, []driver.NamedValue) error {
	return nil
}

// Exec runs the statement without its RETURNING list, whose rows the
// application does not read: the server then reports its counts.
func (r *returningStmt) Exec(ctx context.Context, x *datasource.Exec, args []driver.NamedValue, _ func() (driver.Result, error)) (driver.Result, error) {
	return r.exec(ctx, x, args, func() (driver.Result, error) {
		vals := make([]any, len(args))
		for i, a := range args {
			vals[i] = a.Value
		}
		return x.ExecArgs(ctx, r.prefix, vals...)
	})
}

// Query runs the application's text, reads its rows in full, and returns
// them once the plan has imaged what the statement wrote. An IGNORE, ON
// DUPLICATE KEY UPDATE or REPLACE returns the primary key of each row
// first (the application's columns follow): their count is not the
// server's, which would count rows updated or deleted too, so the plan
// checks its images against those keys instead (see returnedKeys).
func (r *returningStmt) Query(ctx context.Context, x *datasource.Exec, args []driver.NamedValue) (driver.Rows, error) {
	text, n := r.full, 0
	if ip, ok := r.inner.(*insertPlan); ok && ip.conflict {
		m, err := x.Table(ctx, ip.table.schema, ip.table.name)
		if err != nil {
			return nil, err
		}
		text, n = r.prefix+" RETURNING "+columns("", m.PK)+", "+r.list, len(m.PK)
	}
	var rows driver.Rows
	_, err := r.exec(ctx, x, args, func() (driver.Result, error) {
		images, user, err := x.QueryReturning(ctx, text, args, n)
		if err != nil {
			return nil, err
		}
		rows = user
		res := &returnedResult{ctx: ctx, x: x, n: int64(len(images))}
		if n > 0 {
			res.keys = images
		}
		return res, nil
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// exec runs the inner plan with run as its statement; a failure after
// run ran leaves the local transaction able only to roll back.
func (r *returningStmt) exec(ctx context.Context, x *datasource.Exec, args []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	ran := false
	res, err := r.inner.Exec(ctx, x, args, func() (driver.Result, error) {
		res, err := run()
		ran = err == nil
		return res, err
	})
	if err != nil && ran {
		x.Fail(err)
	}
	return res, err
}

// returnedResult is the result of a statement run with RETURNING: the
// rows it returned are the rows it inserted or deleted (MariaDB reports
// no count with RETURNING), and the first key it generated is the
// session's LAST_INSERT_ID(), read when asked for (only after rows with
// generated keys were inserted, which set it).
type returnedResult struct {
	ctx context.Context
	x   *datasource.Exec
	n   int64
	// keys are the primary keys the statement returned first, one per
	// row, when it was run to return them (see returningStmt.Query).
	keys []undo.Row
}

func (r *returnedResult) RowsAffected() (int64, error) { return r.n, nil }

func (r *returnedResult) LastInsertId() (int64, error) {
	rows, err := r.x.Query(r.ctx, "SELECT LAST_INSERT_ID()")
	if err != nil {
		return 0, err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return 0, txc.Errorf(txc.CodeInternal, "datasource/mysql: LAST_INSERT_ID() gave %d rows", len(rows))
	}
	return asInt(rows[0][0].Value), nil
}

// returningAt returns the offsets in q of the word RETURNING outside
// string literals, quoted names, comments and parentheses, when q begins
// (after space and comments) with INSERT, REPLACE or DELETE; else none.
// A match only proposes a split, which must then parse.
func returningAt(q string) []int {
	var out []int
	depth, first := 0, ""
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			i = skipQuoted(q, i)
			continue
		case c == '#' || (c == '-' && strings.HasPrefix(q[i:], "--") && (i+2 == len(q) || q[i+2] <= ' ')):
			if j := strings.IndexByte(q[i:], '\n'); j >= 0 {
				i += j + 1
				continue
			}
			return out
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			j := strings.Index(q[i+2:], "*/")
			if j < 0 {
				return out
			}
			i += j + 4
			continue
		case c == '(':
			depth++
		case c == ')':
			depth--
		case identByte(c):
			j := i
			for j < len(q) && identByte(q[j]) {
				j++
			}
			w := strings.ToUpper(q[i:j])
			switch {
			case first == "":
				if first = w; w != "INSERT" && w != "REPLACE" && w != "DELETE" {
					return nil
				}
			case depth == 0 && w == "RETURNING" && (i == 0 || (q[i-1] != '@' && q[i-1] != '.')):
				out = append(out, i)
			}
			i = j
			continue
		}
		i++
	}
	return out
}

// identByte reports whether c can be part of an unquoted name or keyword.
func identByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

// skipQuoted returns the offset after the quoted string or name that
// starts at q[i] (its end when unterminated): doubled quotes stand for
// one, and a backslash escapes the next byte in '…' and "…".
func skipQuoted(q string, i int) int {
	quote := q[i]
	for j := i + 1; j < len(q); j++ {
		switch {
		case q[j] == '\\' && quote != '`':
			j++
		case q[j] == quote && j+1 < len(q) && q[j+1] == quote:
			j++
		case q[j] == quote:
			return j + 1
		}
	}
	return len(q)
}

// returnedKeys checks the keys an IGNORE, ON DUPLICATE KEY UPDATE or
// REPLACE run with RETURNING returned, one per row it inserted or
// updated (stands in for the row count, which MariaDB does not report
// with RETURNING), against its images: an IGNORE returns the rows it
// inserted, the others one row per new row, each the row that now holds
// its keys, which are the rows the after image read. A key stored
// otherwise than it was looked up, or two new rows meeting one row,
// shows here as it would in the count.
func (ip *insertPlan) returnedKeys(m *datasource.Table, keys, before, after []undo.Row) error {
	want := map[string]bool{}
	for _, r := range after {
		want[datasource.RowKey(m.PK, r)] = true
	}
	if !ip.replace && !ip.upsert { // IGNORE: the rows inserted
		for _, r := range before {
			delete(want, datasource.RowKey(m.PK, r))
		}
	}
	got := map[string]bool{}
	for _, k := range keys {
		s := datasource.RowKey(m.PK, k)
		if got[s] || !want[s] {
			return txc.Errorf(txc.CodeUnsupported, "datasource/mysql: the statement returned row (%s), which its images do not show it wrote once (a key stored differently from its literal, or rows of one statement meeting each other): %s", s, datasource.Shorten(ip.query))
		}
		got[s] = true
	}
	if len(got) != len(want) {
		return txc.Errorf(txc.CodeUnsupported, "datasource/mysql: the statement returned %d rows but its images show %d it wrote: %s", len(got), len(want), datasource.Shorten(ip.query))
	}
	return nil
}
