package mysql

import "github.com/pingcap/tidb/pkg/parser/ast"

// clauses are the texts of the parts of a statement that choose its rows:
// FROM (the table references), WHERE, and ORDER BY and LIMIT (empty when
// absent). The image queries are built from them.
type clauses struct {
	from, where, order, limit frag
}

// rowClauses renders a statement's row-choosing parts; a part that cannot
// be rendered exactly refuses the statement (mustFragment). order and
// limit may be nil.
func (p *planner) rowClauses(from *ast.TableRefsClause, where ast.ExprNode, order *ast.OrderByClause, limit *ast.Limit) (c clauses, err error) {
	if c.from, err = p.mustFragment(fragFrom, from); err != nil {
		return c, err
	}
	if c.where, err = p.mustFragment(fragExpr, where); err != nil {
		return c, err
	}
	if order != nil {
		if c.order, err = p.mustFragment(fragOrder, order); err != nil {
			return c, err
		}
	}
	if limit != nil {
		if c.limit, err = p.mustFragment(fragLimit, limit); err != nil {
			return c, err
		}
	}
	return c, nil
}
