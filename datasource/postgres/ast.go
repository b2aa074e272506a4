package postgres

import (
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// parse parses text with PostgreSQL's own parser (libpg_query).
func parse(text string) (*pg.ParseResult, error) {
	return pg.Parse(text)
}

// treeVersion is the parse-tree version of the linked parser, which
// Deparse requires on the trees it is given.
var treeVersion = func() int32 {
	res, err := pg.Parse("SELECT 1")
	if err != nil {
		panic("datasource/postgres: the PostgreSQL parser cannot parse SELECT 1: " + err.Error())
	}
	return res.Version
}()

// deparse turns one statement's tree back into PostgreSQL's SQL text.
func deparse(stmt *pg.Node) (string, error) {
	return pg.Deparse(&pg.ParseResult{Version: treeVersion, Stmts: []*pg.RawStmt{{Stmt: stmt}}})
}

// clone deep-copies a parse-tree node (nil stays nil).
func clone[T proto.Message](m T) T {
	return proto.Clone(m).(T)
}

func cloneList(ns []*pg.Node) []*pg.Node {
	out := make([]*pg.Node, len(ns))
	for i, n := range ns {
		out[i] = clone(n)
	}
	return out
}

// walk calls fn for m and every message under it, depth first in field
// order; fn returning false skips the message's children.
func walk(m proto.Message, fn func(proto.Message) bool) {
	if m == nil {
		return
	}
	r := m.ProtoReflect()
	if !r.IsValid() || !fn(m) {
		return
	}
	r.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walk(l.Get(i).Message().Interface(), fn)
			}
		case fd.IsMap():
		default:
			walk(v.Message().Interface(), fn)
		}
		return true
	})
}

// maxParam returns the highest $n under the messages (0: none).
func maxParam(ms ...proto.Message) int {
	n := 0
	for _, m := range ms {
		walk(m, func(x proto.Message) bool {
			if p, ok := x.(*pg.ParamRef); ok && int(p.Number) > n {
				n = int(p.Number)
			}
			return true
		})
	}
	return n
}

// renumber rewrites the placeholders under the messages (already cloned)
// to $1…$k in order of first appearance and returns, for each new number,
// the 0-based index of the statement argument it takes.
func renumber(ms ...proto.Message) []int {
	seen := map[int32]int32{}
	var args []int
	for _, m := range ms {
		walk(m, func(x proto.Message) bool {
			p, ok := x.(*pg.ParamRef)
			if !ok {
				return true
			}
			n, ok := seen[p.Number]
			if !ok {
				n = int32(len(args) + 1)
				seen[p.Number] = n
				args = append(args, int(p.Number)-1)
			}
			p.Number = n
			return true
		})
	}
	return args
}

// stripLocations zeroes every location field, so that two trees of the
// same statement compare equal whatever their spelling.
func stripLocations(m proto.Message) {
	walk(m, func(x proto.Message) bool {
		r := x.ProtoReflect()
		fields := r.Descriptor().Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			if (fd.Name() == "location" || fd.Name() == "stmt_location" || fd.Name() == "stmt_len") && fd.Kind() == protoreflect.Int32Kind {
				r.Clear(fd)
			}
		}
		return true
	})
}

// sameTree reports whether text parses to exactly stmt (locations aside):
// the check that a deparsed statement means what its tree means.
func sameTree(text string, stmt *pg.Node) bool {
	res, err := parse(text)
	if err != nil || len(res.Stmts) != 1 {
		return false
	}
	a, b := clone(res.Stmts[0].Stmt), clone(stmt)
	stripLocations(a)
	stripLocations(b)
	return proto.Equal(a, b)
}

// deparseChecked deparses stmt and checks that the text parses back to
// the same tree.
func deparseChecked(stmt *pg.Node) (string, error) {
	s, err := deparse(stmt)
	if err != nil {
		return "", err
	}
	if !sameTree(s, stmt) {
		return "", fmt.Errorf("the deparsed statement does not parse back to the same tree: %s", s)
	}
	return s, nil
}

