package mysql

import (
	"context"
	"database/sql/driver"
	"strings"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/txcio/txc/datasource"
)

// A view runs the functions of its definition for the statement that
// reads it: with `CREATE VIEW v AS SELECT id, f() x FROM t`, a plain
// `SELECT * FROM v` or an `INSERT INTO t2 … SELECT … FROM v` in a global
// transaction ran f's writes, which no image held, and the global
// rollback reported Rollbacked with them left (found on MariaDB). So in
// a global transaction every table a statement names is looked up in
// information_schema.VIEWS before the statement runs, and the definition
// of each view, at any depth (a view over a view), is held to the rule
// the statement's own text is (see storedFunctionCall): a call the
// server may resolve to a stored function refuses the statement. A
// definition the parser cannot read, or one the user may not see, is
// refused too.
//
// The look-up is one catalog query per level of views. A name found
// harmless is kept on the connection (a ConnValue, dropped with the
// verified session by a statement the proxy does not vouch for, such as
// USE) for as long as table metadata is (WithMetadataMaxAge, 10 s by default): a view
// replaced by another session to call a stored function is read unseen
// for up to that long, as a trigger created since a table's metadata was
// read is. Replacing a view is DDL, which AT mode does not undo either;
// checking every local transaction would cost each one a round trip.

// readNames returns the tables (and views) stmt names, once each.
func readNames(stmt ast.Node) []tableRef {
	w := &nameWalker{seen: map[tableRef]bool{}}
	stmt.Accept(w)
	return w.out
}

type nameWalker struct {
	out  []tableRef
	seen map[tableRef]bool
}

func (w *nameWalker) Enter(n ast.Node) (ast.Node, bool) {
	if tn, ok := n.(*ast.TableName); ok {
		r := tableRef{schema: tn.Schema.O, name: tn.Name.O}
		if !w.seen[r] {
			w.seen[r] = true
			w.out = append(w.out, r)
		}
	}
	return n, false
}
func (w *nameWalker) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// checkedViews is the ConnValue key of the names checkViews found to be
// no view calling a stored function, with when it began to look.
type checkedViews struct{}

