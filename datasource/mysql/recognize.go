package mysql

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/test_driver" // the parser's value and placeholder nodes

	"github.com/txcio/txc/datasource"
)

var parsers = sync.Pool{New: func() any { return parser.New() }}

// parse parses text as MySQL statements, string literals without an
// introducer left without a character set (see connectionLiterals). A panic inside the parser is
// turned into an error: no input may crash the proxy.
func parse(text string) (stmts []ast.StmtNode, err error) {
	p := parsers.Get().(*parser.Parser)
	defer func() {
		if r := recover(); r != nil {
			stmts, err = nil, fmt.Errorf("parser panic: %v", r)
			return // a parser that panicked is not reused
		}
		parsers.Put(p)
	}()
	stmts, _, err = p.Parse(text, "", "")
	for _, s := range stmts {
		s.Accept(connectionLiterals{})
	}
	return stmts, err
}

// Recognize parses query and returns its plan (see datasource.Dialect).
func (d Dialect) Recognize(query string) (st datasource.Statement, err error) {
	defer func() {
		if r := recover(); r != nil {
			st, err = nil, datasource.Unsupported(query, "the statement could not be analysed (%v)", r)
		}
	}()
	if c := executableComment(query); c != "" {
		return nil, datasource.Unsupported(query, "an executable comment %s… runs on the server but is not seen by the proxy's parser", c)
	}
	stmts, err := parse(query)
	if err != nil {
		if st, ok, rerr := d.returning(query); ok {
			return st, rerr
		}
		return nil, datasource.Unsupported(query, "the statement does not parse as MySQL (%v)", firstLine(err.Error()))
	}
	if len(stmts) != 1 {
		return nil, datasource.Unsupported(query, "%d statements in one text", len(stmts))
	}
	if f := storedFunctionCall(stmts[0], query); f != "" {
		return nil, datasource.Unsupported(query, "it calls %s, which the server may resolve to a stored function: its statements can write rows no image holds", f)
	}
	p := &planner{query: query, stmt: stmts[0], rowsMode: d.rows}
	p.indexArgs()
	if st, err = p.statement(); err != nil {
		return nil, err
	}
	switch stmts[0].(type) {
	case *ast.SelectStmt, *ast.SetOprStmt, *ast.InsertStmt, *ast.UpdateStmt, *ast.DeleteStmt, *ast.SetStmt:
		return checkingViews(st, query, readNames(stmts[0])), nil // see checkViews
	}
	return st, nil
}

// statement plans the one statement of the text.
func (p *planner) statement() (datasource.Statement, error) {
	query := p.query
	switch s := p.stmt.(type) {
	case *ast.SelectStmt:
		if s.LockInfo == nil || !isForUpdate(s.LockInfo.LockType) {
			return passthroughUnlocked(query, s)
		}
		return p.lockingRead(s)
	case *ast.UseStmt:
		return nil, datasource.Unsupported(query, "USE inside a global transaction or global lock would move images and the undo log to another database than the resource's")
	case *ast.SetStmt:
		for _, v := range s.Variables {
			if strings.EqualFold(v.Name, "sql_mode") {
				return nil, datasource.Unsupported(query, "changing sql_mode inside a global transaction or global lock can change how the server reads the statements the proxy parsed")
			}
			if charsetVariable(v.Name) {
				return nil, datasource.Unsupported(query, "changing the connection's character set inside a global transaction or global lock could make its images lose characters")
			}
		}
		return passthroughUnlocked(query, s)
	case *ast.SetOprStmt:
		return passthroughUnlocked(query, s)
	case *ast.ShowStmt, *ast.ExplainStmt:
		return passthrough{}, nil
	case *ast.InsertStmt:
		return p.insert(s)
	case *ast.UpdateStmt:
		return p.update(s)
	case *ast.DeleteStmt:
		return p.delete(s)
	case *ast.LoadDataStmt:
		return nil, datasource.Unsupported(query, "LOAD DATA cannot be imaged")
	case *ast.SavepointStmt:
		return savepoint(query, datasource.SetSavepoint, s.Name)
	case *ast.ReleaseSavepointStmt:
		return savepoint(query, datasource.ReleaseSavepoint, s.Name)
	case *ast.RollbackStmt:
		if s.SavepointName != "" {
			return savepoint(query, datasource.RollbackToSavepoint, s.SavepointName)
		}
		return nil, datasource.Unsupported(query, "transaction control in SQL text bypasses the proxy (use database/sql's Tx)")
	case *ast.BeginStmt, *ast.CommitStmt:
		return nil, datasource.Unsupported(query, "transaction control in SQL text bypasses the proxy (use database/sql's Tx)")
	case ast.DDLNode:
		return nil, datasource.Unsupported(query, "DDL cannot be undone")
	case *ast.CallStmt:
		return nil, datasource.Unsupported(query, "a stored procedure's writes cannot be imaged")
	}
	return nil, datasource.Unsupported(query, "%s statements are not understood by AT mode", kindName(p.stmt))
}