// nodeName is the parse-tree type of n ("UpdateStmt").
func nodeName(n *pg.Node) string {
	if n == nil || n.Node == nil {
		return "empty"
	}
	s := fmt.Sprintf("%T", n.Node)
	s = strings.TrimPrefix(s, "*pg_query.Node_")
	return s
}

// quoteIdent double-quotes an identifier, doubling inner quotes.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// str is a String node (a name part).
func str(s string) *pg.Node { return pg.MakeStrNode(s) }

// colRef is the column reference ref.col (ref may be empty).
func colRef(ref, col string) *pg.Node {
	if ref == "" {
		return pg.MakeColumnRefNode([]*pg.Node{str(col)}, -1)
	}
	return pg.MakeColumnRefNode([]*pg.Node{str(ref), str(col)}, -1)
}

// target is a select-list entry val [AS name].
func target(val *pg.Node, name string) *pg.Node {
	if name == "" {
		return pg.MakeResTargetNodeWithVal(val, -1)
	}
	return pg.MakeResTargetNodeWithNameAndVal(name, val, -1)
}

// forUpdateOf is FOR UPDATE OF ref.
func forUpdateOf(ref string) *pg.Node {
	return &pg.Node{Node: &pg.Node_LockingClause{LockingClause: &pg.LockingClause{
		LockedRels: []*pg.Node{pg.MakeSimpleRangeVarNode(ref, -1)},
		Strength:   pg.LockClauseStrength_LCS_FORUPDATE,
		WaitPolicy: pg.LockWaitPolicy_LockWaitBlock,
	}}}
}

// castTo is CAST(n AS typ) for a type name as format_type prints it; the
// type is parsed by PostgreSQL's own parser.
func castTo(n *pg.Node, typ string) (*pg.Node, error) {
	res, err := parse("SELECT NULL::" + typ)
	if err != nil || len(res.Stmts) != 1 {
		return nil, fmt.Errorf("type %q does not parse: %v", typ, err)
	}
	sel := res.Stmts[0].Stmt.GetSelectStmt()
	if sel == nil || len(sel.TargetList) != 1 {
		return nil, fmt.Errorf("type %q does not parse as one type", typ)
	}
	tc := sel.TargetList[0].GetResTarget().GetVal().GetTypeCast()
	if tc == nil {
		return nil, fmt.Errorf("type %q does not parse as a cast", typ)
	}
	return &pg.Node{Node: &pg.Node_TypeCast{TypeCast: &pg.TypeCast{Arg: n, TypeName: tc.TypeName, Location: -1}}}, nil
}

// selectNode wraps a SelectStmt as a node, with the enum fields the
// parser itself sets on a plain SELECT.
func selectNode(s *pg.SelectStmt) *pg.Node {
	if s.LimitOption == pg.LimitOption_LIMIT_OPTION_UNDEFINED {
		s.LimitOption = pg.LimitOption_LIMIT_OPTION_DEFAULT
	}
	if s.Op == pg.SetOperation_SET_OPERATION_UNDEFINED {
		s.Op = pg.SetOperation_SETOP_NONE
	}
	return &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: s}}
}

// rowIn is (cols) IN ((v…), …) over column refs and value rows.
func rowIn(cols []*pg.Node, rows [][]*pg.Node) *pg.Node {
	row := func(items []*pg.Node) *pg.Node {
		if len(items) == 1 {
			return items[0]
		}
		return &pg.Node{Node: &pg.Node_RowExpr{RowExpr: &pg.RowExpr{Args: items, RowFormat: pg.CoercionForm_COERCE_IMPLICIT_CAST, Location: -1}}}
	}
	list := make([]*pg.Node, len(rows))
	for i, r := range rows {
		list[i] = row(r)
	}
	return pg.MakeAExprNode(pg.A_Expr_Kind_AEXPR_IN, []*pg.Node{str("=")}, row(cols), pg.MakeListNode(list), -1)
}
