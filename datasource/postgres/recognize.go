package postgres

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
)

// Recognize parses query with PostgreSQL's own parser and returns its plan
// (see datasource.Dialect). Writes it cannot undo exactly, DDL,
// transaction control in SQL text other than savepoints and anything it
// does not understand are refused with txc.CodeUnsupported before they
// run.
func (Dialect) Recognize(query string) (st datasource.Statement, err error) {
	defer func() {
		if r := recover(); r != nil {
			st, err = nil, datasource.Unsupported(query, "the statement could not be analysed (%v)", r)
		}
	}()
	res, err := parse(query)
	if err != nil {
		return nil, datasource.Unsupported(query, "the statement does not parse as PostgreSQL (%v)", err)
	}
	switch len(res.Stmts) {
	case 0:
		return passthrough{}, nil
	case 1:
	default:
		return nil, datasource.Unsupported(query, "%d statements in one text", len(res.Stmts))
	}
	n := res.Stmts[0].Stmt
	if writingCTE(n) {
		return nil, datasource.Unsupported(query, "a data-modifying WITH query cannot be imaged")
	}
	p := &planner{query: query, nargs: maxParam(n), calls: calleesOf(n)}
	return p.statement(n)
}

// statement plans the one statement n of the text: reads, writes,
// transaction and session statements here, the others by utility.
func (p *planner) statement(n *pg.Node) (datasource.Statement, error) {
	query := p.query
	switch s := n.Node.(type) {
	case *pg.Node_SelectStmt:
		if s.SelectStmt.IntoClause != nil {
			return nil, datasource.Unsupported(query, "SELECT … INTO creates a table")
		}
		if len(s.SelectStmt.LockingClause) > 0 {
			return p.lockingRead(s.SelectStmt)
		}
		if callsSetConfig(n) {
			return sessionStmt{}, nil
		}
		if !p.calls.empty() {
			return callStmt{query: query, calls: p.calls}, nil
		}
		return passthrough{}, nil
	case *pg.Node_InsertStmt:
		return p.insert(s.InsertStmt)
	case *pg.Node_UpdateStmt:
		return p.update(s.UpdateStmt)
	case *pg.Node_DeleteStmt:
		return p.delete(s.DeleteStmt)
	case *pg.Node_MergeStmt:
		return p.merge(s.MergeStmt)
	case *pg.Node_TransactionStmt:
		if op, ok := savepointOps[s.TransactionStmt.Kind]; ok {
			return savepoint(query, op, s.TransactionStmt.SavepointName)
		}
		return nil, datasource.Unsupported(query, "transaction control in SQL text bypasses the proxy (use database/sql's Tx)")
	case *pg.Node_VariableSetStmt:
		switch v := s.VariableSetStmt; {
		case v.Kind == pg.VariableSetKind_VAR_RESET_ALL, sessionSettings[v.Name]:
			return sessionStmt{}, nil
		}
		return passthrough{}, nil
	case *pg.Node_VariableShowStmt, *pg.Node_ListenStmt, *pg.Node_NotifyStmt,
		*pg.Node_UnlistenStmt, *pg.Node_LockStmt, *pg.Node_DeallocateStmt, *pg.Node_FetchStmt, *pg.Node_ClosePortalStmt:
		return passthrough{}, nil
	}
	st, err := utility(query, n)
	if _, ok := st.(passthrough); ok && runsQuery(n) && !p.calls.empty() {
		return callStmt{query: query, calls: p.calls}, nil
	}
	return st, err
}

// runsQuery reports whether utility statement n runs the query it holds:
// a cursor (on FETCH), COPY (…) TO and EXPLAIN ANALYZE do, so the
// functions it calls and the views it reads are checked as a SELECT's
// (see checkCalls).
func runsQuery(n *pg.Node) bool {
	switch s := n.Node.(type) {
	case *pg.Node_DeclareCursorStmt, *pg.Node_CopyStmt:
		return true
	case *pg.Node_ExplainStmt:
		return explainAnalyze(s.ExplainStmt)
	}
	return false
}

// utility passes through cursors, PREPARE, EXPLAIN and COPY that only
// read, and refuses the rest: statements that write without images, and
// DDL.
func utility(query string, n *pg.Node) (datasource.Statement, error) {
	switch s := n.Node.(type) {
	case *pg.Node_DeclareCursorStmt:
		if readOnly(s.DeclareCursorStmt.Query) {
			return passthrough{}, nil
		}
		return nil, datasource.Unsupported(query, "a cursor over a write or a locking read cannot be imaged")
	case *pg.Node_PrepareStmt:
		if readOnly(s.PrepareStmt.Query) {
			return passthrough{}, nil
		}
		return nil, datasource.Unsupported(query, "PREPARE of a write or a locking read: its EXECUTE could not be imaged")
	case *pg.Node_ExplainStmt:
		if readOnly(s.ExplainStmt.Query) || !explainAnalyze(s.ExplainStmt) {
			return passthrough{}, nil
		}
		return nil, datasource.Unsupported(query, "EXPLAIN ANALYZE runs the write it explains, without undo images")
	case *pg.Node_CopyStmt:
		switch {
		case s.CopyStmt.IsFrom:
			return nil, datasource.Unsupported(query, "COPY FROM cannot be imaged")
		case s.CopyStmt.Query != nil && !readOnly(s.CopyStmt.Query):
			return nil, datasource.Unsupported(query, "COPY (a write or a locking read) TO: its writes cannot be imaged")
		}
		return passthrough{}, nil
	case *pg.Node_ExecuteStmt:
		return nil, datasource.Unsupported(query, "EXECUTE of a server-side prepared statement cannot be imaged")
	case *pg.Node_CallStmt, *pg.Node_DoStmt:
		return nil, datasource.Unsupported(query, "a procedure's or code block's writes cannot be imaged")
	case *pg.Node_TruncateStmt:
		return nil, datasource.Unsupported(query, "TRUNCATE cannot be undone")
	}
	return nil, datasource.Unsupported(query, "%s cannot be undone (DDL and other utility statements are refused in a global transaction)", nodeName(n))
}