// charsetVariable reports whether setting variable name (SET NAMES and SET
// CHARACTER SET among them) changes a character set the session reads or
// writes text in.
func charsetVariable(name string) bool {
	switch strings.ToLower(name) {
	case strings.ToLower(ast.SetNames), strings.ToLower(ast.SetCharset), "character_set_client", "character_set_connection", "character_set_results", "collation_connection":
		return true
	}
	return false
}

// executableComment returns the start of the first MySQL (/*!…*/) or
// MariaDB (/*M!…*/) executable comment of query, or "". The TiDB parser
// does not expand them the way the server does, so the proxy would image
// another statement than the one that runs. The text is scanned whole,
// string literals included: a false match only refuses.
func executableComment(query string) string {
	for i := strings.Index(query, "/*"); i >= 0; {
		rest := query[i+2:]
		if strings.HasPrefix(rest, "!") || strings.HasPrefix(rest, "M!") || strings.HasPrefix(rest, "m!") {
			return query[i:min(len(query), i+5)]
		}
		j := strings.Index(rest, "/*")
		if j < 0 {
			break
		}
		i += 2 + j
	}
	return ""
}

func kindName(n ast.Node) string {
	s := fmt.Sprintf("%T", n)
	s = strings.TrimPrefix(s, "*ast.")
	return strings.TrimSuffix(s, "Stmt")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func isForUpdate(t ast.SelectLockType) bool {
	switch t {
	case ast.SelectLockForUpdate, ast.SelectLockForUpdateNoWait, ast.SelectLockForUpdateWaitN, ast.SelectLockForUpdateSkipLocked:
		return true
	}
	return false
}

// planner builds the plan of one statement.
type planner struct {
	query string
	stmt  ast.StmtNode
	args  map[*test_driver.ParamMarkerExpr]int // marker → statement argument index
	nargs int
	// rowsMode is what the connections' RowsAffected counts.
	rowsMode rowsMode
}

// markers returns the placeholders under n in visiting order.
func markers(n ast.Node) []*test_driver.ParamMarkerExpr {
	c := &collector{}
	n.Accept(c)
	return c.out
}

type collector struct {
	out []*test_driver.ParamMarkerExpr
}

func (c *collector) Enter(n ast.Node) (ast.Node, bool) {
	if m, ok := n.(*test_driver.ParamMarkerExpr); ok {
		c.out = append(c.out, m)
	}
	return n, false
}
func (c *collector) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// indexArgs numbers the statement's placeholders by their position in the
// text: the n-th '?' takes the n-th argument.
func (p *planner) indexArgs() {
	ms := markers(p.stmt)
	slices.SortFunc(ms, func(a, b *test_driver.ParamMarkerExpr) int { return a.Offset - b.Offset })
	p.args = make(map[*test_driver.ParamMarkerExpr]int, len(ms))
	for i, m := range ms {
		p.args[m] = i
	}
	p.nargs = len(ms)
}

// frag is a piece of generated SQL and, for each '?' in it in textual
// order, the index of the statement argument it takes.
type frag struct {
	sql  string
	args []int
}

func (f frag) empty() bool { return f.sql == "" }

// fragment kinds: how a restored piece is wrapped to be parsed again.
type fragKind int

const (
	fragExpr  fragKind = iota // an expression
	fragOrder                 // ORDER BY …
	fragLimit                 // LIMIT …
	fragFrom                  // table references
	fragQuery                 // a whole SELECT
)

// restoreFlags write restored text as the server reads it in the
// sessions the proxy works in: a literal's backslashes doubled, since
// the server reads a backslash in '…' as an escape (sessions with
// sql_mode NO_BACKSLASH_ESCAPES are refused, see misparsed), and quotes
// doubled; every other byte of a literal is written as it is, which the
// server reads as itself (NUL, Ctrl-Z, line ends and bytes that are not
// UTF-8 included). Identifiers are back-quoted with backquotes doubled.
const restoreFlags = format.DefaultRestoreFlags | format.RestoreStringEscapeBackslash

// connectionLiterals clears the character set the parser gives every
// string literal written without an introducer, so that it is restored
// without one: the server reads such a literal in the connection's
// character set and collation (utf8mb4, see verifiedSession, and
// whichever collation the connection chose), where an introducer
// _utf8mb4 would give it utf8mb4's default collation, and comparisons of
// literals could then differ between the statement and its image query.
// A literal written with an introducer keeps it.
type connectionLiterals struct{}

func (connectionLiterals) Enter(n ast.Node) (ast.Node, bool) {
	if v, ok := n.(*test_driver.ValueExpr); ok && v.Kind() == test_driver.KindString && v.Type.GetFlag()&mysql.UnderScoreCharsetFlag == 0 {
		v.Type.SetCharset("")
		v.Type.SetCollate("")
	}
	return n, false
}
func (connectionLiterals) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func restore(n ast.Node) (string, error) {
	var sb strings.Builder
	if err := n.Restore(format.NewRestoreCtx(restoreFlags, &sb)); err != nil {
		return "", err
	}
	return sb.String(), nil
}

// fragment restores n as SQL text and maps its placeholders to statement
// arguments. Restoring may reorder parts of an expression, so the text is
// parsed again and the placeholders of both trees, visited in the same
// order, are paired; the textual order of the new ones gives the order of
// the arguments.
func (p *planner) fragment(kind fragKind, n ast.Node) (frag, error) {
	if n == nil {
		return frag{}, nil
	}
	text, err := restore(n)
	if err != nil {
		return frag{}, err
	}
	orig := markers(n)
	if len(orig) == 0 {
		return frag{sql: text}, nil
	}
	var wrapped string
	switch kind {
	case fragExpr:
		wrapped = "SELECT " + text
	case fragOrder, fragLimit:
		wrapped = "SELECT 1 " + text
	case fragFrom:
		wrapped = "SELECT 1 FROM " + text
	case fragQuery:
		wrapped = text
	}
	stmts, err := parse(wrapped)
	if err != nil || len(stmts) != 1 {
		return frag{}, fmt.Errorf("restored text does not parse again: %v", err)
	}
	sel, ok := stmts[0].(*ast.SelectStmt)
	if !ok && kind != fragQuery {
		return frag{}, fmt.Errorf("restored text parses as %T", stmts[0])
	}
	var sub ast.Node = stmts[0]
	switch kind {
	case fragExpr:
		sub = sel.Fields.Fields[0].Expr
	case fragOrder:
		sub = sel.OrderBy
	case fragLimit:
		sub = sel.Limit
	case fragFrom:
		sub = sel.From
	}
	again := markers(sub)
	if len(again) != len(orig) {
		return frag{}, fmt.Errorf("restored text has %d placeholders, the original %d", len(again), len(orig))
	}
	idx := make([]int, len(again))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return again[a].Offset - again[b].Offset })
	f := frag{sql: text, args: make([]int, len(orig))}
	for rank, i := range idx {
		f.args[rank] = p.args[orig[i]]
	}
	return f, nil
}

