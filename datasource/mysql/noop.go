package mysql

import (
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/txcio/txc/datasource"
)

// ON DUPLICATE KEY UPDATE may not assign a key column (the rows met would
// move to keys no image looks up), but an assignment that provably leaves
// the column as it is is no assignment: GORM saves every association
// with `ON DUPLICATE KEY UPDATE id=id` (a do-nothing upsert).

// selfAssigned reports whether a, an ON DUPLICATE KEY UPDATE assignment
// of the table ref, assigns a column its own value (`c = c`, `t.c = t.c`,
// `c = (c)`): a no-op, which leaves the row as it is (the server counts it
// unchanged). Only a column named the same on both sides, each unqualified
// or qualified by the table's own name (and schema, when the statement
// names one), is.
func selfAssigned(a *ast.Assignment, ref tableRef) bool {
	c, ok := unparen(a.Expr).(*ast.ColumnNameExpr)
	return ok && sameColumn(a.Column, c.Name, ref)
}

// valuesAssigned reports whether a assigns a column VALUES(itself) (see
// assignedColumns).
func valuesAssigned(a *ast.Assignment, ref tableRef) bool {
	v, ok := unparen(a.Expr).(*ast.ValuesExpr)
	return ok && v.Column != nil && sameColumn(a.Column, v.Column.Name, ref)
}

// unparen returns e without the parentheses around it.
func unparen(e ast.ExprNode) ast.ExprNode {
	for {
		p, ok := e.(*ast.ParenthesesExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

// sameColumn reports whether a and b name one column of the table ref,
// each unqualified or qualified by its name (and schema, if ref has one).
func sameColumn(a, b *ast.ColumnName, ref tableRef) bool {
	own := func(n *ast.ColumnName) bool {
		if n.Schema.O != "" && (ref.schema == "" || !strings.EqualFold(n.Schema.O, ref.schema)) {
			return false
		}
		return n.Table.O == "" || strings.EqualFold(n.Table.O, ref.name)
	}
	return strings.EqualFold(a.Name.O, b.Name.O) && own(a) && own(b)
}

// assignedColumns returns the columns the ON DUPLICATE KEY UPDATE assigns
// on table m: all of ip.odku but those assigned VALUES(themselves) where
// that is a no-op. It is one for a primary-key column of a table without
// other unique keys (a row is met on its primary key alone, so the new
// row's value equals the stored one) whose type stores equal values as
// the same bytes (integers, DECIMAL, binary strings). Elsewhere it is not:
// met on another unique key, the row would take the new row's key, and a
// case-insensitive or PAD SPACE collation calls 'A' and 'a ' equal to 'a'.
func (ip *insertPlan) assignedColumns(m *datasource.Table) []string {
	if len(ip.odkuValues) == 0 || len(m.Unique) > 0 {
		return ip.odku
	}
	types := meta(m).types
	return slices.DeleteFunc(slices.Clone(ip.odku), func(c string) bool {
		return m.IsPK(c) && slices.Contains(ip.odkuValues, c) && exactType(types[strings.ToLower(c)])
	})
}

// exactType reports whether a column of type t stores values that compare
// equal as the same bytes.
func exactType(t colType) bool {
	if _, _, ok := t.intRange(); ok {
		return true
	}
	switch t.data {
	case "decimal", "binary", "varbinary":
		return true
	}
	return false
}