// writingCTE reports whether a WITH query anywhere in n writes.
func writingCTE(n *pg.Node) bool {
	found := false
	walk(n, func(m proto.Message) bool {
		if c, ok := m.(*pg.CommonTableExpr); ok {
			switch c.Ctequery.GetNode().(type) {
			case *pg.Node_InsertStmt, *pg.Node_UpdateStmt, *pg.Node_DeleteStmt, *pg.Node_MergeStmt:
				found = true
			}
		}
		return !found
	})
	return found
}

// readOnly reports whether n is a SELECT without a top-level locking
// clause or INTO.
func readOnly(n *pg.Node) bool {
	s := n.GetSelectStmt()
	return s != nil && s.IntoClause == nil && len(s.LockingClause) == 0
}

func explainAnalyze(e *pg.ExplainStmt) bool {
	for _, o := range e.Options {
		d := o.GetDefElem()
		if d == nil || d.Defname != "analyze" {
			continue
		}
		if d.Arg == nil {
			return true
		}
		// EXPLAIN (ANALYZE false) and the like: any explicit value but
		// a false one counts.
		if b := d.Arg.GetBoolean(); b != nil {
			return b.Boolval
		}
		if s := d.Arg.GetString_(); s != nil {
			switch s.Sval {
			case "false", "off", "0", "no":
				return false
			}
		}
		return true
	}
	return false
}

// passthrough is a statement run as is: reads without locks, session
// settings.
type passthrough struct{}

func (passthrough) Kind() datasource.Kind { return datasource.Passthrough }
func (passthrough) Exec(ctx context.Context, x *datasource.Exec, args []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	return run()
}
func (passthrough) LockKeys(context.Context, *datasource.Exec, []driver.NamedValue) error { return nil }

// sessionStmt is a statement run as is that may change which table an
// unqualified name means or the settings the images are read under (SET
// or RESET of search_path, ROLE, SESSION AUTHORIZATION, TimeZone and the
// other sessionSettings, RESET ALL, set_config): what table found in the
// local transaction is dropped first (see clearProbes), so that the next
// write or locking read probes the session again. It is a LockingRead
// only so that the proxy hands it to LockKeys on both its Exec and Query
// paths; it locks nothing.
type sessionStmt struct{}

func (sessionStmt) Kind() datasource.Kind { return datasource.LockingRead }
func (sessionStmt) Exec(ctx context.Context, x *datasource.Exec, args []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	clearProbes(x)
	return run()
}
func (sessionStmt) LockKeys(_ context.Context, x *datasource.Exec, _ []driver.NamedValue) error {
	clearProbes(x)
	return nil
}

// clearProbes drops every TxValue of the local transaction but the zone
// its written rows were imaged in (imagedZone), which no session change
// alters.
func clearProbes(x *datasource.Exec) {
	z := x.TxValue(imagedZone{})
	x.ClearTxValues()
	if z != nil {
		x.SetTxValue(imagedZone{}, z)
	}
}

// sessionSettings are the settings table (exec.go) depends on: which
// table a name means, how the statement's text and its images' text read
// (names as the parser folds them: SET TIME ZONE sets "timezone").
var sessionSettings = map[string]bool{"search_path": true, "role": true, "session_authorization": true,
	"standard_conforming_strings": true, "datestyle": true, "intervalstyle": true, "extra_float_digits": true,
	"timezone": true, "client_encoding": true, "bytea_output": true}

// callsSetConfig reports whether n calls set_config (which may set the
// search_path, the TimeZone or another of sessionSettings).
func callsSetConfig(n *pg.Node) bool {
	found := false
	walk(n, func(m proto.Message) bool {
		if f, ok := m.(*pg.FuncCall); ok && len(f.Funcname) > 0 && f.Funcname[len(f.Funcname)-1].GetString_().GetSval() == "set_config" {
			found = true
		}
		return !found
	})
	return found
}

// planner builds the plan of one statement.
type planner struct {
	query string
	nargs int     // the highest $n
	calls callees // what it may run the functions of (calleesOf)
}

// relRef is the written (or locked) table of a statement.
type relRef struct {
	schema, name string
	ref          string // how the statement refers to it: alias, else name
}