// mustFragment is fragment with errors turned into a refusal.
func (p *planner) mustFragment(kind fragKind, n ast.Node) (frag, error) {
	f, err := p.fragment(kind, n)
	if err != nil {
		return frag{}, datasource.Unsupported(p.query, "part of the statement cannot be restored exactly (%v)", err)
	}
	return f, nil
}

// tableRef is a base table of a statement.
type tableRef struct {
	schema, name string
	alias        string // the name the statement uses for it
}

// ref returns how the statement's other clauses name the table.
func (t tableRef) ref() string {
	if t.alias != "" {
		return t.alias
	}
	return t.name
}

// tables lists the base tables of a FROM/table-references clause
// (subqueries and derived tables are skipped: they are not written).
func tables(n ast.ResultSetNode) []tableRef {
	var out []tableRef
	var walk func(n ast.ResultSetNode)
	walk = func(n ast.ResultSetNode) {
		switch x := n.(type) {
		case *ast.Join:
			if x.Left != nil {
				walk(x.Left)
			}
			if x.Right != nil {
				walk(x.Right)
			}
		case *ast.TableSource:
			if tn, ok := x.Source.(*ast.TableName); ok {
				out = append(out, tableRef{schema: tn.Schema.O, name: tn.Name.O, alias: x.AsName.O})
			} else if j, ok := x.Source.(*ast.Join); ok {
				walk(j)
			}
		case *ast.TableName:
			out = append(out, tableRef{schema: x.Schema.O, name: x.Name.O})
		}
	}
	walk(n)
	return out
}

// passthrough runs as is.
type passthrough struct{ datasource.Statement }

func (passthrough) Kind() datasource.Kind { return datasource.Passthrough }