// checkViews refuses, in a global transaction, a statement one of whose
// names is a view whose definition (at any depth) may call a stored
// function.
func checkViews(ctx context.Context, x *datasource.Exec, query string, names []tableRef) error {
	if !x.InGlobalTx() || len(names) == 0 {
		return nil
	}
	done, _ := x.ConnValue(checkedViews{}).(map[tableRef]time.Time)
	maxAge := x.MetadataMaxAge()
	var fresh []tableRef
	for _, n := range names {
		if at, ok := done[n]; !ok || (maxAge > 0 && time.Since(at) >= maxAge) {
			fresh = append(fresh, n)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	began := time.Now()
	if err := viewLevels(ctx, x, query, fresh); err != nil {
		return err
	}
	if done == nil || len(done) >= maxCheckedViews {
		done = map[tableRef]time.Time{}
	}
	for _, n := range fresh {
		done[n] = began
	}
	x.SetConnValue(checkedViews{}, done)
	return nil
}

// maxCheckedViews bounds the names a connection keeps (a table per
// tenant cannot grow them without end).
const maxCheckedViews = 1024

// viewLevels reads the views among names, then those their definitions
// name, until a level holds no view (a name is read once: a view cannot
// name itself, but two names may lead to one view).
func viewLevels(ctx context.Context, x *datasource.Exec, query string, names []tableRef) error {
	seen := map[string]bool{}
	for len(names) > 0 {
		views, err := readViews(ctx, x, names)
		if err != nil {
			return err
		}
		names = nil
		for _, v := range views {
			if seen[v.schema+"."+v.name] {
				continue
			}
			seen[v.schema+"."+v.name] = true
			inner, err := viewNames(query, v)
			if err != nil {
				return err
			}
			names = append(names, inner...)
		}
	}
	return nil
}

// view is a row of information_schema.VIEWS.
type view struct{ schema, name, definition string }

// readViews returns the views among names (an empty schema: the
// session's database), in one query.
func readViews(ctx context.Context, x *datasource.Exec, names []tableRef) ([]view, error) {
	var sb strings.Builder
	sb.WriteString("SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE ")
	args := make([]any, 0, 3*len(names))
	for i, n := range names {
		if i > 0 {
			sb.WriteString(" OR ")
		}
		sb.WriteString("TABLE_SCHEMA = IF(? = '', DATABASE(), ?) AND TABLE_NAME = ?")
		args = append(args, n.schema, n.schema, n.name)
	}
	rows, err := x.Query(ctx, sb.String(), args...)
	if err != nil {
		return nil, err
	}
	out := make([]view, len(rows))
	for i, r := range rows {
		out[i] = view{schema: r[0].Value.Str(), name: r[1].Value.Str(), definition: r[2].Value.Str()}
	}
	return out, nil
}

// viewNames refuses query when view v's definition may call a stored
// function, or cannot be read, and returns the names the definition
// reads.
func viewNames(query string, v view) ([]tableRef, error) {
	at := "`" + v.schema + "`.`" + v.name + "`"
	if v.definition == "" {
		return nil, datasource.Unsupported(query, "it reads view %s, whose definition the user may not see: it could call a stored function whose writes no image holds", at)
	}
	stmts, err := parse(v.definition)
	if err != nil || len(stmts) != 1 {
		return nil, datasource.Unsupported(query, "it reads view %s, whose definition the proxy's parser cannot read (%v): it could call a stored function whose writes no image holds", at, err)
	}
	if f := storedFunctionCall(stmts[0], v.definition); f != "" {
		return nil, datasource.Unsupported(query, "it reads view %s, whose definition calls %s, which the server may resolve to a stored function: its statements can write rows no image holds", at, f)
	}
	return readNames(stmts[0]), nil
}

// viewsRead is a plan (nil: a read run as is) whose statement names
// tables, any of which may be a view: checkViews runs before it.
type viewsRead struct {
	datasource.Statement
	query string
	names []tableRef
}

// viewsReturner is a viewsRead of a plan that returns the application's
// rows itself (datasource.Returner).
type viewsReturner struct{ viewsRead }

// checkingViews returns st checked for views among names (see
// viewsRead); a read run as is (passthrough) becomes a LockingRead, so
// that the proxy hands it to LockKeys on both its Exec and Query paths.
func checkingViews(st datasource.Statement, query string, names []tableRef) datasource.Statement {
	if len(names) == 0 {
		return st
	}
	v := viewsRead{Statement: st, query: query, names: names}
	if _, ok := st.(passthrough); ok {
		v.Statement = nil
	}
	if _, ok := st.(datasource.Returner); ok {
		return viewsReturner{v}
	}
	return v
}

// unchecked returns the plan inside st (see checkingViews) and the names
// it checks.
func unchecked(st datasource.Statement) (datasource.Statement, []tableRef) {
	switch v := st.(type) {
	case viewsRead:
		return v.plan(), v.names
	case viewsReturner:
		return v.plan(), v.names
	}
	return st, nil
}

func (v viewsRead) plan() datasource.Statement {
	if v.Statement == nil {
		return passthrough{}
	}
	return v.Statement
}

func (v viewsRead) Kind() datasource.Kind {
	if v.Statement == nil {
		return datasource.LockingRead
	}
	return v.Statement.Kind()
}

func (v viewsRead) Exec(ctx context.Context, x *datasource.Exec, args []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	if err := v.check(ctx, x); err != nil {
		return nil, err
	}
	if v.Statement == nil {
		return run()
	}
	return v.Statement.Exec(ctx, x, args, run)
}

func (v viewsRead) LockKeys(ctx context.Context, x *datasource.Exec, args []driver.NamedValue) error {
	if err := v.check(ctx, x); err != nil {
		return err
	}
	if v.Statement == nil {
		return nil
	}
	return v.Statement.LockKeys(ctx, x, args)
}

// check runs checkViews; a read run as is that KeepsSession does not
// vouch for (SET @x = (SELECT …)) then drops the connection's values, as
// the proxy drops them before such a statement it does not parse.
func (v viewsRead) check(ctx context.Context, x *datasource.Exec) error {
	if err := checkViews(ctx, x, v.query, v.names); err != nil {
		return err
	}
	if v.Statement == nil && !(Dialect{}).KeepsSession(v.query) {
		x.SetConnValue(sessionVerified{}, nil)
		x.SetConnValue(checkedViews{}, nil)
	}
	return nil
}

func (v viewsReturner) Query(ctx context.Context, x *datasource.Exec, args []driver.NamedValue) (driver.Rows, error) {
	if err := v.check(ctx, x); err != nil {
		return nil, err
	}
	return v.Statement.(datasource.Returner).Query(ctx, x, args)
}