func refOf(rv *pg.RangeVar) relRef {
	r := relRef{schema: rv.Schemaname, name: rv.Relname, ref: rv.Relname}
	if rv.Alias != nil && rv.Alias.Aliasname != "" {
		r.ref = rv.Alias.Aliasname
	}
	return r
}

func (r relRef) String() string {
	if r.schema == "" {
		return quoteIdent(r.name)
	}
	return quoteIdent(r.schema) + "." + quoteIdent(r.name)
}

// withoutReturning returns a write without its RETURNING list (the
// executors put their own there), and that list's SQL ("" without one),
// which a write run as a query appends to the executor's (see writer).
// It refuses a RETURNING list that holds the only use of a placeholder:
// without it the placeholder's type could not be determined.
func (p *planner) withoutReturning(stmt *pg.Node, returning *[]*pg.Node) (string, *pg.Node, error) {
	ret := ""
	if len(*returning) > 0 {
		before := params(stmt)
		saved := *returning
		*returning = nil
		after := params(stmt)
		*returning = saved
		if len(after) != len(before) {
			return "", nil, datasource.Unsupported(p.query, "a placeholder is used only in the RETURNING list")
		}
		var err error
		if ret, err = targetListText(saved); err != nil {
			return "", nil, datasource.Unsupported(p.query, "its RETURNING list cannot be rebuilt: %v", err)
		}
		c := clone(stmt)
		switch s := c.Node.(type) {
		case *pg.Node_InsertStmt:
			s.InsertStmt.ReturningList = nil
		case *pg.Node_UpdateStmt:
			s.UpdateStmt.ReturningList = nil
		case *pg.Node_DeleteStmt:
			s.DeleteStmt.ReturningList = nil
		case *pg.Node_MergeStmt:
			s.MergeStmt.ReturningList = nil
		}
		stmt = c
	}
	if _, err := deparseChecked(stmt); err != nil {
		return "", nil, datasource.Unsupported(p.query, "the statement cannot be rebuilt: %v", err)
	}
	return ret, stmt, nil
}

// targetListText is the SQL of a target list (a RETURNING list), as
// PostgreSQL's deparser writes it after SELECT.
func targetListText(list []*pg.Node) (string, error) {
	text, err := deparseChecked(selectNode(&pg.SelectStmt{TargetList: cloneList(list)}))
	if err != nil {
		return "", err
	}
	const prefix = "SELECT "
	if !strings.HasPrefix(text, prefix) {
		return "", fmt.Errorf("the target list deparses as %q", text)
	}
	return text[len(prefix):], nil
}

// rebuild deparses stmt (a write without RETURNING) with its target table
// qualified by m's schema (see qualify), followed by " RETURNING " and
// returning.
func rebuild(query string, stmt *pg.Node, m *datasource.Table, returning string) (string, error) {
	c := clone(stmt)
	switch s := c.Node.(type) {
	case *pg.Node_InsertStmt:
		s.InsertStmt.Relation = qualify(s.InsertStmt.Relation, m)
		s.InsertStmt.Relation.Inh = true // INSERT INTO takes no ONLY
	case *pg.Node_UpdateStmt:
		s.UpdateStmt.Relation = qualify(s.UpdateStmt.Relation, m)
	case *pg.Node_DeleteStmt:
		s.DeleteStmt.Relation = qualify(s.DeleteStmt.Relation, m)
	case *pg.Node_MergeStmt:
		s.MergeStmt.Relation = qualify(s.MergeStmt.Relation, m)
	}
	text, err := deparseChecked(c)
	if err != nil {
		return "", txc.Errorf(txc.CodeUnsupported, "datasource/postgres: rebuilding %s: %v", datasource.Shorten(query), err)
	}
	if returning == "" {
		return text, nil
	}
	return text + " RETURNING " + returning, nil
}

// params returns the set of $n under m.
func params(m proto.Message) map[int32]bool {
	out := map[int32]bool{}
	walk(m, func(x proto.Message) bool {
		if pr, ok := x.(*pg.ParamRef); ok {
			out[pr.Number] = true
		}
		return true
	})
	return out
}

// pure reports whether expression n is made only of constants,
// placeholders, casts and operators (and column references when cols is
// set): it gives the same value however often it is evaluated.
func pure(n *pg.Node, cols bool) bool {
	ok := true
	walk(n, func(m proto.Message) bool {
		switch m.(type) {
		case *pg.Node, *pg.A_Const, *pg.ParamRef, *pg.TypeCast, *pg.TypeName, *pg.A_Expr, *pg.BoolExpr, *pg.NullTest,
			*pg.String, *pg.Integer, *pg.Float, *pg.Boolean, *pg.BitString, *pg.List, *pg.CollateClause:
		case *pg.ColumnRef:
			ok = ok && cols
		default:
			ok = false
		}
		return ok
	})
	return ok
}

func describe(n *pg.Node) string {
	if s, err := deparse(selectNode(&pg.SelectStmt{TargetList: []*pg.Node{target(n, "")}})); err == nil {
		return s[len("SELECT "):]
	}
	return fmt.Sprint(nodeName(n))
}
