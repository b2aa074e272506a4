package mysql

import (
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/txcio/txc/datasource"
)

// A locking read (FOR UPDATE) is checked against the global locks of
// other global transactions (it waits while one holds a row it reads)
// only as a statement of its own (datasource.LockingRead). Nested in a
// subquery, a derived table, a UNION or a SET, it ran as a plain read:
// it returned a row another global transaction had written and held,
// which that one's rollback could still undo (found by a test). Such a
// statement is refused instead.

// nestedLock walks a statement for a locking read.
type nestedLock struct{ found bool }

func (n *nestedLock) Enter(node ast.Node) (ast.Node, bool) {
	if s, ok := node.(*ast.SelectStmt); ok && s.LockInfo != nil && isForUpdate(s.LockInfo.LockType) {
		n.found = true
	}
	return node, n.found
}

func (n *nestedLock) Leave(node ast.Node) (ast.Node, bool) { return node, true }

// passthroughUnlocked is the plan of stmt, run as is, when it holds no
// locking read (see above).
func passthroughUnlocked(query string, stmt ast.Node) (datasource.Statement, error) {
	w := &nestedLock{}
	stmt.Accept(w)
	if w.found {
		return nil, datasource.Unsupported(query, "a locking read (FOR UPDATE) in a subquery, a derived table, a UNION or a SET is not checked against the row locks of other global transactions; run it as a SELECT … FOR UPDATE of its own")
	}
	return passthrough{}, nil
}
